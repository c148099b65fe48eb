"""Where webhooks may be sent: ``http(s)`` URLs, and never into the shop's own network
unless the shop allows it (``mercato.webhooks.allow_private_targets``: development,
tests, an ERP on the LAN) — a webhook URL typed by an admin must not become a way to
reach internal services (SSRF).

Link-local addresses are refused whatever the setting: 169.254.0.0/16 holds the cloud's
metadata service (169.254.169.254, instance credentials) and fe80::/10 its IPv6 twin.
The address is checked when the endpoint is saved and again before every POST (DNS may
have changed meanwhile); redirects are never followed.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

MAX_LENGTH = 2000


class TargetRefused(ValueError):
    """The URL cannot receive webhooks; the message says why, for the admin."""


def check_syntax(url: str) -> str:
    """``url`` cleaned, or ``TargetRefused``: an absolute http(s) URL with a host."""
    url = url.strip()
    if not url:
        raise TargetRefused("Please give the URL that receives the events.")
    if len(url) > MAX_LENGTH:
        raise TargetRefused(f"The URL is longer than {MAX_LENGTH} characters.")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise TargetRefused("The URL contains spaces or control characters.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port out of range)
    except ValueError:
        raise TargetRefused("This is not a valid URL.") from None
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("Webhooks are sent over http:// or https:// only.")
    if not parts.hostname:
        raise TargetRefused("The URL needs a host name, like https://erp.example.com/hooks.")
    if parts.username or parts.password:
        raise TargetRefused("Leave credentials out of the URL: each delivery is signed.")
    return url


def _refused(address: ipaddress.IPv4Address | ipaddress.IPv6Address, allow_private: bool) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    address = mapped or address
    if address.is_link_local:
        return True
    internal = (
        address.is_private
        or address.is_loopback
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )
    return internal and not allow_private


def check_target(url: str, allow_private: bool) -> None:
    """``TargetRefused`` unless every address ``url``'s host resolves to may be sent to."""
    parts = urlsplit(url)
    try:
        found = socket.getaddrinfo(
            parts.hostname, parts.port or (443 if parts.scheme == "https" else 80),
            proto=socket.IPPROTO_TCP,
        )  # fmt: skip
    except (socket.gaierror, UnicodeError):
        raise TargetRefused(f"The host {parts.hostname} cannot be found.") from None
    for *_, sockaddr in found:
        address = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
        if _refused(address, allow_private):
            raise TargetRefused(
                f"{parts.hostname} is an address inside the shop's own network ({address}): "
                "webhooks go to public addresses only."
            )

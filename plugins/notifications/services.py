"""Email for events: Jinja2 templates rendered to multipart text + HTML, sent over SMTP.

For the event ``order.placed`` the templates are ``notifications/emails/order_placed``
``.txt.jinja2``, whose first line is ``Subject: …``, and ``.html.jinja2``. They see the
event's payload as variables, ``shop`` (``name``, ``logo_url``), ``subject`` (in the
HTML), and the filter ``money`` for Money JSON (``{{ total|money }}``). Undefined
variables are errors: a template that does not fit its payload is reported by the
outbox, not sent half-empty.
"""

import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    select_autoescape,
)

from mercato import Money

log = logging.getLogger(__name__)

FOLDER = "notifications/emails"


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str


class EmailTemplates:
    """The email templates: the store owner's folders first, then the plugin's."""

    def __init__(self, owner_folders: list[str], shop_name: str, logo_url: str, locale: str):
        loaders = [FileSystemLoader(folder) for folder in owner_folders]
        loaders.append(PackageLoader("mercato_notifications", "templates"))
        self.env = Environment(
            loader=ChoiceLoader(loaders),
            autoescape=select_autoescape(enabled_extensions=("html.jinja2",)),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["money"] = lambda value: Money(**value).format(locale)
        self.shop = {"name": shop_name, "logo_url": logo_url}

    def render(self, event: str, payload: dict) -> Email | None:
        """The email for ``event``, or None when no template exists for it."""
        name = f"{FOLDER}/{event.replace('.', '_')}"
        try:
            text_template = self.env.get_template(f"{name}.txt.jinja2")
        except TemplateNotFound:
            return None
        # A text template without its HTML pair is the owner's mistake: report it.
        html_template = self.env.get_template(f"{name}.html.jinja2")
        variables = {**payload, "event": event, "shop": self.shop}
        first_line, _, text = text_template.render(variables).lstrip().partition("\n")
        if not first_line.startswith("Subject:"):
            raise TemplateError(f"{text_template.name} must begin with a 'Subject: …' line")
        # One line, whatever the template did: a newline in a header would be refused.
        subject = " ".join(first_line.removeprefix("Subject:").split())
        return Email(
            subject=subject,
            text=text.lstrip("\n"),
            html=html_template.render({**variables, "subject": subject}),
        )


@dataclass(frozen=True)
class SMTPSender:
    host: str
    port: int
    security: str
    username: str
    password: str
    timeout: float

    def send(self, message: EmailMessage) -> None:
        if self.security == "tls":
            client = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with client:
            if self.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if self.username:
                client.login(self.username, self.password)
            client.send_message(message)


class LogSender:
    """Writes the email's headers and text to the log (``transport = log``)."""

    def send(self, message: EmailMessage) -> None:
        # A record per line: Mercato's loggers escape control characters (no forged log
        # lines), so a multi-line message would arrive as one unreadable line.
        log.info("email not sent (mercato.notifications.transport = log)")
        log.info("To: %s", message["To"])
        log.info("Subject: %s", message["Subject"])
        for line in message.get_body(("plain",)).get_content().splitlines():
            log.info("| %s", line)


class Mailer:
    """What ``mercato_notify`` does: render the event's email and send it."""

    def __init__(
        self, templates: EmailTemplates, sender: SMTPSender | LogSender, from_address: str
    ):
        self.templates = templates
        self.sender = sender
        self.from_address = from_address

    @classmethod
    def from_settings(cls, settings: dict) -> "Mailer":
        own = settings["mercato.notifications"]
        folders = [own["templates_dir"], settings.get("mercato.templates_dir")]
        templates = EmailTemplates(
            owner_folders=[folder for folder in folders if folder],
            shop_name=settings["mercato.shop_name"],
            logo_url=own["logo_url"],
            locale=settings["mercato.locale"],
        )
        if own["transport"] == "log":
            return cls(templates, LogSender(), own["from_address"])
        sender = SMTPSender(
            host=own["host"],
            port=own["port"],
            security=own["security"],
            username=own["username"],
            password=own["password"],
            timeout=own["timeout"],
        )
        return cls(templates, sender, own["from_address"])

    def notify(self, event: str, payload: dict) -> None:
        """Send the email for ``event``; nothing for an event without templates.

        Raises on a template error or an SMTP failure, so the outbox records it and
        retries.
        """
        rendered = self.templates.render(event, payload)
        if rendered is None:
            return
        recipient = payload.get("email")
        if not recipient:
            raise ValueError(f"{event} has an email template but its payload has no 'email'")
        self.sender.send(self.message(rendered, recipient))

    def message(self, rendered: Email, recipient: str) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = rendered.subject
        message["From"] = formataddr((self.templates.shop["name"], self.from_address))
        message["To"] = recipient
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = make_msgid(domain=self.from_address.rpartition("@")[2])
        message.set_content(rendered.text)
        message.add_alternative(rendered.html, subtype="html")
        return message

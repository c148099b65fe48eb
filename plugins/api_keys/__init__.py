"""Mercato's API keys plugin: keys for clients that are not browsers (an ERP, a
fulfilment service, accounting software) to call the staff JSON API.

Admins create a key in the admin (a name, the staff member it acts as, its scopes);
its secret (``mk_live_…``) is shown once and stored only as a SHA-256 hash. A client
sends it as ``Authorization: Bearer mk_live_…`` on ``/api/`` paths only; the key then
replaces the session cookie (and its CSRF token). A key allows what its owner's role
allows AND its scopes grant (``scopes.SCOPES``); a revoked or unknown key gets 401.

``mercato_api_keys.hooks`` is its entry point (``api_keys``).
"""

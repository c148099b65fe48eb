"""Accounts: registration, login and logout, passwords (change and emailed reset),
profile and addresses, and the ``mercato user`` command.

``models`` (User, Address), ``passwords`` (bcrypt over a pre-hash), ``services`` (what
accounts do, for views and the CLI), ``schemas`` (colander forms), ``views`` (pages
and the JSON login), ``cli``. Who is logged in and what they may do is
``mercato.security``.

Settings: ``mercato.accounts.bcrypt_rounds`` (12), ``mercato.accounts.reset_token_ttl``
(3600 seconds), ``mercato.public_url`` (the shop's address in emails).
"""


def includeme(config):
    # Imported here: services needs mercato.security, which imports this package's models.
    from .services import read_settings

    config.registry.mercato_accounts = read_settings(config.registry.settings)
    config.add_route("login", "/login")
    config.add_route("logout", "/logout")
    config.add_route("register", "/register")
    config.add_route("password_forgot", "/password/forgot")
    config.add_route("password_reset", "/password/reset/{token}")
    config.add_route("account", "/account")
    config.add_route("account_password", "/account/password")
    config.add_route("address_new", "/account/addresses/new")
    config.add_route("address_edit", r"/account/addresses/{id:\d+}/edit")
    config.add_route("address_delete", r"/account/addresses/{id:\d+}/delete")
    config.add_route("api_login", "/api/session/login")
    config.add_route("api_logout", "/api/session/logout")
    config.add_route("api_account", "/api/account")
    config.scan(".views")

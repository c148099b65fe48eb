"""The account pages' routes and views."""


def includeme(config):
    config.add_route("login", "/login")
    config.add_route("logout", "/logout")
    config.add_route("register", "/register")
    config.add_route("password_forgot", "/password/forgot")
    config.add_route("password_reset", "/password/reset/{token}")
    config.add_route("account", "/account")
    config.add_route("account_password", "/account/password")
    config.add_route("account_erase", "/account/erase")
    config.add_route("address_new", "/account/addresses/new")
    config.add_route("address_edit", r"/account/addresses/{id:\d+}/edit")
    config.add_route("address_delete", r"/account/addresses/{id:\d+}/delete")
    config.add_route("api_login", "/api/session/login")
    config.add_route("api_logout", "/api/session/logout")
    config.add_route("api_account", "/api/account")
    config.scan(".views")

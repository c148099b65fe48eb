"""The plugin's staff pages under /admin (it has no route of its own under /api)."""


def includeme(config):
    config.add_route("api_keys_admin", "/admin/api-keys")
    # At most 9 digits: an id beyond PostgreSQL's integer is a 404, not a database error.
    config.add_route("api_keys_admin_revoke", r"/admin/api-keys/{id:\d{1,9}}/revoke")
    config.scan("mercato_api_keys.views")

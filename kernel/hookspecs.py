"""The contract between the Mercato kernel and its plugins.

Every hook a plugin may implement is specified here, grouped by area. Hooks are always
called with keyword arguments, so an implementation may accept any subset of the
parameters, in any order. Specifications only ever gain parameters.

How results combine is chosen per hook:

* *firstresult* hooks pick one provider: they stop at the first non-None result.
* the other hooks collect contributions: a list of every non-None result, in the order
  of ``mercato.plugins`` (``tryfirst``/``trylast`` move an implementation to an edge).
"""

from typing import NamedTuple

import pluggy

PROJECT = "mercato"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ---------------------------------------------------------------------------
# Wiring
# ---------------------------------------------------------------------------


@hookspec
def mercato_settings_schema():
    """Return a ``colander.MappingSchema`` for this plugin's settings.

    Called once at start-up, for each enabled plugin on its own. The schema validates
    the ini keys ``mercato.<plugin>.<name>``; the result is in
    ``registry.settings["mercato.<plugin>"]`` as a dict. A node may carry ``env="NAME"``
    (the environment variable that overrides it) and ``secret=True`` (masked wherever
    settings are shown). A missing or invalid value stops the app from starting.
    """


@hookspec
def mercato_configure(config):
    """Configure Pyramid: routes, views, templates, static assets, request methods.

    Called once at start-up for every enabled plugin, in config order, after the kernel
    has configured itself and committed, so a plugin may use every kernel directive
    and the essential ops plugin's (``add_csp_source``), which configures first.
    """


@hookspec
def mercato_migration_folders():
    """Return the folder (or a list of folders) of this plugin's alembic revisions.

    All results are added to alembic's version locations; each plugin's revisions form
    their own branch, labelled with the plugin name, and ``mercato migrate`` upgrades
    every head.
    """


@hookspec
def mercato_cli(subparsers):
    """Add commands to the ``mercato`` CLI.

    ``subparsers`` is an ``argparse`` sub-parser collection. A command's parser sets
    ``func`` through ``set_defaults(func=...)``; the function receives ``(args, env)``
    where ``env`` holds ``settings`` (resolved, with the plugins' own), ``hooks`` and
    ``plugin_manager``; ``env.app()`` builds the WSGI app when a command needs it. All
    implementations are called.
    """


@hookspec
def mercato_demo_servers(data_dir):
    """Start the stand-in servers this plugin needs for ``mercato demo``.

    Called once by ``mercato demo``, for every enabled plugin, before the settings are
    read: the demo needs no keys and no network. ``data_dir`` is a folder for this
    plugin's server data (a ``pathlib.Path`` that exists). Return ``None`` to start
    nothing, or a started server object with ``environ`` (a dict of environment
    variables that point this plugin's settings at it), ``serving(url)`` (called once
    the shop listens at ``url``, e.g. to send webhooks there) and ``stop()`` (called
    however the demo ends). All implementations are called.
    """


@hookspec
def mercato_sample_data(dbsession, settings, progress):
    """Fill an empty shop with sample data for ``mercato demo``.

    Called for every plugin, in config order, inside one transaction. ``settings`` are
    the app's resolved settings (``mercato.currency`` …); ``progress`` is a callable
    taking a short message. Implementations must do nothing when their data is
    already there, so the demo can be started again.
    """


@hookspec
def mercato_render_slot(request, name, context):
    """Return HTML (a ``markupsafe.Markup``) to show in the named template slot.

    Templates call ``slot("name")`` at places other plugins may extend (``head``,
    ``nav``, ``header_tools``, ``footer``, ``cart_after_lines`` …). All results are shown,
    in config order. Return ``None`` to add nothing.
    """


@hookspec
def mercato_permissions():
    """Return ``{permission: [role, ...]}``: the permissions this plugin's views use and
    the roles (``customer``, ``staff``, ``admin``) that hold them.

    Called once at start-up for every plugin; the kernel's security policy merges the
    results, so ``view_config(permission="catalog.manage")`` works like any kernel
    permission.
    """


@hookspec
def mercato_user_logged_in(request, user):
    """``user`` has just logged in; the session id was rotated, its data kept.

    Called for every plugin, inside the login request's transaction (a cart plugin
    merges the guest cart into the customer's here).
    """


@hookspec
def mercato_user_erased(request, user):
    """The customer ``user`` is being erased (``mercato.erase_user``, the right to
    erasure): drop what you keep of them (a saved cart, preferences). Called for every
    plugin inside the request's transaction, before the account is deleted: a rollback
    keeps everything. Their orders stay, with no link to the account."""


class Credentials(NamedTuple):
    """An API key or the like: the ``user`` it acts as, the ``permissions`` it grants
    and ``client``, its name for rate limits (``api_key:12``)."""

    user: object
    permissions: frozenset
    client: str


@hookspec(firstresult=True)
def mercato_request_credentials(request):
    """``mercato.Credentials`` (an active user) for a request that carries credentials
    this plugin accepts (a bearer key), else ``None``; stops at the first non-None
    result. Then the cookie is ignored, a permission needs the role AND ``permissions``,
    and no CSRF token is asked for (no browser sends such a header by itself)."""


@hookspec
def mercato_openapi():
    """Return the OpenAPI 3.1 description of this plugin's ``/api`` routes:
    ``{"paths": {…}, "components": {…}}``, a fragment of the document the api plugin
    serves at ``/api/openapi.json``.

    Called once, when the document is first asked for, for every plugin; the
    fragments are merged (an operation described twice, differently, is an error). A
    schema may be a colander node: it is converted to JSON Schema. docs/api.md lists
    the shared components a fragment may ``$ref`` (``Money``, ``Error`` …).
    """


# ---------------------------------------------------------------------------
# Pricing
# ---------------------------------------------------------------------------


@hookspec
def mercato_sku_details(request, skus):
    """Return ``{sku: mercato.SkuDetails}`` for those of ``skus`` this plugin sells
    (a display name, a link, an image), or ``None``.

    Called by the cart and checkout for every plugin; the kernel merges the results and,
    for a SKU several plugins describe, the first in config order wins. Checkout freezes
    the name into the order line.
    """


@hookspec(firstresult=True)
def mercato_unit_price(sku, quantity, context):
    """Return the base unit price of ``sku`` as ``mercato.Money``, or ``None``.

    Called by the kernel's pricing (cart, checkout) for each line; ``context`` is a
    ``mercato.PricingContext`` (currency, dbsession, customer). Stops at the first
    non-None result, so a price-list plugin marked ``tryfirst`` can override the
    catalog's base price. ``None`` from every plugin means the SKU cannot be sold.
    """


@hookspec
def mercato_price_adjustments(lines, context):
    """Return a list of ``mercato.Adjustment`` for the priced ``lines`` (discounts,
    tax, shipping), or ``None``.

    Called after every line has its unit price. The kernel folds all results in config
    order into the total; each adjustment is shown as its own line. An adjustment that
    lowers the total has a negative amount.
    """


@hookspec
def mercato_shipping_options(lines, context):
    """Return a list of ``mercato.ShippingOption`` for shipping the priced ``lines`` to
    ``context.destination`` (a ``mercato.Destination``), or ``None``.

    Called for every plugin once the destination is known (an address at checkout, a
    country for the cart page's estimate); the kernel offers every plugin's options, and
    the shopper's choice (``context.shipping_method``, an option's ``code``) becomes a
    line of the order. A shop with any implementation of this hook needs a method for
    every order: an empty list for a destination means "we do not ship there".
    """


@hookspec(firstresult=True)
def mercato_tax_lines(lines, adjustments, shipping, context):
    """Return the tax on the priced ``lines`` and the chosen ``shipping`` (a
    ``mercato.ShippingOption`` or ``None``) as a list of ``mercato.TaxLine``, or
    ``None``.

    Called once the destination is known, after the adjustments (discounts a tax plugin
    may spread over the lines it taxes). One plugin computes the tax: the first
    non-None result wins, so a tax service marked ``tryfirst`` replaces the built-in
    tables. Each ``TaxLine`` targets one line's SKU or ``mercato.SHIPPING``, is rounded
    to the minor unit on its own, and says whether the price includes it.
    """


# ---------------------------------------------------------------------------
# Cart (how checkout, owned by the kernel, reads the cart a plugin keeps)
# ---------------------------------------------------------------------------


@hookspec(firstresult=True)
def mercato_cart_lines(request):
    """Return the current shopper's cart as a list of ``mercato.Line`` (``sku`` and
    ``quantity`` set, prices left to the kernel), or ``None``.

    Called by checkout. Stops at the first non-None result: one plugin keeps the cart.
    """


@hookspec
def mercato_cart_checked_out(request, order):
    """The checkout that turned the current cart into ``order`` has committed: empty it.

    Called for every plugin, after the commit only; an aborted checkout never calls it,
    so the shopper's cart is never lost. ``order`` is read in a transaction of its own;
    ``request.user`` is detached by the commit: whose cart it was is ``order.customer_id``.
    """


# ---------------------------------------------------------------------------
# Inventory
# ---------------------------------------------------------------------------


@hookspec(firstresult=True)
def mercato_stock_level(dbsession, sku):
    """Return how many units of ``sku`` can be sold now (an int), or ``None``.

    A non-locking read, for display and the pre-checkout check. Stops at the first
    non-None result; ``None`` everywhere means stock is not tracked for this SKU.
    """


@hookspec
def mercato_reserve_stock(dbsession, lines):
    """Take ``lines`` (each with ``sku`` and ``quantity``) out of stock.

    Called by checkout inside its PostgreSQL transaction, for every plugin. Must never
    oversell: decrement with a guarded statement and raise ``mercato.OutOfStock`` to
    refuse; the transaction then aborts and nothing is kept. A plugin ignores SKUs it
    does not own.
    """


@hookspec
def mercato_release_stock(dbsession, lines):
    """Put ``lines`` back into stock (cancellation, refund with restock).

    Called for every plugin inside the transaction that cancels; a plugin ignores SKUs
    it does not own.
    """


@hookspec
def mercato_stock_low(dbsession, sku, level, threshold):
    """A change (a sale, a staff edit, an import) took ``sku``'s stock from above
    ``threshold`` to ``level`` (``<= threshold``): time to reorder. Called by the plugin
    that keeps stock, for every plugin, inside the transaction of the change
    (``dbsession``); once per crossing, not for every sale below the threshold."""


@hookspec
def mercato_product_changed(dbsession, product, change):
    """Staff created, updated or deleted a product (``change``: ``"created"``,
    ``"updated"``, ``"deleted"``) through a form, an import or the staff API. ``product``
    is a JSON-able dict as the product was saved: ``slug``, ``name``, ``description``,
    ``active``, ``tax_class``, ``categories`` (slugs) and ``variants`` (``sku``,
    ``name``, ``options``, ``price`` as ``Money.to_json()``, ``stock``,
    ``weight_grams``, ``active``). Called by the catalog, for every plugin, inside the
    transaction of the change (``dbsession``)."""


# ---------------------------------------------------------------------------
# Payment
# ---------------------------------------------------------------------------


@hookspec
def mercato_payment_methods(request):
    """Return a list of ``mercato.PaymentMethod`` that checkout offers, or ``None``.

    Called for every plugin each time checkout shows its payment step.
    """


@hookspec(firstresult=True)
def mercato_authorize_payment(order, method, details, idempotency_key, registry):
    """Authorize ``order.total`` with the payment ``method`` and return a
    ``mercato.PaymentResult``.

    Only the plugin that owns ``method`` answers; the others return ``None``. Stops at
    the first non-None result. ``order`` is not saved yet (no id); ``order.total`` is a
    ``Money``. ``idempotency_key`` is stable across retries of one checkout: the provider
    must create at most one authorization for it. ``registry`` is the app's registry (the
    plugin's settings and clients); payment hooks also run outside requests (reconcile,
    the admin), so they never rely on a current request.
    """


@hookspec(firstresult=True)
def mercato_capture_payment(payment, amount, idempotency_key, registry):
    """Capture ``amount`` of an authorized ``payment``; return a ``PaymentResult``.

    Only the plugin whose ``payment.provider`` it is answers. Stops at the first
    non-None result.
    """


@hookspec(firstresult=True)
def mercato_void_payment(payment, idempotency_key, registry):
    """Cancel an authorization that will not be captured; return a ``PaymentResult``.

    Only the plugin whose ``payment.provider`` it is answers. Stops at the first
    non-None result.
    """


@hookspec(firstresult=True)
def mercato_refund_payment(payment, amount, idempotency_key, registry):
    """Refund ``amount`` (full or partial) of a captured ``payment``; return a
    ``PaymentResult``.

    Only the plugin whose ``payment.provider`` it is answers. Stops at the first
    non-None result.
    """


# ---------------------------------------------------------------------------
# Notification and order events
# ---------------------------------------------------------------------------


@hookspec
def mercato_notify(event, payload, registry):
    """Deliver a notification: ``event`` names it (``order.placed``,
    ``account.password_reset`` …), ``payload`` is a JSON-able dict, ``registry`` is the
    app's Pyramid registry (settings, and whatever the plugin put there at start-up).

    Called for every plugin, only for work that has committed: the kernel records the
    event in the same transaction as the change and delivers it after the commit.
    """


@hookspec
def mercato_order_placed(order):
    """An order was created. Called for every plugin, inside the checkout transaction,
    after its lines and stock reservation are written (``object_session(order)`` is the
    checkout's session). Raising ``mercato.CheckoutError`` refuses the order: everything
    is rolled back and the shopper sees the message."""


@hookspec
def mercato_reconcile(registry, cutoff):
    """``mercato reconcile`` runs (from cron): finish what a crash left of this plugin's
    own work with a payment provider, as the kernel does for checkouts. Leave alone what
    changed after ``cutoff`` (an aware ``datetime``): a request may still be on it.
    Return ``{name: [what was finished]}`` (``"failures"``: messages for the operator),
    or ``None``. Called for every plugin, outside any request; each item in a
    transaction of its own, safe to run twice at once and again."""


@hookspec
def mercato_checkout_attempted(request, outcome, provider):
    """A shopper's submit of checkout ended (a repeat of a placed one is not counted):
    ``outcome`` is ``"placed"`` or ``"requires_action"`` (3-D Secure asked), both once
    committed, or why not: ``"declined"``, ``"unavailable"`` (the provider did not
    answer), ``"cart"`` (stock, a price or an item changed), ``"busy"`` (the same
    checkout already being placed) or ``"invalid"``. ``provider`` is the payment
    method's, or ``None``. For every plugin (metrics, analytics); it must not raise."""


@hookspec
def mercato_order_status_changed(order, old, new):
    """``order`` moved from status ``old`` to ``new``. Called for every plugin, inside
    the transaction that changes it."""


@hookspec
def mercato_order_refunded(order, refund):
    """Money of ``order`` went back to the customer: ``refund`` (a ``mercato.Refund``:
    amount, reason, actor) succeeded at the provider. Called for every plugin, inside
    the transaction that records it on the order."""


@hookspec
def mercato_order_changed(order, change):
    """Staff changed ``order`` after it was placed. ``change`` is a dict whose
    ``"kind"`` says what, with ``"lines"`` ``{sku: quantity}`` and ``"refund"`` (the
    ``mercato.Refund`` made, or None): ``"lines_cancelled"`` (paid units that will not
    ship, refunded), ``"lines_removed"`` (units released before their money was taken)
    or ``"lines_added"``; the last two carry ``"balance_due"`` (``Money``). Called for
    every plugin, inside the transaction of the change."""


@hookspec
def mercato_shipment_created(order, shipment):
    """Some lines of ``order`` left the warehouse. ``shipment`` is a dict: ``"lines"``
    ``{sku: quantity}``, ``"carrier"``, ``"tracking_number"``, ``"tracking_url"`` (each
    ``""`` when unknown). Called by the plugin that records shipments, for every plugin,
    inside the transaction that records it."""


@hookspec
def mercato_return_requested(order, return_request):
    """The customer asked to send back lines of ``order``. ``return_request`` is a
    dict: ``"id"``, ``"lines"`` ``{sku: quantity}``, ``"reason"``. Called by the plugin
    that keeps returns, for every plugin, inside the request's transaction."""


@hookspec
def mercato_return_received(order, return_request):
    """A returned parcel of ``order`` arrived. ``return_request`` is a dict: ``"id"``,
    ``"lines"`` ``{sku: quantity}``, ``"restocked"`` ``{sku: quantity}`` (what went back
    to stock: damaged goods do not). Called by the plugin that keeps returns, for every
    plugin, inside the transaction that records it."""


@hookspec
def mercato_worker_pass(registry, now):
    """Do this plugin's own due background work (deliveries it retries on a schedule of
    its own) and return how many items it worked on, or ``None``.

    Called by ``mercato worker`` on every pass, after the outbox's due deliveries, for
    every plugin; ``now`` (an aware ``datetime``) decides what is due — tests pass a
    later time instead of waiting. The worker rests only when every plugin returned
    nothing: return at most a batch per pass, so that a pass stays short.
    """


# ---------------------------------------------------------------------------
# Admin (the back office under /admin)
# ---------------------------------------------------------------------------


class AdminLink(NamedTuple):
    """A staff page in the admin's menu; ``url`` is a path on this site."""

    label: str
    url: str
    permission: str


@hookspec
def mercato_admin_links(request):
    """Return this plugin's staff pages for the admin's navigation: a list of
    ``mercato.AdminLink(label, url, permission)`` (a plain 3-tuple works too), or
    ``None``.

    Called for every plugin each time an admin page is rendered. All results are
    shown, in config order, between the admin's shop pages (orders, customers) and its
    system pages (emails, audit log, plugins, staff); a link only to people who hold
    its ``permission``. A plugin's staff page joins the admin's look by extending
    ``admin/layout.jinja2``.
    """


@hookspec
def mercato_admin_widgets(request):
    """Return panels for the admin dashboard: a ``markupsafe.Markup`` (or a list of
    them), or ``None``.

    Called for every plugin each time staff open the dashboard (``/admin``). A panel is
    an HTML fragment (a heading and a short table or list) that the dashboard shows as
    a card, in config order; a plain ``str`` is escaped. Staff hold ``admin.access``
    there; a panel with data needing another permission checks
    ``request.has_permission`` itself and returns ``None`` when it is missing.
    """

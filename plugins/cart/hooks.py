"""The cart plugin's hook implementations (its entry point)."""

from pathlib import Path

from sqlalchemy import event

from mercato import hookimpl, make_engine, redis_writes, registry_of

from . import cli, openapi, schemas, slots
from .answers import CatalogAnswers, StockNews
from .services import ShopperCart, customer_cart_id, read_with_session
from .store import CartStore

DAY = 24 * 3600
EPOCH_PENDING = "mercato_cart.epoch_pending"  # in a session's info: raised at its commit
STOCK_CHANGED = "mercato_cart.stock_changed"  # in a session's info: forgotten at its end


@hookimpl
def mercato_settings_schema():
    return schemas.Settings()


@hookimpl
def mercato_configure(config):
    registry = config.registry
    settings = registry.settings["mercato.cart"]
    registry.cart_store = CartStore(
        registry.redis,
        registry.db_engine,
        idle_seconds=settings["idle_days"] * DAY,
        # The PostgreSQL copy is written behind the requests by one thread per process,
        # on one connection of its own (store.BackupWriter).
        backup_engine=make_engine(
            {**registry.settings, "sqlalchemy.pool_size": 1, "sqlalchemy.max_overflow": 0},
            role="cart-backups",
        ),
    )
    registry.cart_answers = CatalogAnswers(settings["catalog_cache_seconds"])
    registry.cart_stock_news = StockNews(registry.redis, registry.cart_answers)
    event.listen(registry.db_engine, "engine_disposed", lambda _e: registry.cart_stock_news.stop())
    config.add_session_read(read_with_session)
    config.add_request_method(ShopperCart, "cart", reify=True)
    config.add_jinja2_search_path("mercato_cart:templates", name=".jinja2")
    config.add_static_view("static/cart", "mercato_cart:static", cache_max_age=3600)
    config.include("mercato_cart.views")


@hookimpl
def mercato_migration_folders():
    return str(Path(__file__).parent / "migrations")


@hookimpl
def mercato_cli(subparsers):
    cli.add_commands(subparsers)


@hookimpl
def mercato_render_slot(request, name, context):
    if name == "header_tools":
        return slots.mini_cart(request)
    if name == "product_actions":
        return slots.add_to_cart_form(request, context)
    return None


@hookimpl
def mercato_user_logged_in(request, user):
    for note in request.cart.merge_guest_into(user):
        request.session.flash(note)


@hookimpl
def mercato_user_erased(request, user):
    """The customer's cart goes with their account (``mercato.erase_user``)."""
    request.registry.cart_store.erase(
        redis_writes(request), request.dbsession, customer_cart_id(user.id)
    )


@hookimpl
def mercato_cart_lines(request):
    return request.cart.lines()


@hookimpl
def mercato_product_changed(dbsession):
    """Once the change commits, every process's adds forget what the catalog told them
    (``store.CATALOG_EPOCH_KEY``). A script's own session belongs to no app: its
    changes reach adds after ``catalog_cache_seconds``."""
    registry = registry_of(dbsession)
    if registry is None or dbsession.info.get(EPOCH_PENDING):
        return
    dbsession.info[EPOCH_PENDING] = True

    def committed(session) -> None:
        session.info.pop(EPOCH_PENDING, None)
        registry.cart_store.catalog_changed()

    event.listen(dbsession, "after_commit", committed, once=True)


@hookimpl
def mercato_reserve_stock(dbsession, lines):
    """Not the cart's to take: it learns which SKUs' stock a checkout takes, so that
    this process's adds ask the catalog again about them once the order commits."""
    _forget_stock_at_commit(dbsession, lines)


@hookimpl
def mercato_release_stock(dbsession, lines):
    """Stock put back (a cancellation, a restock): asked again too."""
    _forget_stock_at_commit(dbsession, lines)


def _forget_stock_at_commit(dbsession, lines) -> None:
    """The SKUs' kept stock answers forgotten by this process when ``dbsession``'s
    transaction ends (at its rollback too: a checkout refused for want of stock), and
    by every other process once it commits (``answers.StockNews``). Only theirs: a
    commit used to forget everything, and a shop that takes orders commits several
    times a second, so its adds were seldom answered from what was kept."""
    registry = registry_of(dbsession)
    if registry is None:
        return
    skus = dbsession.info.get(STOCK_CHANGED)
    if skus is None:
        skus = dbsession.info[STOCK_CHANGED] = set()

        def committed(session) -> None:
            changed = session.info.pop(STOCK_CHANGED, ())
            registry.cart_answers.forget_stock(changed)
            if changed:
                registry.cart_stock_news.publish(changed)

        def rolled_back(session) -> None:
            registry.cart_answers.forget_stock(session.info.pop(STOCK_CHANGED, ()))

        # Each pops the set: the one of them left over in a session used again finds
        # the next transaction's SKUs, which are then forgotten (and published) once.
        event.listen(dbsession, "after_commit", committed, once=True)
        event.listen(dbsession, "after_rollback", rolled_back, once=True)
    skus.update(line.sku for line in lines)


@hookimpl
def mercato_cart_checked_out(request, order):
    request.cart.checked_out(order.customer_id)


@hookimpl
def mercato_openapi():
    return openapi.fragment()

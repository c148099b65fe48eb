"""The aftersale part as the essential ``aftersale`` plugin: its one hook finishes the
refunds a crash left (``mercato reconcile``)."""

from mercato import hookimpl

from . import refunds


@hookimpl
def mercato_reconcile(registry, cutoff):
    return refunds.reconcile(registry, cutoff)

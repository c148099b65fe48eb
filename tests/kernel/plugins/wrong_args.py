from mercato import hookimpl


@hookimpl
def mercato_unit_price(sku, currency):
    return None

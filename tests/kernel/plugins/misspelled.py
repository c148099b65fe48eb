from mercato import hookimpl


@hookimpl
def mercato_unit_prise(sku, quantity, context):
    return None

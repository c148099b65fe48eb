"""Catalog: products, variants, categories, stock, images, search and storefront pages."""

"""Fixtures for the catalog tests: only the catalog plugin is enabled, data is made
through the catalog's own models and committed so the app's sessions see it."""

import pytest

from mercato_catalog.models import Category, Product, Variant
from mercato_catalog.services import ensure_category_path, slugify


@pytest.fixture
def mercato_plugins():
    return ["catalog"]


@pytest.fixture
def upload_dir(tmp_path):
    return tmp_path / "uploads"


@pytest.fixture
def app_settings(app_settings, upload_dir):
    return {**app_settings, "mercato.catalog.upload_dir": str(upload_dir)}


class Catalog:
    """Makes categories and products in the test database, committed."""

    def __init__(self, session):
        self.session = session

    def category(self, path: str, name: str | None = None) -> Category:
        slug = path.rsplit("/", 1)[-1]
        category = ensure_category_path(self.session, path, {slug: name} if name else None)
        self.session.commit()
        return category

    def product(
        self,
        name: str,
        price: int = 1000,
        stock: int = 10,
        description: str = "",
        category: Category | None = None,
        variants: list[dict] | None = None,
        active: bool = True,
        sku: str | None = None,
        slug: str | None = None,
        currency: str = "EUR",
        tax_class: str = "standard",
    ) -> Product:
        product = Product(
            slug=slug or slugify(name),
            name=name,
            description=description,
            active=active,
            tax_class=tax_class,
        )
        if category is not None:
            product.categories.append(category)
        specs = variants or [{"sku": sku or slugify(name).upper(), "price": price, "stock": stock}]
        for position, spec in enumerate(specs):
            product.variants.append(
                Variant(
                    sku=spec["sku"],
                    name=spec.get("name", ""),
                    options=spec.get("options", {}),
                    price_amount=spec.get("price", price),
                    price_currency=spec.get("currency", currency),
                    stock=spec.get("stock", stock),
                    weight=spec.get("weight", 0),
                    active=spec.get("active", True),
                    position=position,
                )
            )
        self.session.add(product)
        self.session.commit()
        return product


@pytest.fixture
def catalog(dbsession):
    return Catalog(dbsession)

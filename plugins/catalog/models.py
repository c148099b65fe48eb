"""The catalog's tables: products, variants (one SKU each), categories, images.

Tables are prefixed ``catalog_`` so that a third-party plugin can have its own
``products`` without a clash. Two columns are kept by PostgreSQL itself, never by
Python, so bulk loads (COPY, CSV import) cannot leave them stale:

* ``catalog_products.search`` — a generated tsvector, name weighted A over
  description B, behind a GIN index;
* ``catalog_products.price_from`` — the cheapest active variant's price, kept by
  triggers on ``catalog_variants`` that ignore stock updates, so a checkout's stock
  decrement never touches (or locks) the product row.
"""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mercato import Base, Money

# The largest price in minor units anything accepts (a filter, an import): far below
# bigint's limit, so no input can overflow a column or a sum of a few lines.
MAX_AMOUNT = 10**12
# What shipping and tax need of the goods (``mercato.SkuDetails``). The tax class is a
# product's: its variants are the same kind of goods, taxed alike. The weight is a
# variant's (grams per unit): an XL parka or a king-size duvet weighs more than the S.
TAX_CLASSES = ("standard", "reduced", "zero")
MAX_WEIGHT = 1_000_000  # grams: a tonne per unit is beyond any parcel a shop ships
SEARCH_CONFIG = "english"
SEARCH_EXPRESSION = (
    f"setweight(to_tsvector('{SEARCH_CONFIG}', coalesce(name, '')), 'A') || "
    f"setweight(to_tsvector('{SEARCH_CONFIG}', coalesce(description, '')), 'B')"
)


class Category(Base):
    __tablename__ = "catalog_categories"
    __table_args__ = (
        # ``path`` is the chain of slugs from the root ("clothing/shirts"); a subtree is
        # a prefix match, which text_pattern_ops lets an index answer.
        Index("ix_catalog_categories_path", "path", postgresql_ops={"path": "text_pattern_ops"}),
        Index("ix_catalog_categories_parent_id", "parent_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("catalog_categories.id", ondelete="RESTRICT")
    )
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    path: Mapped[str] = mapped_column(String(1000), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    parent: Mapped["Category | None"] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list["Category"]] = relationship(
        back_populates="parent", order_by="Category.position, Category.name"
    )

    @property
    def depth(self) -> int:
        return self.path.count("/")


class Product(Base):
    __tablename__ = "catalog_products"
    __table_args__ = (
        Index("ix_catalog_products_search", "search", postgresql_using="gin"),
        Index("ix_catalog_products_created_at", "created_at"),
        # Narrow: counts and facets over "every active product" become index-only
        # scans instead of reading the wide rows (description, tsvector).
        Index("ix_catalog_products_active_id", "id", postgresql_where=text("active")),
        Index("ix_catalog_products_price_from", "price_from"),
        CheckConstraint("tax_class IN ('standard', 'reduced', 'zero')", name="tax_class_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    attributes: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    price_from: Mapped[int | None] = mapped_column(BigInteger)
    tax_class: Mapped[str] = mapped_column(
        String(20), default="standard", server_default="standard"
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    search = mapped_column(TSVECTOR, Computed(SEARCH_EXPRESSION, persisted=True))

    variants: Mapped[list["Variant"]] = relationship(
        back_populates="product",
        order_by="Variant.position, Variant.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    images: Mapped[list["ProductImage"]] = relationship(
        back_populates="product",
        order_by="ProductImage.position, ProductImage.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    categories: Mapped[list[Category]] = relationship(
        secondary="catalog_product_categories", order_by="Category.path"
    )


class SearchWord(Base):
    """A word of some product's name, for search's typo fallback (``search``). Kept by
    triggers on ``catalog_products`` (migration catalog_0004), never by Python."""

    __tablename__ = "catalog_search_words"
    __table_args__ = (
        Index(
            "ix_catalog_search_words_word_trgm",
            "word",
            postgresql_using="gin",
            postgresql_ops={"word": "gin_trgm_ops"},
        ),
    )

    word: Mapped[str] = mapped_column(String(100), primary_key=True)


class ProductCategory(Base):
    __tablename__ = "catalog_product_categories"
    __table_args__ = (Index("ix_catalog_product_categories_category_id", "category_id"),)

    product_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_products.id", ondelete="CASCADE"), primary_key=True
    )
    category_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_categories.id", ondelete="CASCADE"), primary_key=True
    )


class Variant(Base):
    __tablename__ = "catalog_variants"
    __table_args__ = (
        # The backstop behind the guarded decrement: whatever code runs, PostgreSQL
        # refuses a negative stock.
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("price_amount >= 0", name="price_not_negative"),
        CheckConstraint("length(sku) > 0", name="sku_not_empty"),
        CheckConstraint(f"weight BETWEEN 0 AND {MAX_WEIGHT}", name="weight_in_range"),
        Index("ix_catalog_variants_product_id", "product_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("catalog_products.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    options: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    price_amount: Mapped[int] = mapped_column(BigInteger)
    price_currency: Mapped[str] = mapped_column(String(3))
    stock: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    weight: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # grams
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    product: Mapped[Product] = relationship(back_populates="variants")

    @property
    def price(self) -> Money:
        return Money(self.price_amount, self.price_currency)

    @property
    def label(self) -> str:
        """What a shopper reads to tell variants apart ("Blue / M")."""
        if self.name:
            return self.name
        return " / ".join(str(v) for v in self.options.values()) or self.sku


class ProductImage(Base):
    __tablename__ = "catalog_product_images"
    __table_args__ = (Index("ix_catalog_product_images_product_id", "product_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("catalog_products.id", ondelete="CASCADE"))
    # Storage keys of the renditions share this prefix: "<key>/<size>.<ext>".
    key: Mapped[str] = mapped_column(String(200), unique=True)
    extension: Mapped[str] = mapped_column(String(8))
    alt: Mapped[str] = mapped_column(String(300), default="", server_default="")
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    product: Mapped[Product] = relationship(back_populates="images")

    def rendition_key(self, size: str) -> str:
        return f"{self.key}/{size}.{self.extension}"


# Every model the catalog owns: what its caches watch for changes (pagetags, facts).
CATALOG_MODELS = (Category, Product, ProductCategory, Variant, ProductImage)
CATALOG_TABLES = frozenset(model.__table__ for model in CATALOG_MODELS)

"""Catalog: products, variants, categories, images; full-text and trigram search.

Revision ID: catalog_0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR

revision = "catalog_0001"
down_revision = None
branch_labels = ("catalog",)
depends_on = "mercato_0001"

SEARCH_EXPRESSION = (
    "setweight(to_tsvector('english', coalesce(name, '')), 'A') || "
    "setweight(to_tsvector('english', coalesce(description, '')), 'B')"
)

# price_from is the cheapest active variant. Inserts and deletes are handled once per
# statement (transition tables), so a COPY of 300,000 variants costs one UPDATE, not
# 300,000; updates fire only when price, active flag or product change, never for a
# stock decrement, so checkout never locks the product row.
PRICE_FROM_SQL = """
CREATE FUNCTION catalog_refresh_price_from(product_ids integer[]) RETURNS void
LANGUAGE sql AS $$
    UPDATE catalog_products p
       SET price_from = (SELECT min(v.price_amount) FROM catalog_variants v
                          WHERE v.product_id = p.id AND v.active)
     WHERE p.id = ANY(product_ids)
$$;

CREATE FUNCTION catalog_variants_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM catalog_refresh_price_from(ARRAY(SELECT DISTINCT product_id FROM new_rows));
    RETURN NULL;
END $$;

CREATE FUNCTION catalog_variants_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM catalog_refresh_price_from(ARRAY(SELECT DISTINCT product_id FROM old_rows));
    RETURN NULL;
END $$;

CREATE FUNCTION catalog_variant_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM catalog_refresh_price_from(ARRAY[OLD.product_id, NEW.product_id]);
    RETURN NULL;
END $$;

CREATE TRIGGER catalog_variants_price_from_insert
    AFTER INSERT ON catalog_variants REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_variants_inserted();

CREATE TRIGGER catalog_variants_price_from_delete
    AFTER DELETE ON catalog_variants REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_variants_deleted();

CREATE TRIGGER catalog_variants_price_from_update
    AFTER UPDATE OF price_amount, active, product_id ON catalog_variants
    FOR EACH ROW
    WHEN (OLD.price_amount IS DISTINCT FROM NEW.price_amount
          OR OLD.active IS DISTINCT FROM NEW.active
          OR OLD.product_id IS DISTINCT FROM NEW.product_id)
    EXECUTE FUNCTION catalog_variant_updated();
"""


def upgrade() -> None:
    # pg_trgm is a trusted extension (PostgreSQL 13+): a database owner may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")

    op.create_table(
        "catalog_categories",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("parent_id", sa.Integer),
        sa.Column("slug", sa.String(120), nullable=False),
        sa.Column("path", sa.String(1000), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("position", sa.Integer, nullable=False, server_default="0"),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["catalog_categories.id"],
            name="fk_catalog_categories_parent_id_catalog_categories",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_catalog_categories"),
        sa.UniqueConstraint("slug", name="uq_catalog_categories_slug"),
        sa.UniqueConstraint("path", name="uq_catalog_categories_path"),
    )
    op.create_index(
        "ix_catalog_categories_path",
        "catalog_categories",
        ["path"],
        postgresql_ops={"path": "text_pattern_ops"},
    )
    op.create_index("ix_catalog_categories_parent_id", "catalog_categories", ["parent_id"])

    op.create_table(
        "catalog_products",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("slug", sa.String(200), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("attributes", JSONB, nullable=False, server_default="{}"),
        sa.Column("active", sa.Boolean, nullable=False, server_default="true"),
        sa.Column("price_from", sa.BigInteger),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("search", TSVECTOR, sa.Computed(SEARCH_EXPRESSION, persisted=True)),
        sa.PrimaryKeyConstraint("id", name="pk_catalog_products"),
        sa.UniqueConstraint("slug", name="uq_catalog_products_slug"),
    )
    op.create_index(
        "ix_catalog_products_search", "catalog_products", ["search"], postgresql_using="gin"
    )
    op.create_index(
        "ix_catalog_products_name_trgm",
        "catalog_products",
        ["name"],
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    )
    op.create_index("ix_catalog_products_created_at", "catalog_products", ["created_at"])
    # Counts and facets over every active product read this narrow index only.
    op.create_index(
        "ix_catalog_products_active_id",
        "catalog_products",
        ["id"],
        postgresql_where=sa.text("active"),
    )
    op.create_index("ix_catalog_products_price_from", "catalog_products", ["price_from"])

    op.create_table(
        "catalog_product_categories",
        sa.Column("product_id", sa.Integer, nullable=False),
        sa.Column("category_id", sa.Integer, nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["catalog_products.id"],
            name="fk_catalog_product_categories_product_id_catalog_products",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["catalog_categories.id"],
            name="fk_catalog_product_categories_category_id_catalog_categories",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("product_id", "category_id", name="pk_catalog_product_categories"),
    )
    op.create_index(
        "ix_catalog_product_categories_category_id", "catalog_product_categories", ["category_id"]
    )

    op.create_table(
        "catalog_variants",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("product_id", sa.Integer, nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("options", JSONB, nullable=False, server_default="{}"),
        sa.Column("price_amount", sa.BigInteger, nullable=False),
        sa.Column("price_currency", sa.String(3), nullable=False),
        sa.Column("stock", sa.Integer, nullable=False, server_default="0"),
        sa.Column("active", sa.Boolean, nullable=False, server_default="true"),
        sa.Column("position", sa.Integer, nullable=False, server_default="0"),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["catalog_products.id"],
            name="fk_catalog_variants_product_id_catalog_products",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_catalog_variants"),
        sa.UniqueConstraint("sku", name="uq_catalog_variants_sku"),
        sa.CheckConstraint("stock >= 0", name="ck_catalog_variants_stock_not_negative"),
        sa.CheckConstraint("price_amount >= 0", name="ck_catalog_variants_price_not_negative"),
        sa.CheckConstraint("length(sku) > 0", name="ck_catalog_variants_sku_not_empty"),
    )
    op.create_index("ix_catalog_variants_product_id", "catalog_variants", ["product_id"])

    op.create_table(
        "catalog_product_images",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("product_id", sa.Integer, nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("extension", sa.String(8), nullable=False),
        sa.Column("alt", sa.String(300), nullable=False, server_default=""),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("position", sa.Integer, nullable=False, server_default="0"),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["catalog_products.id"],
            name="fk_catalog_product_images_product_id_catalog_products",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_catalog_product_images"),
        sa.UniqueConstraint("key", name="uq_catalog_product_images_key"),
    )
    op.create_index(
        "ix_catalog_product_images_product_id", "catalog_product_images", ["product_id"]
    )

    op.execute(PRICE_FROM_SQL)


def downgrade() -> None:
    op.drop_table("catalog_product_images")
    op.drop_table("catalog_variants")
    op.execute("DROP FUNCTION catalog_variant_updated()")
    op.execute("DROP FUNCTION catalog_variants_deleted()")
    op.execute("DROP FUNCTION catalog_variants_inserted()")
    op.execute("DROP FUNCTION catalog_refresh_price_from(integer[])")
    op.drop_table("catalog_product_categories")
    op.drop_table("catalog_products")
    op.drop_table("catalog_categories")
    # pg_trgm stays: another plugin's index may use it.

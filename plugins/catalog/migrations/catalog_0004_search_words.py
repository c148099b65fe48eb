"""The words of product names, for search's typo fallback; the names' trigram index goes.

A typo ("jaket") finds nothing in the full-text index. The fallback used to compare the
typed text with every product name by trigrams (``ix_catalog_products_name_trgm``):
at 100,000 products "tenx" was close to 4,700 names, all fetched and ranked, 20–70
ms a search. Names repeat their words, so the shop's vocabulary is small (the
bench's 100,000 names use 105 words): search now finds the close *words* in
``catalog_search_words`` (a trigram index over a few hundred or thousand rows) and
runs the full-text search again with them, through the same GIN index as any search.

The table is kept by PostgreSQL: statement-level triggers add the words of inserted
and updated names (a COPY of 5,000 products is one insert of their new words), so
bulk loads and the CSV import keep it whole. A word is never taken out: a word no
product has any more finds nothing, and the next word is tried.

Deciding on locks: nothing here builds an index on a big table, so the migration runs
in its transaction like any other. Its one long step is reading every name once
(about a second per 100,000 products); product writes wait for it (the triggers are
created first, so no name is missed), reads do not. The name index is dropped last,
just before the commit.

Revision ID: catalog_0004
Revises: catalog_0003
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "catalog_0004"
down_revision = "catalog_0003"
branch_labels = None
depends_on = None

# The words of a name as the 'simple' text search parser sees them (lower case, not
# stemmed: "jackets" stays itself); shorter than three letters, trigrams say nothing.
WORDS_OF = """
    SELECT DISTINCT word FROM {rows},
        unnest(tsvector_to_array(to_tsvector('simple', {rows}.name))) AS word
    WHERE length(word) BETWEEN 3 AND 100
"""

TRIGGERS_SQL = f"""
CREATE FUNCTION catalog_search_words_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO catalog_search_words (word)
    {WORDS_OF.format(rows="named")}
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER catalog_products_words_inserted
    AFTER INSERT ON catalog_products REFERENCING NEW TABLE AS named
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_search_words_added();

CREATE TRIGGER catalog_products_words_updated
    AFTER UPDATE ON catalog_products REFERENCING NEW TABLE AS named
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_search_words_added();
"""


def upgrade() -> None:
    op.create_table(
        "catalog_search_words",
        sa.Column("word", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("word", name="pk_catalog_search_words"),
    )
    op.create_index(
        "ix_catalog_search_words_word_trgm",
        "catalog_search_words",
        ["word"],
        postgresql_using="gin",
        postgresql_ops={"word": "gin_trgm_ops"},
    )
    op.execute(TRIGGERS_SQL)
    op.execute(
        "INSERT INTO catalog_search_words (word) "
        + WORDS_OF.format(rows="catalog_products")
        + " ON CONFLICT DO NOTHING"
    )
    op.execute("ANALYZE catalog_search_words")
    op.drop_index("ix_catalog_products_name_trgm", table_name="catalog_products")


def downgrade() -> None:
    op.create_index(
        "ix_catalog_products_name_trgm",
        "catalog_products",
        ["name"],
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    )
    op.execute("DROP TRIGGER catalog_products_words_updated ON catalog_products")
    op.execute("DROP TRIGGER catalog_products_words_inserted ON catalog_products")
    op.execute("DROP FUNCTION catalog_search_words_added()")
    op.drop_table("catalog_search_words")

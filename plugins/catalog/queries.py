"""Read-only lookups the pages and the API share."""

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, selectinload

from .models import Category, Product


@dataclass
class CategoryNode:
    slug: str
    name: str
    path: str
    children: list["CategoryNode"]

    def to_json(self) -> dict:
        return {
            "slug": self.slug,
            "name": self.name,
            "path": self.path,
            "children": [c.to_json() for c in self.children],
        }


def category_tree(session) -> list[CategoryNode]:
    """Every category as a tree, siblings by position then name (one query)."""
    rows = session.execute(
        select(
            Category.id, Category.parent_id, Category.slug, Category.name, Category.path
        ).order_by(Category.position, Category.name)
    ).all()
    nodes = {row.id: CategoryNode(row.slug, row.name, row.path, []) for row in rows}
    roots = []
    for row in rows:
        parent = nodes.get(row.parent_id)
        (parent.children if parent else roots).append(nodes[row.id])
    return roots


def ancestors(session, category: Category) -> list[Category]:
    """From the root down to ``category``, itself included (for breadcrumbs)."""
    parts = category.path.split("/")
    paths = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    found = {
        c.path: c
        for c in session.execute(select(Category).where(Category.path.in_(paths))).scalars()
    }
    return [found[p] for p in paths if p in found]


def family(session, category: Category) -> tuple[list[Category], list[Category]]:
    """``ancestors`` and ``children`` of ``category`` in one query (a category page
    needs both: one round trip fewer than asking for each)."""
    parts = category.path.split("/")
    paths = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    rows = session.execute(
        select(Category)
        .where(or_(Category.path.in_(paths), Category.parent_id == category.id))
        .order_by(Category.position, Category.name)
    ).scalars()
    found, kids = {}, []
    for row in rows:
        if row.path in paths:
            found[row.path] = row
        else:
            kids.append(row)
    return [found[p] for p in paths if p in found], kids


def children(session, category: Category) -> list[Category]:
    return list(
        session.execute(
            select(Category)
            .where(Category.parent_id == category.id)
            .order_by(Category.position, Category.name)
        ).scalars()
    )


def product_by_slug(session, slug: str) -> Product | None:
    """An active product with its variants, images and categories, or None.

    One statement joins all three (a product has a few of each, so the rows multiply
    into a handful): loading each collection apart cost two more round trips and twice
    the time in the ORM (measured on the bench's catalog).
    """
    return (
        session.execute(
            select(Product)
            .where(Product.slug == slug, Product.active)
            .options(
                joinedload(Product.categories),
                joinedload(Product.variants),
                joinedload(Product.images),
            )
        )
        .unique()
        .scalar_one_or_none()
    )


def product_for_staff(session, slug: str) -> Product | None:
    """Any product, active or not, with its variants, images and categories."""
    return session.execute(
        select(Product)
        .where(Product.slug == slug)
        .options(
            selectinload(Product.variants),
            selectinload(Product.images),
            selectinload(Product.categories),
        )
    ).scalar_one_or_none()

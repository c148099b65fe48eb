"""CSV import and export of the rates table: ``country,region,tax_class,rate,name``.

The import reads every row with the admin form's rules (``schemas.read_rate``) and
reports each bad row by its line number; a file with any bad row imports nothing. A
good file updates the rows it names (matched by country, region and class) and adds
the others; rows it does not name are left alone. ``rate`` is in percent (``19``,
``5.5``), ``region`` may be empty (the whole country) and ``tax_class`` defaults to
``standard``.
"""

import csv
import io
from dataclasses import dataclass

from sqlalchemy import select

from .models import TaxRate, percent_text
from .schemas import read_rate

COLUMNS = ("country", "region", "tax_class", "rate", "name")
REQUIRED = ("country", "rate", "name")
MAX_ROWS = 10_000  # about 40 times a table of every country and US state
MAX_ERRORS = 50


class ImportFailed(Exception):
    """Nothing was imported; ``errors`` lists ``(line, message)``, line 0 for the file;
    ``status`` is the HTTP status that says so."""

    def __init__(self, errors: list[tuple[int, str]], status: int = 400):
        self.errors = errors
        self.status = status
        super().__init__(f"{len(errors)} problem(s); nothing was imported")


@dataclass
class Change:
    """One row of the file and what it does: ``created``, ``updated`` or ``unchanged``
    (``existing``, the row it updates)."""

    line: int
    values: dict
    outcome: str
    existing: TaxRate | None

    @property
    def percent(self) -> str:
        return percent_text(self.values["rate"])


def parse(text: str) -> list[tuple[int, dict]]:
    """``(line, values)`` for each row of the CSV ``text``, or ``ImportFailed``."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [(name or "").strip().lower() for name in reader.fieldnames or ()]
    except csv.Error as exc:
        raise ImportFailed([(1, f"This is not valid CSV ({exc}).")]) from None
    missing = [column for column in REQUIRED if column not in header]
    if missing:
        raise ImportFailed(
            [(1, f"The first line must name the columns; missing: {', '.join(missing)}.")]
        )
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise ImportFailed(
            [(1, f"Unknown column {unknown[0][:40]!r}: the columns are {', '.join(COLUMNS)}.")]
        )
    if len(set(header)) != len(header):
        raise ImportFailed([(1, "The first line names a column twice.")])
    reader.fieldnames = header
    rows, errors, seen = [], [], {}
    try:
        for record in reader:
            line = reader.line_num
            if len(rows) >= MAX_ROWS:
                raise ImportFailed([(line, f"More than {MAX_ROWS:,} rows: split the file.")])
            if None in record:
                errors.append((line, "This row has more cells than the first line has columns."))
                continue
            if not any((value or "").strip() for value in record.values()):
                continue  # a blank line a spreadsheet left at the end
            values, problems = read_rate(record)
            if problems:
                field, message = next(iter(problems.items()))
                errors.append((line, f"{field}: {message}"))
            else:
                key = (values["country"], values["region"], values["tax_class"])
                if key in seen:
                    errors.append(
                        (line, f"the same country, region and class as line {seen[key]}.")
                    )
                seen.setdefault(key, line)
                rows.append((line, values))
            if len(errors) >= MAX_ERRORS:
                break
    except csv.Error as exc:
        errors.append((reader.line_num, f"This is not valid CSV ({exc})."))
    if errors:
        raise ImportFailed(errors)
    if not rows:
        raise ImportFailed([(0, "The file has no rates, only the line of column names.")])
    return rows


def plan(session, rows: list[tuple[int, dict]]) -> list[Change]:
    """What importing ``rows`` would do, without writing anything."""
    existing = _existing(session, rows)
    changes = []
    for line, values in rows:
        found = existing.get((values["country"], values["region"], values["tax_class"]))
        if found is None:
            outcome = "created"
        elif (found.rate, found.name) == (values["rate"], values["name"]):
            outcome = "unchanged"
        else:
            outcome = "updated"
        changes.append(Change(line, values, outcome, found))
    return changes


def apply(session, rows: list[tuple[int, dict]]) -> list[Change]:
    """Import ``rows``: update the rates they name, add the others."""
    changes = plan(session, rows)
    for change in changes:
        if change.outcome == "created":
            session.add(TaxRate(**change.values))
        elif change.outcome == "updated":
            change.existing.rate = change.values["rate"]
            change.existing.name = change.values["name"]
    session.flush()
    return changes


def _existing(session, rows) -> dict[tuple, TaxRate]:
    countries = {values["country"] for _, values in rows}
    found = session.scalars(select(TaxRate).where(TaxRate.country.in_(countries)))
    return {(rate.country, rate.region, rate.tax_class): rate for rate in found}


def export_rows(session) -> list[list[str]]:
    """The whole table, header first, in the import's format."""
    rates = session.scalars(
        select(TaxRate).order_by(TaxRate.country, TaxRate.region, TaxRate.tax_class)
    )
    return [list(COLUMNS)] + [
        [rate.country, rate.region, rate.tax_class, rate.percent, rate.name] for rate in rates
    ]

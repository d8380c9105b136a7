"""CSV imports of customers and of visits: every row checked first with the same commands the
API builds, then all imported or none.

Nothing here commits. Rows are written in the caller's transaction; if the database refuses
one half-way, the transaction is rolled back (every row before it too) and `ImportRefused`
says which row.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import datetime
from typing import TextIO

from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from app.care.customers import find_customer, upsert_customer
from app.contract import parse
from app.contract.commands import CustomerUpsert, VisitCreate
from app.errors import Invalid
from app.models import Business
from app.phones import DEFAULT_REGION, home_region

COLUMNS = ("phone", "name", "email", "tags", "consent", "marketing_consent", "birthday")
VISIT_COLUMNS = ("phone", "name", "consent", "marketing_consent", "occurred_at", "staff", "amount")
MAX_ROWS = 50_000


@dataclass(frozen=True)
class RowError:
    row: int  # 1-based line number in the file, header is line 1
    message: str


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)


class ImportRefused(Invalid):
    """The database refused a row part-way: nothing of the import may be kept."""

    def __init__(self, error: RowError):
        super().__init__("file", f"row {error.row}: {error.message}", code="import_refused")
        self.row_error = error


@dataclass(frozen=True)
class Row:
    line: int
    command: CustomerUpsert | VisitCreate

    def __getattr__(self, name: str):
        """The command's fields read as the row's own (a preview shows row.phone, row.name)."""
        return getattr(self.command, name)


def _cells(handle: TextIO, columns: tuple[str, ...], errors: list[RowError]):
    """(line, {column: cell}) for each row, only the import's columns and only non-empty
    cells (an empty cell changes nothing). Nothing when the header has no phone column."""
    reader = csv.DictReader(handle)
    header = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    if "phone" not in header:
        errors.append(RowError(1, "the header must have a 'phone' column"))
        return
    reader.fieldnames = header
    for index, raw in enumerate(reader, start=2):
        if index - 1 > MAX_ROWS:
            errors.append(RowError(index, f"at most {MAX_ROWS} rows per file"))
            return
        if None in raw:
            errors.append(RowError(index, "more fields than the header has"))
            continue
        yield index, {k: v.strip() for k, v in raw.items() if k in columns and (v or "").strip()}


def _build(model, line: int, cells: dict, errors: list[RowError], **context) -> Row | None:
    try:
        return Row(line, parse(model, cells, **context))
    except Invalid as exc:
        # "consent must be yes or no" names its column; "Check the number" is told which.
        named = bool(exc.field and exc.field.lower() in exc.message.lower())
        errors.append(RowError(line, exc.message if named else str(exc)))
        return None


def parse_rows(handle: TextIO, region: str = DEFAULT_REGION) -> tuple[list[Row], list[RowError]]:
    """Customer rows checked as `CustomerUpsert` commands; a phone twice is an error. Phones
    without a country code are read in `region` (the business's own)."""
    rows: list[Row] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for line, cells in _cells(handle, COLUMNS, errors):
        row = _build(CustomerUpsert, line, cells, errors, region=region)
        if row is None:
            continue
        phone = row.command.phone
        if phone in seen:
            errors.append(RowError(line, f"{phone} is also on row {seen[phone]}"))
            continue
        seen[phone] = line
        rows.append(row)
    return rows, errors


def parse_visit_rows(
    handle: TextIO, zone: str, now: datetime, region: str = DEFAULT_REGION
) -> tuple[list[Row], list[RowError]]:
    """Visit rows checked as `VisitCreate` commands; times without a zone are the business's."""
    rows: list[Row] = []
    errors: list[RowError] = []
    for line, cells in _cells(handle, VISIT_COLUMNS, errors):
        row = _build(VisitCreate, line, cells, errors, zone=zone, now=now, region=region)
        if row is not None:
            rows.append(row)
    return rows, errors


def _read(parser, handle, *args) -> tuple[list[Row], list[RowError]]:
    try:
        return parser(handle, *args)
    except (csv.Error, UnicodeDecodeError) as exc:
        return [], [RowError(0, f"not a readable CSV file: {exc}")]


def _write(session: Session, row: Row, action) -> bool:
    try:
        result = action()
        session.flush()
    except DBAPIError as exc:
        reason = str(getattr(exc, "orig", exc)).splitlines()[0][:200]
        # The transaction is dead after a refused statement; undo every row of the import
        # now so the caller can still answer (and knows nothing was kept).
        session.rollback()
        raise ImportRefused(RowError(row.line, f"the database refused it ({reason})")) from exc
    return result


def import_customers_csv(
    session: Session, business: Business, handle: TextIO, *, now: datetime
) -> ImportResult:
    """Import customers; with any bad row nothing is imported and every error is returned."""
    rows, errors = _read(parse_rows, handle, home_region(business.number))
    result = ImportResult(errors=errors)
    if errors:
        return result
    for row in rows:
        command = row.command
        assert isinstance(command, CustomerUpsert)
        existed = find_customer(session, business.id, command.phone) is not None
        _write(session, row, lambda c=command: upsert_customer(session, business, c, now=now,
                                                               source="import"))  # fmt: skip
        if existed:
            result.updated += 1
        else:
            result.created += 1
    return result


def import_visits_csv(
    session: Session, business: Business, handle: TextIO, *, now: datetime, base_url: str = ""
) -> ImportResult:
    """Record each visit and plan its follow-ups; with any bad row nothing is recorded."""
    from app.care.visits import record_visit  # visits plan care; imports stay light otherwise

    rows, errors = _read(parse_visit_rows, handle, business.timezone, now,
                         home_region(business.number))  # fmt: skip
    result = ImportResult(errors=errors)
    if errors:
        return result
    for row in rows:
        command = row.command
        _write(session, row, lambda c=command: record_visit(
            session, business, c, now=now, source="import", base_url=base_url))  # fmt: skip
        result.created += 1
    return result

"""CSV import of customers: every row checked first, then all imported or none."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import datetime
from typing import TextIO
from zoneinfo import ZoneInfo

from sqlmodel import Session

from app.care.customers import MAX_TAGS, find_customer, find_or_create, parse_tags, set_consent
from app.models import Business
from app.phones import InvalidPhone, normalize

COLUMNS = ("phone", "name", "email", "tags", "consent")
MAX_ROWS = 50_000
YES = {"yes", "y", "true", "1", "granted", "opted in", "opt-in"}
NO = {"", "no", "n", "false", "0", "unknown"}


@dataclass(frozen=True)
class RowError:
    row: int  # 1-based line number in the file, header is line 1
    message: str


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)


@dataclass(frozen=True)
class CustomerRow:
    line: int
    phone: str
    name: str
    email: str | None
    tags: list[str]
    consent: bool


def _rows(handle: TextIO, errors: list[RowError]):
    """(line, cleaned values, E.164 phone) for each row with a usable phone; the rest become
    errors. Nothing is yielded when the header has no phone column."""
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
        values = {k: (v or "").strip() for k, v in raw.items()}
        try:
            phone = normalize(values.get("phone"))
        except InvalidPhone as exc:
            errors.append(RowError(index, str(exc)))
            continue
        yield index, values, phone


def parse_rows(handle: TextIO) -> tuple[list[CustomerRow], list[RowError]]:
    rows, errors, seen = [], [], {}
    for index, values, phone in _rows(handle, errors):
        if phone in seen:
            errors.append(RowError(index, f"{phone} is also on row {seen[phone]}"))
            continue
        seen[phone] = index
        consent_text = values.get("consent", "").lower()
        if consent_text not in YES | NO:
            errors.append(RowError(index, f"consent must be yes or no, not {consent_text!r}"))
            continue
        email = values.get("email") or None
        if email and ("@" not in email or len(email) > 254):
            errors.append(RowError(index, f"{email!r} is not an email address"))
            continue
        name = values.get("name", "")
        if len(name) > 120:
            errors.append(RowError(index, "name is longer than 120 characters"))
            continue
        tags = parse_tags(values.get("tags", ""))
        if len(tags) > MAX_TAGS:
            errors.append(RowError(index, f"at most {MAX_TAGS} tags"))
            continue
        rows.append(CustomerRow(index, phone, name, email, tags, consent_text in YES))
    return rows, errors


def import_customers_csv(
    session: Session, business: Business, handle: TextIO, *, now: datetime
) -> ImportResult:
    """Import customers; with any bad row nothing is imported and every error is returned."""
    try:
        rows, errors = parse_rows(handle)
    except (csv.Error, UnicodeDecodeError) as exc:
        return ImportResult(errors=[RowError(0, f"not a readable CSV file: {exc}")])
    result = ImportResult(errors=errors)
    if errors:
        return result
    for row in rows:
        existed = find_customer(session, business.id, row.phone) is not None
        customer, _ = find_or_create(session, business, row.phone, name=row.name, now=now)
        if row.name:
            customer.name = row.name
        if row.email:
            customer.email = row.email
        if row.tags:
            customer.tags = sorted(set(customer.tags or []) | set(row.tags))
        if row.consent:
            set_consent(session, customer, "granted", source="import", now=now)
        session.add(customer)
        if existed:
            result.updated += 1
        else:
            result.created += 1
    session.commit()
    return result


# ---- visits exported from a point-of-sale or booking system ---------------------------------

VISIT_COLUMNS = ("phone", "name", "consent", "occurred_at", "staff", "amount")


@dataclass(frozen=True)
class VisitRow:
    line: int
    phone: str
    name: str
    consent: bool
    occurred_at: datetime | None
    staff: str | None
    amount_cents: int | None


def parse_visit_rows(handle: TextIO, zone: str) -> tuple[list[VisitRow], list[RowError]]:
    """Every row checked; times without a zone are the business's own."""
    rows, errors = [], []
    for index, values, phone in _rows(handle, errors):
        consent_text = values.get("consent", "").lower()
        if consent_text not in YES | NO:
            errors.append(RowError(index, f"consent must be yes or no, not {consent_text!r}"))
            continue
        occurred_at = None
        if values.get("occurred_at"):
            try:
                occurred_at = datetime.fromisoformat(values["occurred_at"].replace("Z", "+00:00"))
            except ValueError:
                errors.append(RowError(index, "occurred_at must look like 2026-03-10 14:30"))
                continue
            if occurred_at.tzinfo is None:
                occurred_at = occurred_at.replace(tzinfo=ZoneInfo(zone))
        amount_cents = None
        if values.get("amount"):
            try:
                amount = float(values["amount"].lstrip("$").replace(",", ""))
            except ValueError:
                errors.append(RowError(index, f"amount {values['amount']!r} is not a number"))
                continue
            if not 0 <= amount < 1e7:
                errors.append(RowError(index, "amount must not be negative"))
                continue
            amount_cents = round(amount * 100)
        name, staff = values.get("name", ""), values.get("staff") or None
        if len(name) > 120 or (staff and len(staff) > 80):
            errors.append(RowError(index, "name or staff is too long"))
            continue
        rows.append(VisitRow(index, phone, name, consent_text in YES, occurred_at, staff,
                             amount_cents))  # fmt: skip
    return rows, errors


def import_visits_csv(
    session: Session, business: Business, handle: TextIO, *, now: datetime, base_url: str = ""
) -> ImportResult:
    """Record each visit and plan its follow-ups; with any bad row nothing is recorded."""
    from app.care.visits import record_visit  # visits plan care; imports stay light otherwise

    try:
        rows, errors = parse_visit_rows(handle, business.timezone)
    except (csv.Error, UnicodeDecodeError) as exc:
        return ImportResult(errors=[RowError(0, f"not a readable CSV file: {exc}")])
    future = [RowError(r.line, "occurred_at is in the future") for r in rows
              if r.occurred_at and r.occurred_at > now]  # fmt: skip
    result = ImportResult(errors=errors + future)
    if result.errors:
        return result
    for row in rows:
        record_visit(session, business, phone=row.phone, name=row.name, consent=row.consent,
                     consent_source="import", occurred_at=row.occurred_at, staff=row.staff,
                     amount_cents=row.amount_cents, source="import", now=now,
                     base_url=base_url)  # fmt: skip
        result.created += 1
    return result

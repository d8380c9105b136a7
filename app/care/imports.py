"""CSV import of customers: every row checked first, then all imported or none."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import datetime
from typing import TextIO

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


def parse_rows(handle: TextIO) -> tuple[list[CustomerRow], list[RowError]]:
    reader = csv.DictReader(handle)
    header = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    if "phone" not in header:
        return [], [RowError(1, "the header must have a 'phone' column")]
    reader.fieldnames = header
    rows, errors, seen = [], [], {}
    for index, raw in enumerate(reader, start=2):
        if index - 1 > MAX_ROWS:
            errors.append(RowError(index, f"at most {MAX_ROWS} rows per file"))
            break
        if None in raw:
            errors.append(RowError(index, "more fields than the header has"))
            continue
        values = {k: (v or "").strip() for k, v in raw.items()}
        try:
            phone = normalize(values.get("phone"))
        except InvalidPhone as exc:
            errors.append(RowError(index, str(exc)))
            continue
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

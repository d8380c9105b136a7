"""what the business knows about each customer: visit count, first and last visit, usual gap,
total spent, favourite staff, booked visits, birthday and when they become overdue, kept on
the customer; the business's overdue settings. Existing customers are counted from their
visits.

Revision ID: 0013_customer_facts
Revises: 0012_push
Create Date: 2026-12-02 05:30:00
"""

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op

import app.models
from app.care.facts import facts_of, overdue_from

revision: str = "0013_customer_facts"
down_revision: str | None = "0012_push"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

String = sqlmodel.sql.sqltypes.AutoString
UTC = app.models.UTCDateTime
# the settings' defaults, which every business has right after this migration
DEFAULTS: Any = SimpleNamespace(overdue_factor=1.5, overdue_floor_days=30, overdue_fixed_days=90)
FACT_COLUMNS = ("visit_count", "first_visit_at", "last_visit_at", "usual_gap_days",
                "total_spent_cents", "favourite_staff", "booked_until", "overdue_at")  # fmt: skip
BATCH = 1000


def upgrade() -> None:
    op.add_column("business", sa.Column("overdue_factor", sa.Float(), nullable=False,
                                        server_default="1.5"))  # fmt: skip
    op.add_column("business", sa.Column("overdue_floor_days", sa.Integer(), nullable=False,
                                        server_default="30"))  # fmt: skip
    op.add_column("business", sa.Column("overdue_fixed_days", sa.Integer(), nullable=False,
                                        server_default="90"))  # fmt: skip
    op.add_column("customer", sa.Column("visit_count", sa.Integer(), nullable=False,
                                        server_default="0"))  # fmt: skip
    op.add_column("customer", sa.Column("first_visit_at", UTC(timezone=True)))
    op.add_column("customer", sa.Column("usual_gap_days", sa.Float()))
    op.add_column("customer", sa.Column("total_spent_cents", sa.Integer()))
    op.add_column("customer", sa.Column("favourite_staff", String(length=80)))
    op.add_column("customer", sa.Column("booked_until", UTC(timezone=True)))
    op.add_column("customer", sa.Column("overdue_at", UTC(timezone=True)))
    op.add_column("customer", sa.Column("birthday", String(length=5)))
    op.add_column("customer", sa.Column("awaiting_birthday_until", UTC(timezone=True)))
    _backfill()
    op.create_index("ix_customer_business_overdue", "customer", ["business_id", "overdue_at"])
    op.create_index("ix_customer_business_last_visit", "customer",
                    ["business_id", "last_visit_at"])  # fmt: skip


def _backfill() -> None:
    """Every customer with visits counted with the app's own rule (app.care.facts), reading
    the visits once in customer order and writing a batch of customers at a time."""
    visits = sa.table("visit", sa.column("customer_id", sa.Integer()),
                      sa.column("occurred_at", UTC()), sa.column("staff", String()),
                      sa.column("amount_cents", sa.Integer()), sa.column("status", String()),
                      sa.column("id", sa.Integer()))  # fmt: skip
    customers = sa.table("customer", sa.column("id", sa.Integer()),
                         sa.column("visit_count", sa.Integer()),
                         sa.column("first_visit_at", UTC()), sa.column("last_visit_at", UTC()),
                         sa.column("usual_gap_days", sa.Float()),
                         sa.column("total_spent_cents", sa.Integer()),
                         sa.column("favourite_staff", String()),
                         sa.column("booked_until", UTC()),
                         sa.column("overdue_at", UTC()))  # fmt: skip
    connection = op.get_bind()
    update = (
        customers.update()
        .where(customers.c.id == sa.bindparam("customer"))
        .values({name: sa.bindparam(name) for name in FACT_COLUMNS})
    )
    rows = connection.execute(
        sa.select(visits.c.customer_id, visits.c.occurred_at, visits.c.staff,
                  visits.c.amount_cents)
        .where(visits.c.status == "completed")
        .order_by(visits.c.customer_id, visits.c.occurred_at, visits.c.id)
    ).all()  # fmt: skip
    pending: list[dict] = []
    current, theirs = None, []
    for customer_id, occurred_at, staff, amount in [*rows, (None, None, None, None)]:
        if customer_id != current and current is not None:
            facts = facts_of(theirs)
            overdue_at = overdue_from(DEFAULTS, facts)
            pending.append({"customer": current, **facts.__dict__, "overdue_at": overdue_at})
            theirs = []
            if len(pending) >= BATCH:
                connection.execute(update, pending)
                pending = []
        current = customer_id
        theirs.append((occurred_at, staff, amount))
    if pending:
        connection.execute(update, pending)


def downgrade() -> None:
    op.drop_index("ix_customer_business_last_visit", table_name="customer")
    op.drop_index("ix_customer_business_overdue", table_name="customer")
    for name in ("awaiting_birthday_until", "birthday", "overdue_at", "booked_until", "favourite_staff",
                 "total_spent_cents", "usual_gap_days", "first_visit_at", "visit_count"):  # fmt: skip
        op.drop_column("customer", name)
    for name in ("overdue_fixed_days", "overdue_floor_days", "overdue_factor"):
        op.drop_column("business", name)

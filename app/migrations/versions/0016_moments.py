"""moments: milestone thank-yous and the owner's heads-up, first-visit anniversaries and
birthdays (each off by default), their settings on the business and, on the customer, when
the heads-up is due and the year each yearly text last went.

Revision ID: 0016_moments
Revises: 0015_staff
Create Date: 2026-12-02 06:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op

import app.models

revision: str = "0016_moments"
down_revision: str | None = "0015_staff"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

String = sqlmodel.sql.sqltypes.AutoString
UTC = app.models.UTCDateTime
BUSINESS = ("milestone_visits", "milestone_every", "milestone_reward", "anniversary_texts",
            "birthday_texts", "birthday_days_before", "moment_offer")  # fmt: skip
CUSTOMER = ("milestone_heads_up_at", "milestone_alerted", "anniversary_year", "birthday_year")


def upgrade() -> None:
    op.add_column("business", sa.Column("milestone_visits", sa.JSON(), nullable=False,
                                        server_default=sa.text("'[5, 10, 25]'")))  # fmt: skip
    op.add_column("business", sa.Column("milestone_every", sa.Integer(), nullable=False,
                                        server_default="25"))  # fmt: skip
    op.add_column("business", sa.Column("milestone_reward", String(length=160)))
    op.add_column("business", sa.Column("anniversary_texts", sa.Boolean(), nullable=False,
                                        server_default=sa.false()))  # fmt: skip
    op.add_column("business", sa.Column("birthday_texts", sa.Boolean(), nullable=False,
                                        server_default=sa.false()))  # fmt: skip
    op.add_column("business", sa.Column("birthday_days_before", sa.Integer(), nullable=False,
                                        server_default="0"))  # fmt: skip
    op.add_column("business", sa.Column("moment_offer", String(length=160)))
    op.add_column("customer", sa.Column("milestone_heads_up_at", UTC(timezone=True)))
    op.add_column("customer", sa.Column("milestone_alerted", sa.Integer()))
    op.add_column("customer", sa.Column("anniversary_year", sa.Integer()))
    op.add_column("customer", sa.Column("birthday_year", sa.Integer()))
    op.create_index("ix_customer_business_birthday", "customer", ["business_id", "birthday"])
    op.create_index("ix_customer_business_first_visit", "customer",
                    ["business_id", "first_visit_at"])  # fmt: skip
    op.create_index("ix_customer_milestone_heads_up", "customer", ["milestone_heads_up_at"])


def downgrade() -> None:
    op.drop_index("ix_customer_milestone_heads_up", table_name="customer")
    op.drop_index("ix_customer_business_first_visit", table_name="customer")
    op.drop_index("ix_customer_business_birthday", table_name="customer")
    for name in CUSTOMER:
        op.drop_column("customer", name)
    for name in BUSINESS:
        op.drop_column("business", name)

"""dashboard: customer effort (the setting, the open question), the indexes the dashboard's
range queries read

Revision ID: 0005_dashboard
Revises: 0004_trust
Create Date: 2026-12-02 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models

revision: str = "0005_dashboard"
down_revision: str | None = "0004_trust"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN: SQLite adds them in place (a batch rebuild of a table other rows point
    # at fails with foreign keys on, as on any database with data in it).
    op.add_column(
        "business",
        sa.Column("ces_enabled", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "customer", sa.Column("awaiting_effort_until", app.models.UTCDateTime(timezone=True))
    )
    op.create_index("ix_customer_business_created", "customer", ["business_id", "created_at"])
    op.create_index("ix_visit_business_time", "visit", ["business_id", "occurred_at"])
    op.create_index("ix_message_business_time", "message", ["business_id", "created_at"])
    op.create_index("ix_message_business_sent", "message", ["business_id", "sent_at"])


def downgrade() -> None:
    op.drop_index("ix_message_business_sent", table_name="message")
    op.drop_index("ix_message_business_time", table_name="message")
    op.drop_index("ix_visit_business_time", table_name="visit")
    op.drop_index("ix_customer_business_created", table_name="customer")
    op.drop_column("customer", "awaiting_effort_until")  # plain DROP COLUMN (SQLite 3.35+)
    op.drop_column("business", "ces_enabled")

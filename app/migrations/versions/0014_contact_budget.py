"""the contact budget: promotional texts per customer per 30 days at most, per business

Revision ID: 0014_contact_budget
Revises: 0013_customer_facts
Create Date: 2026-12-02 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_contact_budget"
down_revision: str | None = "0013_customer_facts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("business", sa.Column("marketing_per_30_days", sa.Integer(), nullable=False,
                                        server_default="4"))  # fmt: skip


def downgrade() -> None:
    op.drop_column("business", "marketing_per_30_days")

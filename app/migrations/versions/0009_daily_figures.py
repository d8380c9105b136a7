"""daily figures: the dashboard's counts of each local day once it is over, kept; review
links found by their business and day

Revision ID: 0009_daily_figures
Revises: 0008_saved_replies
Create Date: 2026-12-02 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0009_daily_figures"
down_revision: str | None = "0008_saved_replies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "daily_figures",
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("signature", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("figures", sa.Text(), nullable=True),
        sa.Column("touches", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["business_id"], ["business.id"]),
        sa.PrimaryKeyConstraint("business_id", "day"),
    )
    op.create_index("ix_tracked_link_business_time", "tracked_link", ["business_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_tracked_link_business_time", table_name="tracked_link")
    op.drop_table("daily_figures")

"""saved replies: answers the owner's team writes once and picks in the composer

Revision ID: 0008_saved_replies
Revises: 0007_referrals
Create Date: 2026-12-02 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op

import app.models

revision: str = "0008_saved_replies"
down_revision: str | None = "0007_referrals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "saved_reply",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", app.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["business_id"], ["business.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_saved_reply_business_id", "saved_reply", ["business_id"])


def downgrade() -> None:
    op.drop_index("ix_saved_reply_business_id", table_name="saved_reply")
    op.drop_table("saved_reply")

"""hear every unhappy customer: reasons and kinds on feedback, flags the owner dismissed,
complaints answered, review requests held (and why)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 23:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op

import app.models

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("business") as batch:
        batch.add_column(
            sa.Column("review_hold_days", sa.Integer(), nullable=False, server_default="3")
        )
    with op.batch_alter_table("customer") as batch:
        batch.add_column(sa.Column("complaint_answered_at", app.models.UTCDateTime(timezone=True)))
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("reasons", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("topics", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(
            sa.Column(
                "language",
                sqlmodel.sql.sqltypes.AutoString(length=5),
                nullable=False,
                server_default="en",
            )
        )
        batch.add_column(sa.Column("dismissed_at", app.models.UTCDateTime(timezone=True)))
        batch.add_column(sa.Column("dismissed_by", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_feedback_dismissed_by", "app_user", ["dismissed_by"], ["id"])
    with op.batch_alter_table("message") as batch:
        batch.add_column(sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=200)))


def downgrade() -> None:
    with op.batch_alter_table("message") as batch:
        batch.drop_column("reason")
    with op.batch_alter_table("feedback") as batch:
        batch.drop_constraint("fk_feedback_dismissed_by", type_="foreignkey")
        for name in ("dismissed_by", "dismissed_at", "language", "topics", "reasons"):
            batch.drop_column(name)
    with op.batch_alter_table("customer") as batch:
        batch.drop_column("complaint_answered_at")
    with op.batch_alter_table("business") as batch:
        batch.drop_column("review_hold_days")

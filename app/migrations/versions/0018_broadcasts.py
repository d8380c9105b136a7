"""broadcasts: a text to a segment, its recipients' texts in the outbox (each marked with its
broadcast, one per recipient), the recipients left out with their reasons, and the daily cap
of broadcast texts per sending number

Revision ID: 0018_broadcasts
Revises: 0017_winback
Create Date: 2026-12-02 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op

import app.models

revision: str = "0018_broadcasts"
down_revision: str | None = "0017_winback"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "broadcast",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("promotional", sa.Boolean(), nullable=False),
        sa.Column("segment", sa.JSON(), nullable=False),
        sa.Column("per_hour", sa.Integer(), nullable=True),
        sa.Column("state", app.models.StrEnumType(app.models.BroadcastState, 10), nullable=False),
        sa.Column("start_at", app.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("next_batch_at", app.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("eligible", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("failed_in_row", sa.Integer(), nullable=False),
        sa.Column("paused_reason", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("paused_by", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", app.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", app.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["business_id"], ["business.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_broadcast_business", "broadcast", ["business_id", "id"])
    op.create_index("ix_broadcast_due", "broadcast", ["state", "next_batch_at"])
    op.create_table(
        "broadcast_skip",
        sa.Column("broadcast_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.ForeignKeyConstraint(["broadcast_id"], ["broadcast.id"]),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.PrimaryKeyConstraint("broadcast_id", "customer_id"),
    )
    op.add_column("business", sa.Column("broadcast_daily_cap", sa.Integer(), nullable=False,
                                        server_default="2000"))  # fmt: skip
    for table in ("message", "tracked_link"):
        if op.get_bind().dialect.name == "sqlite":
            # in place (no rebuild): SQLite takes a reference on a new column, not a constraint
            op.execute(f"ALTER TABLE {table} ADD COLUMN broadcast_id INTEGER "
                       "REFERENCES broadcast (id)")  # fmt: skip
        else:
            op.add_column(table, sa.Column("broadcast_id", sa.Integer(), nullable=True))
            op.create_foreign_key(f"{table}_broadcast_id_fkey", table, "broadcast",
                                  ["broadcast_id"], ["id"])  # fmt: skip
    op.create_index("ix_tracked_link_broadcast_id", "tracked_link", ["broadcast_id"])
    op.create_index("ix_message_broadcast", "message", ["broadcast_id", "status"])
    op.create_index("uq_message_broadcast_recipient", "message", ["broadcast_id", "customer_id"],
                    unique=True, sqlite_where=sa.text("direction = 'outbound'"),
                    postgresql_where=sa.text("direction = 'outbound'"))  # fmt: skip


def downgrade() -> None:
    op.drop_index("uq_message_broadcast_recipient", table_name="message")
    op.drop_index("ix_message_broadcast", table_name="message")
    op.drop_index("ix_tracked_link_broadcast_id", table_name="tracked_link")
    op.drop_column("tracked_link", "broadcast_id")
    op.drop_column("message", "broadcast_id")
    op.drop_column("business", "broadcast_daily_cap")
    op.drop_table("broadcast_skip")
    op.drop_index("ix_broadcast_due", table_name="broadcast")
    op.drop_index("ix_broadcast_business", table_name="broadcast")
    op.drop_table("broadcast")

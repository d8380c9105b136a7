"""trust: opt-outs kept per number, missed-call text-back limits, texts found by recipient,
status callbacks pruned by age

Revision ID: 0004_trust
Revises: 0003
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op

import app.models

revision: str = "0004_trust"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MISSED_CALL = sa.text("kind = 'missed_call'")


def upgrade() -> None:
    op.create_table(
        "opted_out_number",
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("opted_out_at", app.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.ForeignKeyConstraint(["business_id"], ["business.id"]),
        sa.PrimaryKeyConstraint("business_id", "phone"),
    )
    # Every number that opted out before stays opted out, whatever happens to its row.
    op.execute(
        "INSERT INTO opted_out_number (business_id, phone, opted_out_at, source) "
        "SELECT business_id, phone, COALESCE(opted_out_at, consent_at, created_at), "
        "COALESCE(consent_source, 'before 0004') FROM customer WHERE consent = 'opted_out'"
    )
    with op.batch_alter_table("business") as batch:
        batch.add_column(sa.Column("missed_call_countries", sa.JSON(none_as_null=True)))
        batch.add_column(
            sa.Column("missed_call_hourly_limit", sa.Integer(), nullable=False,
                      server_default="20")
        )  # fmt: skip
    op.create_index("ix_message_recipient", "message", ["to_number", "id"])
    op.create_index(
        "ix_message_missed_call", "message", ["business_id", "created_at"],
        sqlite_where=MISSED_CALL, postgresql_where=MISSED_CALL,
    )  # fmt: skip
    op.create_index("ix_status_callback_received_at", "status_callback", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_status_callback_received_at", table_name="status_callback")
    op.drop_index("ix_message_missed_call", table_name="message")
    op.drop_index("ix_message_recipient", table_name="message")
    with op.batch_alter_table("business") as batch:
        batch.drop_column("missed_call_hourly_limit")
        batch.drop_column("missed_call_countries")
    op.drop_table("opted_out_number")

"""web push: the installation's VAPID keys, each user's devices, the notices the worker
sends, and how each user takes alerts (text, push or both)

Revision ID: 0012_push
Revises: 0011_media
Create Date: 2026-12-02 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op

import app.models

revision: str = "0012_push"
down_revision: str | None = "0011_media"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

String = sqlmodel.sql.sqltypes.AutoString
UTC = app.models.UTCDateTime


def upgrade() -> None:
    # A column with a constant default: SQLite adds it in place (app_user has rows pointing at it).
    op.add_column("app_user", sa.Column("alert_by", sa.String(length=4), nullable=False,
                                        server_default="text"))  # fmt: skip
    op.create_table(
        "web_push_key",
        sa.Column("name", String(length=16), nullable=False),
        sa.Column("private_key", String(length=100), nullable=False),
        sa.Column("public_key", String(length=100), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "push_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("endpoint", String(length=1024), nullable=False),
        sa.Column("p256dh", String(length=100), nullable=False),
        sa.Column("auth", String(length=32), nullable=False),
        sa.Column("device", String(length=80), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("last_sent_at", UTC(), nullable=True),
        sa.ForeignKeyConstraint(["business_id"], ["business.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "endpoint", name="uq_push_user_endpoint"),
    )
    op.create_index("ix_push_subscription_business_id", "push_subscription", ["business_id"])
    op.create_index("ix_push_subscription_user_id", "push_subscription", ["user_id"])
    op.create_table(
        "push_notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("kind", String(length=8), nullable=False),
        sa.Column("reason", String(length=200), nullable=False),
        sa.Column("excerpt", String(length=200), nullable=False),
        sa.Column("state", String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("send_at", UTC(), nullable=False),
        sa.Column("lease_until", UTC(), nullable=True),
        sa.Column("error", String(length=200), nullable=True),
        sa.Column("sent_at", UTC(), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(["business_id"], ["business.id"]),
        sa.ForeignKeyConstraint(
            ["subscription_id"], ["push_subscription.id"], ondelete="CASCADE"
        ),  # fmt: skip
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.ForeignKeyConstraint(["message_id"], ["message.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("subscription_id", "message_id", name="uq_push_notice_text"),
    )
    op.create_index("ix_push_notice_due", "push_notice", ["state", "send_at"])
    op.create_index("ix_push_notice_created", "push_notice", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_push_notice_created", table_name="push_notice")
    op.drop_index("ix_push_notice_due", table_name="push_notice")
    op.drop_table("push_notice")
    op.drop_index("ix_push_subscription_user_id", table_name="push_subscription")
    op.drop_index("ix_push_subscription_business_id", table_name="push_subscription")
    op.drop_table("push_subscription")
    op.drop_table("web_push_key")
    # Plain DROP COLUMN (SQLite 3.35+ too): nothing is rebuilt under the rows pointing here.
    op.drop_column("app_user", "alert_by")

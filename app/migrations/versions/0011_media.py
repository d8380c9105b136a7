"""photos in a reply: the photo table (bytes in the database) and the simulated phone's pictures

Revision ID: 0011_media
Revises: 0010_opening_hours
Create Date: 2026-12-02 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op

import app.models

revision: str = "0011_media"
down_revision: str | None = "0010_opening_hours"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "photo",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("content_type", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", app.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["business_id"], ["business.id"]),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.ForeignKeyConstraint(["message_id"], ["message.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token"),
    )
    op.create_index("ix_photo_business_id", "photo", ["business_id"])
    op.create_index("ix_photo_message_id", "photo", ["message_id"])
    op.add_column(
        "simulated_text", sa.Column("media_urls", sa.JSON(none_as_null=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("simulated_text", "media_urls")
    op.drop_index("ix_photo_message_id", table_name="photo")
    op.drop_index("ix_photo_business_id", table_name="photo")
    op.drop_table("photo")

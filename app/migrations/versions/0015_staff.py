"""staff list: the names offered in the visit form and counted on the dashboard, with or
without a sign-in

Revision ID: 0015_staff
Revises: 0014_contact_budget
Create Date: 2026-12-02 05:00:00

The list starts with what a shop already has: every named team member (linked to their
sign-in), then the names its visits were recorded with, one entry per name whatever its case.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op

import app.models

revision: str = "0015_staff"
down_revision: str | None = "0014_contact_budget"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _key(name: str) -> str:
    # app.care.staff.name_key as it was when this ran (a migration never imports app.care).
    return " ".join(name.split()).casefold()


def upgrade() -> None:
    op.create_table(
        "staff_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("name_key", sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", app.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["business_id"], ["business.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("business_id", "name_key"),
        sa.UniqueConstraint("user_id"),
    )
    op.create_index("ix_staff_member_business_id", "staff_member", ["business_id"])
    connection = op.get_bind()
    staff = sa.table(
        "staff_member",
        sa.column("business_id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("name_key", sa.String),
        sa.column("user_id", sa.Integer),
        sa.column("active", sa.Boolean),
        sa.column("created_at", app.models.UTCDateTime()),
    )
    now = datetime.now(UTC)
    taken: set[tuple[int, str]] = set()
    rows = []
    users = connection.execute(sa.text(
        "SELECT business_id, id, name, active FROM app_user "
        "WHERE name <> '' ORDER BY id"))  # fmt: skip
    for business_id, user_id, name, active in users:
        name = " ".join(name.split())[:80]
        if name and (business_id, _key(name)) not in taken:
            taken.add((business_id, _key(name)))
            rows.append({"business_id": business_id, "name": name, "name_key": _key(name),
                         "user_id": user_id, "active": bool(active),
                         "created_at": now})  # fmt: skip
    visits = connection.execute(sa.text(
        "SELECT business_id, staff FROM visit WHERE staff IS NOT NULL "
        "GROUP BY business_id, staff ORDER BY business_id, count(*) DESC, staff"))  # fmt: skip
    for business_id, name in visits:
        name = " ".join(name.split())[:80]
        if name and (business_id, _key(name)) not in taken:  # the most used spelling wins
            taken.add((business_id, _key(name)))
            rows.append({"business_id": business_id, "name": name, "name_key": _key(name),
                         "user_id": None, "active": True, "created_at": now})  # fmt: skip
    if rows:
        op.bulk_insert(staff, rows)


def downgrade() -> None:
    op.drop_index("ix_staff_member_business_id", table_name="staff_member")
    op.drop_table("staff_member")

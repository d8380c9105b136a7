"""opening hours: each business's own hours per weekday and its closed dates, filled for the
businesses there are with what they had (every day their sending window)

Revision ID: 0010_opening_hours
Revises: 0009_daily_figures
Create Date: 2026-12-02 05:00:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_opening_hours"
down_revision: str | None = "0009_daily_figures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _every_day(start: str, end: str) -> dict:
    return {day: [{"open": start, "close": end}] for day in WEEKDAYS}


def upgrade() -> None:
    # Plain ADD COLUMN (in place on SQLite: business is pointed at by every other table).
    default = json.dumps(_every_day("09:00", "20:00"))
    op.add_column("business", sa.Column("opening_hours", sa.JSON(), nullable=False,
                                        server_default=sa.text(f"'{default}'")))  # fmt: skip
    op.add_column("business", sa.Column("holidays", sa.JSON(), nullable=False,
                                        server_default=sa.text("'[]'")))  # fmt: skip
    business = sa.table("business", sa.column("id", sa.Integer), sa.column("window_start"),
                        sa.column("window_end"), sa.column("opening_hours", sa.JSON))  # fmt: skip
    connection = op.get_bind()
    rows = connection.execute(sa.select(business.c.id, business.c.window_start,
                                        business.c.window_end)).all()  # fmt: skip
    for row_id, start, end in rows:
        connection.execute(business.update().where(business.c.id == row_id)
                           .values(opening_hours=_every_day(start, end)))  # fmt: skip


def downgrade() -> None:
    op.drop_column("business", "holidays")
    op.drop_column("business", "opening_hours")

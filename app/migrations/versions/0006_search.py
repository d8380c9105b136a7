"""search: customers found by name or phone fast at any size (a trigram index on PostgreSQL,
an FTS5 trigram table kept in sync by triggers on SQLite)

Revision ID: 0006_search
Revises: 0005_dashboard
Create Date: 2026-12-02 02:30:00
"""

from collections.abc import Sequence

from alembic import op

from app.search import POSTGRES_DOWN, POSTGRES_UP, SQLITE_DOWN, SQLITE_UP

revision: str = "0006_search"
down_revision: str | None = "0005_dashboard"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _run(statements: dict[str, tuple[str, ...]]) -> None:
    for statement in statements.get(op.get_bind().dialect.name, ()):
        op.execute(statement)


def upgrade() -> None:
    _run({"postgresql": POSTGRES_UP, "sqlite": SQLITE_UP})


def downgrade() -> None:
    _run({"postgresql": POSTGRES_DOWN, "sqlite": SQLITE_DOWN})

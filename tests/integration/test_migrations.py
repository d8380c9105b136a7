"""Alembic migrations: one head, the models match the migrated schema, and down/up works."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlmodel import SQLModel

import app.models  # noqa: F401  (registers the tables)
from app.db import make_engine
from app.migrate import alembic_config, upgrade
from app.search import not_modelled


def test_exactly_one_head():
    script = ScriptDirectory.from_config(alembic_config())
    heads = script.get_heads()
    assert len(heads) == 1, heads
    # Every revision is reachable from the head down to base: no orphans.
    revisions = list(script.walk_revisions())
    assert revisions[0].revision == heads[0]
    assert revisions[-1].down_revision is None


def test_models_match_the_migrations(engine):
    """Autogenerate against the migrated test database finds nothing to do."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "compare_server_default": False,
                "include_name": not_modelled,
            },  # fmt: skip
        )
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []


def test_database_is_at_head(engine):
    [head] = ScriptDirectory.from_config(alembic_config()).get_heads()
    with engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_heads() == (head,)


def test_downgrade_to_base_and_upgrade_again(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        upgrade(engine)
        tables = set(inspect(engine).get_table_names())
        assert set(SQLModel.metadata.tables) <= tables

        command.downgrade(alembic_config(engine=engine), "base")
        engine.dispose()
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        with engine.connect() as connection:
            assert MigrationContext.configure(connection).get_current_heads() == ()

        upgrade(engine)
        engine.dispose()
        assert set(inspect(engine).get_table_names()) == tables
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "include_name": not_modelled}
            )
            assert compare_metadata(context, SQLModel.metadata) == []
    finally:
        engine.dispose()

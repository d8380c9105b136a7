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


def insert_shop(connection, customers: list[tuple[str, str]]) -> None:
    """A business with customers (phone, consent) and one text, as a shop on 0004 or later
    holds them: raw SQL, since the models are the newest schema's."""
    import sqlalchemy as sa

    connection.execute(sa.text(
        "INSERT INTO business (name, timezone, window_start, window_end, "
        "send_rate_per_second, thank_you_delay_minutes, daily_automated_cap, "
        "provider_handles_opt_out, review_mode, rating_scale, review_cooldown_days, "
        "review_reminder_days, unanswered_alert_minutes, after_hours_reply, "
        "missed_call_textback, review_hold_days, missed_call_hourly_limit, created_at) "
        "VALUES ('B', 'America/New_York', '09:00', '20:00', 1, 30, 1, 1, 'direct', 5, "
        "180, 3, 30, 1, 1, 3, 20, '2026-01-01 00:00:00')"))  # fmt: skip
    for phone, consent in customers:
        connection.execute(sa.text(
            "INSERT INTO customer (business_id, phone, name, tags, consent, number_status, "
            "last_message_preview, unread_count, needs_reply, notes, created_at) VALUES "
            "(1, :phone, '', '[]', :consent, 'ok', '', 0, 0, '', '2026-01-01 00:00:00')"),
            {"phone": phone, "consent": consent})  # fmt: skip
    connection.execute(sa.text(
        "INSERT INTO message (business_id, customer_id, direction, body, kind, status, "
        "segments, encoding, cause, attempts, created_at) VALUES (1, 1, 'outbound', 'hi', "
        "'manual', 'sent', 1, 'GSM-7', 'user', 1, '2026-01-01 00:00:00')"))  # fmt: skip


def test_every_migration_of_this_release_runs_on_a_database_with_rows(tmp_path):
    """From 0004 (the last revision a shop may run) to head and back, on SQLite with foreign
    keys on and rows pointing at business and customer: no migration rebuilds a table that
    others point at (that fails with data in it, as it did for 0005 in batch mode)."""
    import sqlalchemy as sa
    from alembic import command

    from app.db import make_engine
    from app.migrate import alembic_config

    engine = make_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    config = alembic_config(engine=engine)
    command.upgrade(config, "0004_trust")
    with engine.begin() as c:
        insert_shop(c, [("+12125550123", "granted")])
    command.upgrade(config, "head")
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM message")).scalar_one() == 1
        assert c.execute(sa.text("SELECT ces_enabled FROM business")).scalar_one() in (0, False)
    command.downgrade(config, "0004_trust")
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM customer")).scalar_one() == 1
    engine.dispose()


def test_customer_facts_are_counted_from_the_visits_a_shop_already_has(tmp_path):
    """0012 adds the customer's facts and counts them from the visits there are: three
    completed visits three weeks apart (one canceled in between is not counted)."""
    import sqlalchemy as sa
    from alembic import command

    from app.db import make_engine
    from app.migrate import alembic_config

    engine = make_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    config = alembic_config(engine=engine)
    command.upgrade(config, "0011_media")
    with engine.begin() as c:
        insert_shop(c, [("+12125550123", "granted"), ("+12125550124", "granted")])
        for day, staff, amount, status in (("2026-01-01", "Ana", 4000, "completed"),
                                           ("2026-01-10", "Bo", None, "canceled"),
                                           ("2026-01-22", "Bo", 5000, "completed"),
                                           ("2026-02-12", "Ana", None, "completed")):  # fmt: skip
            c.execute(sa.text(
                "INSERT INTO visit (business_id, customer_id, occurred_at, staff, amount_cents, "
                "status, source, created_at) VALUES (1, 1, :day, :staff, :amount, :status, "
                "'api', :day)"), {"day": f"{day} 15:00:00.000000", "staff": staff,
                                  "amount": amount, "status": status})  # fmt: skip
    command.upgrade(config, "head")
    with engine.connect() as c:
        counted = c.execute(sa.text(
            "SELECT visit_count, first_visit_at, last_visit_at, usual_gap_days, "
            "total_spent_cents, favourite_staff, overdue_at FROM customer ORDER BY id"
        )).all()  # fmt: skip
    assert counted[0][0] == 3
    assert counted[0][1].startswith("2026-01-01 15:00") and counted[0][2].startswith("2026-02-12")
    assert counted[0][3] == 21.0 and counted[0][4] == 9000 and counted[0][5] == "Ana"
    assert counted[0][6].startswith("2026-03-16 03:00")  # 21 days x 1.5 after the last
    assert counted[1] == (0, None, None, None, None, None, None)
    command.downgrade(config, "0011_media")
    engine.dispose()

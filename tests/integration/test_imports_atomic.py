"""All or nothing, even when the database itself refuses a row half-way: a CSV import of
visits (the command) or of customers (the owner's page) whose last row fails at the
database records nothing, not even the rows before it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, text
from sqlmodel import Session, select

from app.models import ConsentEvent, Customer, Message, Visit
from tests.conftest import is_postgres
from tests.integration.test_owner_helpers import OVERRIDES, post, sign_in

REFUSED = "Refused By The Database"


@pytest.fixture
def settings_overrides():
    return OVERRIDES


@pytest.fixture
def refusing_database(engine):
    """A trigger that refuses one value, as a constraint added by a later migration or a
    replica in trouble would: the rows before it were fine."""
    with engine.begin() as conn:
        if is_postgres():
            # One function per table: plpgsql resolves NEW.<field> against the row it fires on.
            for table, field in (("visit", "staff"), ("customer", "name")):
                conn.execute(text(
                    f"CREATE FUNCTION refuse_{table}() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.{field} = '{REFUSED}' THEN "
                    "RAISE EXCEPTION 'refused by the database'; END IF; RETURN NEW; END $$ "
                    "LANGUAGE plpgsql"
                ))  # fmt: skip
                conn.execute(text(
                    f"CREATE TRIGGER refuse_{table} BEFORE INSERT OR UPDATE ON {table} "
                    f"FOR EACH ROW EXECUTE FUNCTION refuse_{table}()"
                ))  # fmt: skip
        else:
            conn.execute(text(
                f"CREATE TRIGGER refuse_visit BEFORE INSERT ON visit WHEN NEW.staff = '{REFUSED}' "
                "BEGIN SELECT RAISE(ABORT, 'refused by the database'); END"
            ))  # fmt: skip
            for event in ("INSERT", "UPDATE"):
                conn.execute(text(
                    f"CREATE TRIGGER refuse_customer_{event.lower()} BEFORE {event} ON customer "
                    f"WHEN NEW.name = '{REFUSED}' "
                    "BEGIN SELECT RAISE(ABORT, 'refused by the database'); END"
                ))  # fmt: skip
    yield
    with engine.begin() as conn:
        if is_postgres():
            for table in ("visit", "customer"):
                conn.execute(text(f"DROP FUNCTION refuse_{table}() CASCADE"))
        else:
            for name in ("refuse_visit", "refuse_customer_insert", "refuse_customer_update"):
                conn.execute(text(f"DROP TRIGGER {name}"))


def count(engine, model) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(model)).one()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_visits_import_whose_last_row_the_database_refuses_records_nothing(
    cli, engine, tmp_path, business, refusing_database
):
    path = tmp_path / "visits.csv"
    path.write_text(
        "phone,name,consent,staff\n"
        "+12125550123,Maria Lopez,yes,Ana\n"
        "+12125550124,Sam Rivera,yes,Ben\n"
        f"+12125550125,Priya Shah,yes,{REFUSED}\n",
        encoding="utf-8",
    )
    code, out, err = cli("import-visits", str(path), "--business", str(business.id))
    assert code == 1, (out, err)
    assert "row 4" in err and "refused" in err and "nothing imported" in err
    assert count(engine, Visit) == 0
    assert count(engine, Customer) == 0
    assert count(engine, Message) == 0
    assert count(engine, ConsentEvent) == 0


def test_customer_import_whose_last_row_the_database_refuses_records_nothing(
    client, business, engine, refusing_database
):
    sign_in(client)
    csv_text = (
        "phone,name,consent\n"
        "+12125550123,Maria Lopez,yes\n"
        "+12125550124,Sam Rivera,no\n"
        f"+12125550125,{REFUSED},yes\n"
    )
    response = post(client, "/customers/import/confirm", {"csv_text": csv_text},
                    token_path="/customers/import")  # fmt: skip
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Row 4:" in page and "refused" in page and "Nothing was imported" in page
    assert count(engine, Customer) == 0
    assert count(engine, ConsentEvent) == 0

"""The `regulars` command, run in-process against the test database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect
from sqlmodel import Session, select

from app.care.customers import find_or_create, set_consent
from app.care.demo import DEMO_CUSTOMERS, DEMO_FRIEND, DEMO_NUMBER
from app.care.outbound import queue_text
from app.migrate import alembic_config
from app.models import ApiKey, Business, ConsentEvent, Customer, Message, SimulatedText, User
from tests.conftest import BUSINESS_NUMBER, CUSTOMER_PHONE

# test_commands_close_their_database_connections checks that a command closes its database
# connections; elsewhere a leaked one is collected right after the command (see `cli`) and
# ignored, so that one leak fails one test rather than all of them.
leaks_ignored = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def count(engine, model, *where) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(model).where(*where)).one()


@pytest.fixture
def cli_environment(database_url) -> dict:
    """No public origin: the commands work without one."""
    return {"DATABASE_URL": database_url, "SMS_BACKEND": "simulator",
            "REGULARS_ENV": "development"}  # fmt: skip


CREATE = [
    "business", "create", "--name", "Corner Garage", "--number", "(212) 555-0100",
    "--timezone", "America/Chicago", "--owner-email", "Owner@Garage.test",
    "--owner-password", "a long enough password", "--review-url", "https://g.page/r/garage",
]  # fmt: skip


@leaks_ignored
def test_db_upgrade_on_a_migrated_database(cli, engine):
    code, _out, err = cli("db", "upgrade")
    assert code == 0, err
    [expected] = ScriptDirectory.from_config(alembic_config()).get_heads()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == expected
    assert "business" in inspect(engine).get_table_names()
    # Twice is still fine.
    assert cli("db", "upgrade")[0] == 0


@leaks_ignored
def test_business_create_prints_a_working_key(cli, client, engine):
    code, out, err = cli(*CREATE)
    assert code == 0, err
    created = json.loads(out)
    assert set(created) == {"business_id", "api_key"}
    with Session(engine) as s:
        business = s.get(Business, created["business_id"])
        assert business.name == "Corner Garage"
        assert business.number == BUSINESS_NUMBER
        assert business.timezone == "America/Chicago"
        owner = s.exec(select(User).where(User.business_id == business.id)).one()
        assert owner.email == "owner@garage.test"
        assert owner.password_hash != "a long enough password"
        key = s.exec(select(ApiKey).where(ApiKey.business_id == business.id)).one()
        assert key.key_hash != created["api_key"]  # only the hash is stored
    response = client.get(
        "/api/v1/business", headers={"Authorization": f"Bearer {created['api_key']}"}
    )
    assert response.status_code == 200
    assert response.json["id"] == created["business_id"]
    assert response.json["review_url"] == "https://g.page/r/garage"


@leaks_ignored
@pytest.mark.parametrize(
    "change, field",
    [
        ({"--timezone": "Mars/Olympus"}, "timezone"),
        ({"--number": "555"}, "number"),
        ({"--owner-password": "short"}, "password"),
    ],
)
def test_business_create_bad_input_exits_non_zero_and_creates_nothing(cli, engine, change, field):
    argv = list(CREATE)
    for flag, value in change.items():
        argv[argv.index(flag) + 1] = value
    code, out, err = cli(*argv)
    assert code != 0
    assert out == ""
    assert "error" in err and field in err
    assert count(engine, Business) == 0
    assert count(engine, User) == 0
    assert count(engine, ApiKey) == 0


@leaks_ignored
def test_business_create_duplicate_number_exits_non_zero(cli, engine):
    assert cli(*CREATE)[0] == 0
    argv = list(CREATE)
    argv[argv.index("--owner-email") + 1] = "second@garage.test"
    argv[argv.index("--number") + 1] = "+1 212 555 0100"  # the same number, written differently
    code, out, err = cli(*argv)
    assert code != 0
    assert out == ""
    assert "+12125550100" in err and "error" in err
    assert count(engine, Business) == 1
    assert count(engine, User) == 1
    assert count(engine, ApiKey) == 1


@leaks_ignored
def test_worker_once_sends_due_texts_through_the_simulator(cli, engine, session):
    code, out, err = cli(*CREATE)
    business = session.get(Business, json.loads(out)["business_id"])
    # The command runs on the real clock: queue a typed text that is due now.
    now = datetime.now(UTC) - timedelta(minutes=1)
    customer, _ = find_or_create(session, business, CUSTOMER_PHONE, name="Maria", now=now)
    set_consent(session, customer, "granted", source="api", now=now)
    message = queue_text(session, business, customer, "Your car is ready.", "manual", now=now)
    later = queue_text(
        session, business, customer, "Tomorrow", "manual", now=now,
        send_at=datetime.now(UTC) + timedelta(days=1),
    )  # fmt: skip
    session.commit()

    code, out, err = cli("worker", "--once")
    assert code == 0, err
    stats = json.loads(out)
    assert stats["sent"] == 1
    assert stats["failed"] == 0
    with Session(engine) as s:
        [carried] = s.exec(select(SimulatedText)).all()
        assert carried.handset == CUSTOMER_PHONE
        assert carried.direction == "to_handset"
        assert carried.business_number == BUSINESS_NUMBER
        assert "Your car is ready." in carried.body
        sent = s.get(Message, message.id)
        assert sent.status == "delivered"  # the simulator's callbacks were played
        assert sent.provider_sid == carried.sid
        assert sent.delivered_at is not None
        assert s.get(Message, later.id).status == "scheduled"
    # Nothing is due any more: a second run sends nothing.
    code, out, _err = cli("worker", "--once")
    assert code == 0 and json.loads(out)["sent"] == 0
    assert count(engine, SimulatedText) == 1


@leaks_ignored
def test_demo_loads_a_business_once(cli, engine):
    code, out, err = cli("demo")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["api_key"]
    with Session(engine) as s:
        business = s.exec(select(Business).where(Business.number == DEMO_NUMBER)).one()
        assert business.id == summary["business_id"]
        customers = s.exec(select(Customer).where(Customer.business_id == business.id)).all()
        assert {c.phone for c in customers} == {phone for phone, _name, _staff in DEMO_CUSTOMERS
                                                } | {DEMO_FRIEND[0]}  # fmt: skip
        assert all(c.consent == "granted" for c in customers)
        assert s.exec(select(func.count(Message.id))).one() > 0
    code, out, _err = cli("demo")
    assert code == 0
    assert json.loads(out)["business_id"] == summary["business_id"]
    assert count(engine, Business) == 1


@pytest.fixture
def owned_business(cli):
    code, out, err = cli(*CREATE)
    assert code == 0, err
    return json.loads(out)["business_id"]


@leaks_ignored
def test_import_customers(cli, engine, tmp_path, owned_business):
    path = tmp_path / "customers.csv"
    path.write_text(
        "Phone,Name,Email,Tags,Consent\n"
        "(212) 555-0123,Maria Lopez,maria@example.com,vip,yes\n"
        "+1 312 555 0124,James Carter,,,no\n"
        "212.555.0125,Priya Shah,,,\n",
        encoding="utf-8",
    )
    code, out, err = cli("import-customers", str(path), "--business", str(owned_business))
    assert code == 0, err
    assert json.loads(out) == {"created": 3, "updated": 0}
    with Session(engine) as s:
        customers = {c.phone: c for c in s.exec(select(Customer)).all()}
        assert set(customers) == {"+12125550123", "+13125550124", "+12125550125"}
        maria = customers["+12125550123"]
        assert (maria.name, maria.email, maria.consent) == (
            "Maria Lopez",
            "maria@example.com",
            "granted",
        )
        assert maria.consent_source == "import"
        assert customers["+13125550124"].consent == "unknown"
        assert all(c.business_id == owned_business for c in customers.values())
        events = s.exec(select(ConsentEvent)).all()
        assert [(e.customer_id, e.source) for e in events] == [(maria.id, "import")]
    # Importing again updates instead of duplicating.
    code, out, _err = cli("import-customers", str(path), "--business", str(owned_business))
    assert code == 0
    assert json.loads(out) == {"created": 0, "updated": 3}
    assert count(engine, Customer) == 3


@leaks_ignored
def test_import_with_one_bad_row_imports_nothing(cli, engine, tmp_path, owned_business):
    path = tmp_path / "customers.csv"
    path.write_text(
        "phone,name,email,tags,consent\n"
        "+12125550123,Maria Lopez,,,yes\n"
        "+12125550124,James Carter,,,yes\n"
        "not-a-phone,Broken Row,,,yes\n"
        "+12125550126,Priya Shah,,,yes\n",
        encoding="utf-8",
    )
    code, out, err = cli("import-customers", str(path), "--business", str(owned_business))
    assert code == 1
    assert out == ""
    assert "row 4" in err
    assert "row 2" not in err and "row 3" not in err and "row 5" not in err
    assert count(engine, Customer) == 0
    assert count(engine, ConsentEvent) == 0


@leaks_ignored
def test_import_for_unknown_business_fails(cli, engine, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("phone,name\n+12125550123,Maria\n", encoding="utf-8")
    code, out, err = cli("import-customers", str(path), "--business", "999")
    assert code != 0
    assert out == ""
    assert "999" in err
    assert count(engine, Customer) == 0


@leaks_ignored
def test_bad_configuration_is_a_clear_error(cli, monkeypatch):
    monkeypatch.setenv("SMS_BACKEND", "carrier-pigeon")
    code, out, err = cli("worker", "--once")
    assert code != 0
    assert out == ""
    assert "SMS_BACKEND" in err


def test_commands_close_their_database_connections(cli, engine):
    """A command closes the connections it opened (psycopg warns about ones left open)."""
    assert cli("db", "upgrade")[0] == 0
    assert cli(*CREATE)[0] == 0
    assert cli("worker", "--once")[0] == 0

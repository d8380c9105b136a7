"""Alerts that reach the owner out of the box: setting up asks for the alert phone, the inbox
says so while none is set, and the demo has one (its alerts show on the simulated phone)."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session

from app.care.demo import DEMO_ALERT_PHONE, load_demo
from app.models import Business
from tests.integration.test_cli import CREATE, leaks_ignored
from tests.integration.test_owner_helpers import OVERRIDES

NO_ALERT_PHONE = "No alert phone yet"


@pytest.fixture
def settings_overrides():
    return OVERRIDES


def test_the_inbox_says_so_until_an_alert_phone_is_set(owner, client, auth):
    page = owner.get("/inbox").get_data(as_text=True)
    assert NO_ALERT_PHONE in page and "Add your alert phone" in page
    patched = client.patch("/api/v1/business", json={"alert_phone": "(212) 555-0199"},
                           headers=auth)  # fmt: skip
    assert patched.status_code == 200 and patched.json["alert_phone"] == "+12125550199"
    assert NO_ALERT_PHONE not in owner.get("/inbox").get_data(as_text=True)


@leaks_ignored
def test_setting_up_asks_for_the_alert_phone(cli, engine):
    code, out, err = cli(*CREATE)
    assert code == 0 and "no alert phone" in err and "--alert-phone" in err
    another = [v.replace("Owner@Garage", "Other@Garage") for v in CREATE]
    code, out, err = cli(*another, "--number", "(212) 555-0101", "--alert-phone", "(312) 555-0177")
    assert code == 0, err
    assert "no alert phone" not in err
    with Session(engine) as s:
        business = s.get(Business, json.loads(out)["business_id"])
        assert business.alert_phone == "+13125550177"
    third = [v.replace("Owner@Garage", "Third@Garage") for v in CREATE]
    code, _out, err = cli(*third, "--number", "(212) 555-0102", "--alert-phone", "not a phone")
    assert code == 2 and "alert_phone" in err


def test_the_demo_owner_gets_alerts(engine, clock):
    with Session(engine) as s:
        loaded = load_demo(s, now=clock.now())
        s.commit()
        assert s.get(Business, loaded["business_id"]).alert_phone == DEMO_ALERT_PHONE

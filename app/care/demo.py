"""A demo business with customers and some history, for trying Regulars out."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from app.care.businesses import create_business
from app.care.inbound import receive_text
from app.care.visits import record_visit
from app.contract.commands import VisitCreate
from app.models import Business, Customer
from app.sms.webhooks import InboundText

DEMO_NUMBER = "+12125550100"
DEMO_ALERT_PHONE = "+12125550199"  # the owner's mobile: its alerts show on the simulated phone
DEMO_CUSTOMERS = [
    ("+12125550111", "Maria Lopez", "Ana"),
    ("+12125550112", "James Carter", "Ana"),
    ("+13125550113", "Priya Shah", "Leo"),
    ("+15125550114", "Tom O'Neill", "Leo"),
]
DEMO_FRIEND = ("+12125550115", "Sofia Reyes")  # came through Maria's code


def load_demo(session: Session, *, now: datetime) -> dict:
    """Create the demo salon (once) with visits and a reply; returns its id and API key.
    Not committed: the command that loads it commits."""
    existing = session.exec(select(Business).where(col(Business.number) == DEMO_NUMBER)).first()
    if existing is not None:
        return {"business_id": existing.id, "api_key": None, "note": "demo already loaded"}
    business, key = create_business(
        session,
        name="Bloom Hair Studio",
        number=DEMO_NUMBER,
        timezone="America/New_York",
        owner_email="owner@bloom.example",
        owner_password="bloom-demo-password",
        review_url="https://g.page/r/bloom-hair-studio/review",
        alert_phone=DEMO_ALERT_PHONE,
        now=now,
    )
    business.thank_you_delay_minutes = 1  # so a newcomer sees the thank-you arrive
    business.referral_offer = "15% off your first visit"
    business.referral_reward = "$10 off your next visit"
    session.add(business)
    for index, (phone, name, staff) in enumerate(DEMO_CUSTOMERS):
        visit = VisitCreate(
            phone=phone,
            name=name,
            consent=True,
            consent_source="demo",
            marketing_consent=index == 0,  # Maria said yes to offers too
            staff=staff,
            occurred_at=now - timedelta(hours=3 + index),
        )
        record_visit(session, business, visit, now=now, source="demo")
    maria = DEMO_CUSTOMERS[0][0]
    reply = InboundText(provider_sid="SMdemo0000000000000000000000000001", to=DEMO_NUMBER,
                        from_=maria, sender=maria,
                        body="Thank you! Can I book with Ana again next month?")  # fmt: skip
    receive_text(session, reply, now=now)
    # Word of mouth: Maria's friend texts her code, then comes in (Maria earns her reward).
    code = session.exec(select(Customer.referral_code).where(
        col(Customer.business_id) == business.id, col(Customer.phone) == maria)).one()  # fmt: skip
    friend = InboundText(provider_sid="SMdemo0000000000000000000000000002", to=DEMO_NUMBER,
                         from_=DEMO_FRIEND[0], sender=DEMO_FRIEND[0],
                         body=f"Hi! My friend Maria gave me her code {code}")  # fmt: skip
    receive_text(session, friend, now=now - timedelta(hours=2))
    record_visit(session, business, VisitCreate(
        phone=DEMO_FRIEND[0], name=DEMO_FRIEND[1], consent=True, consent_source="demo",
        staff="Leo", occurred_at=now - timedelta(hours=1)), now=now, source="demo")  # fmt: skip
    return {
        "business_id": business.id,
        "api_key": key,
        "owner_email": "owner@bloom.example",
        "owner_password": "bloom-demo-password",
    }

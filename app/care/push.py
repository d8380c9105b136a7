"""Notifications on the owner's and staff's own devices (Web Push), beside the alert texts.

Each user chooses how alerts reach them (`User.alert_by`): texts to the business's alert
phone (the default, as before), notifications on the devices where they turned them on, or
both. A notice is a row written in the same transaction as what caused it: a new text in
(every text that lands in the inbox) or an owner alert (an unhappy reply, a customer left
waiting). The worker sends due notices after the webhook has answered (app.care.dispatcher),
retries what a push service could not take, and forgets a device its push service says is
gone. Nothing here is committed: the caller's unit of work commits.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy import delete, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from app.contract.commands import PushSubscriptionSave
from app.errors import Invalid, Refused
from app.models import (
    Business,
    Customer,
    PushNotice,
    PushSubscription,
    User,
    UTCDateTime,
    WebPushKey,
    table_of,
)
from app.phones import as_written_by
from app.webpush import PushAction, PushAnswer, PushTarget, VapidKeys, new_vapid_keys

log = logging.getLogger("regulars.push")

ALERT_CHOICES = {
    "text": "Texts to the alert phone",
    "push": "Notifications on my devices",
    "both": "Both",
}
BY_PUSH = ("push", "both")
KEY_NAME = "vapid"
MAX_DEVICES = 10  # per user: phones, tablets, a computer at the front desk
MAX_ATTEMPTS = 5
EXCERPT_CHARS = 120
NOTICE_RETENTION = timedelta(days=7)


def _insert(session: Session):
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


# ---- the installation's keys --------------------------------------------------------------


def vapid_keys(session: Session, *, now: datetime) -> VapidKeys:
    """The installation's VAPID key pair, made the first time it is needed. Race-safe across
    processes: every process offers a new pair and the first insert wins (the others insert
    nothing and read the winner's). In the caller's transaction, which must commit."""
    row = session.get(WebPushKey, KEY_NAME)
    if row is None:
        fresh = new_vapid_keys()
        session.execute(
            _insert(session)(table_of(WebPushKey))
            .values(name=KEY_NAME, private_key=fresh.private_key, public_key=fresh.public_key,
                    created_at=now)
            .on_conflict_do_nothing(index_elements=["name"])
        )  # fmt: skip
        row = session.get_one(WebPushKey, KEY_NAME, populate_existing=True)
    return VapidKeys(row.private_key, row.public_key)


# ---- each user's choice and devices -------------------------------------------------------


def set_alert_choice(session: Session, user: User, choice: str) -> None:
    if choice not in ALERT_CHOICES:
        raise Invalid("alert_by", "Choose texts, notifications or both.")
    user.alert_by = choice
    session.add(user)


def devices(session: Session, user: User) -> list[PushSubscription]:
    return list(
        session.exec(
            select(PushSubscription)
            .where(col(PushSubscription.user_id) == user.id)
            .order_by(col(PushSubscription.id))
        )
    )


# (User-Agent marker, name), first match wins: Edge and Chrome on iPhone say "Safari" too.
BROWSERS = (("Edg/", "Edge"), ("Firefox/", "Firefox"), ("FxiOS/", "Firefox"), ("CriOS/", "Chrome"),
            ("Chrome/", "Chrome"), ("Safari/", "Safari"))  # fmt: skip
SYSTEMS = (("iPhone", "iPhone"), ("iPad", "iPad"), ("Android", "Android"),
           ("Windows", "Windows"), ("Mac OS X", "a Mac"), ("Linux", "Linux"))  # fmt: skip


def device_tag(endpoint: str) -> str:
    """A device's endpoint as its page may show it (SHA-256, hex): the page's script finds
    its own device in the list without the list giving out anyone's push address."""
    return hashlib.sha256(endpoint.encode("utf-8")).hexdigest()


def device_name(user_agent: str) -> str:
    """'Chrome on Android', 'Safari on iPhone': enough for a person to tell their devices apart."""
    agent = user_agent or ""
    browser = next((name for key, name in BROWSERS if key in agent), "A browser")
    system = next((name for key, name in SYSTEMS if key in agent), "")
    return f"{browser} on {system}" if system else browser


def save_subscription(
    session: Session, user: User, subscription: PushSubscriptionSave, *, device: str, now
) -> PushSubscription:
    """Keep (or refresh) one device's subscription for `user`, in their business."""
    known = session.exec(
        select(PushSubscription).where(
            col(PushSubscription.user_id) == user.id,
            col(PushSubscription.endpoint) == subscription.endpoint,
        )
    ).first()
    if known is None and len(devices(session, user)) >= MAX_DEVICES:
        raise Refused("too_many_devices", f"You have {MAX_DEVICES} devices with notifications "
                      "on: remove one you no longer use first.")  # fmt: skip
    table = table_of(PushSubscription)
    values = {"business_id": user.business_id, "user_id": user.id,
              "endpoint": subscription.endpoint, "p256dh": subscription.keys.p256dh,
              "auth": subscription.keys.auth, "device": device[:80], "created_at": now}  # fmt: skip
    statement = _insert(session)(table).values(values)
    # The same browser subscribing again (new keys, or two tabs at once) is the same device.
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["user_id", "endpoint"],
            set_={"p256dh": statement.excluded.p256dh, "auth": statement.excluded.auth,
                  "device": statement.excluded.device},
        )
    )  # fmt: skip
    return session.exec(
        select(PushSubscription)
        .where(
            col(PushSubscription.user_id) == user.id,
            col(PushSubscription.endpoint) == subscription.endpoint,
        )
        .execution_options(populate_existing=True)
    ).one()


def forget_device(
    session: Session, user: User, *, device_id: int | None = None, endpoint: str | None = None
) -> bool:
    """Remove one of the user's own devices (by id, or by the endpoint its browser knows)."""
    query = select(col(PushSubscription.id)).where(col(PushSubscription.user_id) == user.id)
    if device_id is not None:
        query = query.where(col(PushSubscription.id) == device_id)
    elif endpoint:
        query = query.where(col(PushSubscription.endpoint) == endpoint)
    else:
        return False
    found = session.exec(query).first()
    if found is None:
        return False
    _delete_subscriptions(session, col(PushSubscription.id) == found)
    return True


def forget_all_devices(session: Session, user_id: int) -> None:
    """No more notifications for this user anywhere (signed out everywhere, access reset):
    a lost phone must not go on showing customers' texts."""
    _delete_subscriptions(session, col(PushSubscription.user_id) == user_id)


def _delete_subscriptions(session: Session, which) -> None:
    """The subscriptions `which` selects, and the notices waiting for them."""
    ids = select(col(PushSubscription.id)).where(which)
    session.execute(delete(PushNotice).where(col(PushNotice.subscription_id).in_(ids)))
    session.execute(delete(PushSubscription).where(which))


def wants_text(session: Session, business_id: int) -> bool:
    """Whether the alert phone is still texted: unless every active user of the business took
    notifications instead of texts and has a device to get them on (so an alert is never
    sent nowhere, and a business nobody changed texts as it always did)."""
    has_device = (
        sa.exists().where(col(PushSubscription.user_id) == col(User.id)).correlate(table_of(User))
    )
    rows = session.exec(
        select(col(User.alert_by), has_device).where(
            col(User.business_id) == business_id, col(User.active).is_(True)
        )
    ).all()
    return not rows or any(choice != "push" or not device for choice, device in rows)


def has_push(session: Session, business_id: int) -> bool:
    """Anyone of the business takes notifications on a device."""
    devices = sa.select(table_of(PushSubscription).c.id).select_from(_devices_and_users())
    found = session.execute(devices.where(*_takes_push(business_id)).limit(1)).first()
    return found is not None


def _devices_and_users() -> sa.Join:
    subscriptions, users = table_of(PushSubscription), table_of(User)
    return subscriptions.join(users, users.c.id == subscriptions.c.user_id)


def _takes_push(business) -> list:
    """A device of the business whose user (active, of the same business) takes notifications;
    `business` is an id or a bind parameter."""
    subscriptions, users = table_of(PushSubscription), table_of(User)
    return [subscriptions.c.business_id == business, users.c.business_id == business,
            users.c.active.is_(True), users.c.alert_by.in_(BY_PUSH)]  # fmt: skip


# ---- notices, written with what caused them -----------------------------------------------


@lru_cache(maxsize=4)
def _notice_statements(dialect: str) -> dict:
    """Each statement queues a notice for every device of the business whose user takes
    notifications, in one round trip (an inbound text's hot path pays one statement)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    notices, subscriptions = table_of(PushNotice), table_of(PushSubscription)
    when = sa.bindparam("now", type_=UTCDateTime())
    devices = (
        sa.select(
            sa.bindparam("business_id", type_=sa.Integer),
            subscriptions.c.id,
            sa.bindparam("customer_id", type_=sa.Integer),
            sa.bindparam("message_id", type_=sa.Integer),
            sa.bindparam("kind", type_=sa.String),
            sa.bindparam("reason", type_=sa.String),
            sa.bindparam("excerpt", type_=sa.String),
            sa.literal("pending", sa.String),
            sa.literal(0, sa.Integer),
            when,
            when,
        )
        .select_from(_devices_and_users())
        .where(*_takes_push(sa.bindparam("for_business", type_=sa.Integer)))
    )
    columns = ["business_id", "subscription_id", "customer_id", "message_id", "kind", "reason",
               "excerpt", "state", "attempts", "send_at", "created_at"]  # fmt: skip
    queue = insert(notices).from_select(columns, devices)
    # An alert about a text takes over that text's plain notice (sent or not): one
    # notification per text and device, and an alert always goes.
    alert = queue.on_conflict_do_update(
        index_elements=["subscription_id", "message_id"],
        set_={"kind": queue.excluded.kind, "reason": queue.excluded.reason,
              "excerpt": queue.excluded.excerpt, "state": "pending", "attempts": 0,
              "send_at": queue.excluded.send_at, "lease_until": None, "error": None},
    )  # fmt: skip
    # How many were queued, from the rows themselves (a driver's rowcount for an INSERT ...
    # SELECT is not to be trusted: -1 on PostgreSQL when nothing matched).
    return {"text": queue.on_conflict_do_nothing().returning(notices.c.id),
            "alert": alert.returning(notices.c.id)}  # fmt: skip


def _queue(session, kind, *, business_id, customer_id, message_id, reason, excerpt, now) -> int:
    statement = _notice_statements(session.get_bind().dialect.name)[kind]
    return len(session.execute(
        statement,
        {"business_id": business_id, "for_business": business_id, "customer_id": customer_id,
         "message_id": message_id, "kind": kind, "reason": reason[:200],
         "excerpt": " ".join(excerpt.split())[:EXCERPT_CHARS], "now": now},
    ).all())  # fmt: skip


def notify_text(session: Session, *, business_id: int, customer_id: int, message_id: int,
                body: str, now: datetime) -> int:  # fmt: skip
    """A text came in: a notice to every device that takes notifications (none when an alert
    about this very text is already queued). Returns how many."""
    return _queue(session, "text", business_id=business_id, customer_id=customer_id,
                  message_id=message_id, reason="", excerpt=body, now=now)  # fmt: skip


def notify_alert(session: Session, *, business_id: int, customer_id: int,
                 message_id: int | None, reason: str, excerpt: str,
                 now: datetime) -> int:  # fmt: skip
    """An owner alert, as a notice to every device that takes notifications. Returns how many."""
    return _queue(session, "alert", business_id=business_id, customer_id=customer_id,
                  message_id=message_id, reason=reason, excerpt=excerpt, now=now)  # fmt: skip


def payload(notice: PushNotice, customer: Customer, business: Business) -> dict:
    """What the notification says, in plain words, and the conversation it opens."""
    who = customer.name or as_written_by(business.number, customer.phone)
    excerpt = f"“{notice.excerpt}”" if notice.excerpt else ""
    if notice.kind == "alert":
        reason = notice.reason[:1].upper() + notice.reason[1:]
        title, body = f"Alert: {who}", f"{reason} {excerpt}".strip()
    else:
        title, body = who, excerpt or "sent a text"
    return {"title": title, "body": body, "url": f"/conversations/{customer.id}",
            "tag": f"conversation-{customer.id}", "kind": notice.kind}  # fmt: skip


# ---- the worker's side --------------------------------------------------------------------


@dataclass(frozen=True)
class PushJob:
    notice_id: int
    attempts: int  # as claimed: a notice taken over meanwhile (an alert) is not recorded
    subscription_id: int
    target: PushTarget
    payload: bytes
    urgency: str
    topic: str


def claim(session: Session, *, now: datetime, lease: timedelta, limit: int,
          skip_locked: bool) -> list[PushJob]:  # fmt: skip
    """Take due notices (and any whose worker stopped mid-send: a second notification with
    the same tag only replaces the first). Not committed: commit before sending."""
    due = (
        select(col(PushNotice.id))
        .where(
            or_(
                sa.and_(col(PushNotice.state) == "pending", col(PushNotice.send_at) <= now),
                sa.and_(col(PushNotice.state) == "sending", col(PushNotice.lease_until) < now),
            )
        )
        .order_by(col(PushNotice.send_at), col(PushNotice.id))
        .limit(limit)
    )
    if skip_locked:
        due = due.with_for_update(skip_locked=True)
    ids = list(session.exec(due).all())
    if not ids:
        return []
    rows = session.exec(
        select(PushNotice, PushSubscription, Customer, Business)
        .join(PushSubscription, col(PushSubscription.id) == col(PushNotice.subscription_id))
        .join(Customer, col(Customer.id) == col(PushNotice.customer_id))
        .join(Business, col(Business.id) == col(PushNotice.business_id))
        .where(col(PushNotice.id).in_(ids))
        .order_by(col(PushNotice.id))
    ).all()
    jobs = []
    for notice, subscription, customer, business in rows:
        notice.state, notice.lease_until = "sending", now + lease
        notice.attempts += 1
        session.add(notice)
        body = json.dumps(payload(notice, customer, business), ensure_ascii=False)
        jobs.append(PushJob(
            notice.id, notice.attempts, subscription.id,
            PushTarget(subscription.endpoint, subscription.p256dh, subscription.auth),
            body.encode("utf-8"), "high" if notice.kind == "alert" else "normal",
            f"c{customer.id}",
        ))  # fmt: skip
    return jobs


def record(session: Session, job: PushJob, answer: PushAnswer, *, now: datetime,
           retry_in: float) -> str:  # fmt: skip
    """Apply what the push service answered; returns what became of the notice. Not committed."""
    notice = session.get(PushNotice, job.notice_id, with_for_update=True, populate_existing=True)
    if notice is None or notice.state != "sending" or notice.attempts != job.attempts:
        return "superseded"  # the device was removed, or an alert took the notice over
    notice.lease_until = None
    if answer.action is PushAction.DELIVERED:
        notice.state, notice.sent_at, notice.error = "sent", now, None
        subscription = session.get(PushSubscription, job.subscription_id)
        if subscription is not None:
            subscription.last_sent_at = now
            session.add(subscription)
        session.add(notice)
        return "sent"
    if answer.action is PushAction.GONE:
        # The browser withdrew the subscription or it expired: the device is forgotten.
        log.info("push subscription %s is gone (%s): removed", job.subscription_id, answer.status)
        _delete_subscriptions(session, col(PushSubscription.id) == job.subscription_id)
        return "gone"
    notice.error = f"{answer.status or 'no answer'}: {answer.detail}"[:200]
    if answer.action is PushAction.RETRY and notice.attempts < MAX_ATTEMPTS:
        wait = max(retry_in, answer.retry_after or 0.0)
        notice.state, notice.send_at = "pending", now + timedelta(seconds=wait)
        session.add(notice)
        return "retried"
    log.warning("push notice %s not delivered: %s", notice.id, notice.error)
    notice.state = "failed"
    session.add(notice)
    return "failed"

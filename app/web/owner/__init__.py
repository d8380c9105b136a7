"""The owner's pages: sign-in and team, inbox, conversations, visits, customers, texts,
broadcasts and settings. Thin blueprints over app.care; everything scoped to the signed-in
user's business."""

from __future__ import annotations

from flask import Flask, g

from app.care import facts, photos
from app.care.outbound import goes_later
from app.care.texts import MERGE_FIELDS
from app.contract.rules import birthday_words
from app.phones import display
from app.sms.encoding import segment_info
from app.sms.errors import failure_reason
from app.sms.gateway import SHOWN_MEDIA_TYPES
from app.web.context import now
from app.web.owner import (
    auth,
    broadcasts,
    conversation,
    customers,
    dashboard,
    inbox,
    notifications,
    overdue,
    replies,
    settings,
    templates,
    visits,
)
from app.web.owner.common import (
    SESSION_LIFETIME,
    PageSessions,
    home,
    load_user,
    local,
    source_words,
)

BLUEPRINTS = (
    auth.bp,
    dashboard.bp,
    inbox.bp,
    overdue.bp,
    conversation.bp,
    visits.bp,
    customers.bp,
    templates.bp,
    replies.bp,
    settings.bp,
    notifications.bp,
    broadcasts.bp,
)

STATE_LABELS = {
    "scheduled": "Scheduled",
    "sending": "Sending",
    "sent": "Sent",
    "delivered": "Delivered",
    "failed": "Not delivered",
    "undelivered": "Not delivered",
    "canceled": "Canceled",
    "received": "Received",
}
CONSENT_WORDS = {
    "granted": "agreed to texts",
    "unknown": "consent withdrawn",
    "opted_out": "opted out",
}


def message_state(message) -> dict:
    """How a text's state reads in a bubble: a label, a CSS class and, for failures, why."""
    status = message.status
    label = STATE_LABELS.get(status, status.capitalize())
    detail = None
    if status in {"scheduled", "sending"} and not goes_later(message):
        label, status = "Sending…", "sending"  # it goes as soon as a worker takes it
    elif status == "scheduled" and message.send_at is not None:
        label = f"Scheduled for {local(message.send_at, 'full')}"
        detail = message.reason  # held or moved, in words
    elif status == "scheduled":
        label, detail = "Held", message.reason  # a paused broadcast's text: no time yet
    elif status in {"failed", "undelivered"}:
        detail = failure_reason(message.error_code, message.error_message)
    elif status == "canceled":
        detail = message.reason or message.error_message  # skipped by a rule, in words
    cls = {
        "failed": "failed",
        "undelivered": "failed",
        "canceled": "canceled",
        "scheduled": "scheduled",
        "sending": "sending",
    }.get(status, "")
    return {"label": label, "cls": cls, "detail": detail}


# The encoding in plain words, only when it matters (app.js says the same: UCS2_NOTE).
UCS2_NOTE = "emoji or special letters: shorter texts"


def encoding_note(encoding: str) -> str:
    return f" · {UCS2_NOTE}" if encoding == "UCS-2" else ""


def plural(count: int, word: str) -> str:
    """A count with its word: "1 minute", "30 minutes"."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def shown_phone(value: str | None) -> str:
    """A stored number as the business's owner writes it (E.164 stays in the API and CSV)."""
    return display(value, home())


def kind_label(kind: str) -> str:
    return templates.LABELS.get(kind, kind.replace("_", " ").capitalize())


def facts_line(customer) -> str:
    """A customer's (or an inbox row's) facts in one line: 9th visit · usually every 3 weeks
    · sees Ana."""
    return " · ".join(facts.fact_words(customer.visit_count, customer.usual_gap_days,
                                       customer.favourite_staff))  # fmt: skip


def overdue_now(customer) -> bool:
    return facts.overdue_now(customer.overdue_at, customer.booked_until, now())


def register(app: Flask) -> None:
    """Register every owner blueprint and the template helpers."""
    app.permanent_session_lifetime = SESSION_LIFETIME
    app.session_interface = PageSessions()
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)

    @app.context_processor
    def _owner_context():
        if "user" not in g:
            load_user()
        return {"current_user": g.user, "current_business": g.business}

    app.add_template_filter(local, "local")
    app.add_template_filter(shown_phone, "phone")
    app.add_template_filter(plural, "plural")
    app.add_template_global(encoding_note, "encoding_note")
    app.add_template_global(source_words, "source_words")
    app.add_template_global(message_state, "message_state")
    app.add_template_global(kind_label, "kind_label")
    app.add_template_global(segment_info, "segments")
    app.add_template_global(photos.own_path, "photo_path")
    app.jinja_env.globals["shown_media_types"] = SHOWN_MEDIA_TYPES
    app.jinja_env.globals["photo_limit"] = photos.MAX_PHOTO_BYTES
    app.add_template_global(lambda c: CONSENT_WORDS.get(c, c), "consent_words")
    app.jinja_env.globals["merge_fields"] = MERGE_FIELDS
    app.add_template_global(facts_line, "facts_line")
    app.add_template_global(overdue_now, "overdue")
    app.add_template_global(facts.is_regular, "is_regular")
    app.add_template_global(birthday_words, "birthday_words")
    app.add_template_global(lambda days: facts.gap_words(days).capitalize(), "usual_words")
    app.add_template_global(lambda cents: f"${cents / 100:,.2f}", "money")
    app.add_template_global(now, "now_utc")
    app.add_template_global(broadcasts.state_words, "broadcast_state")
    app.add_template_global(broadcasts.state_badge, "broadcast_badge")
    app.add_template_global(broadcasts.when_words, "broadcast_when")

"""The composer: what the owner types or starts from a saved text, what the customer will
receive, and the rules checked before it goes. Plain functions over a session; none commits.

A typed text and a saved one are rendered the same way, in care.texts' sandbox with the
recipient's merge fields from care.merge. A saved text sent by name (the picker, the API's
`template`) keeps its kind's rules: consent, the sending window and caps, the review cooldown,
and it is stored as that kind, so the next visit knows they were asked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from jinja2 import TemplateSyntaxError, UndefinedError
from sqlmodel import Session, col, select

from app.care import editing, merge, photos, texts
from app.care.automations import REVIEW_ASKS, recently_asked
from app.care.budget import window_for
from app.care.outbound import (
    LIVE_STATES,
    OutboundRefused,
    check_allowed,
    introduction,
    queue_text,
)
from app.errors import Invalid
from app.models import AUTOMATED_KINDS, Business, Customer, Message, TrackedLink, User

# Merge fields a typed text may use: {{ first_name }} and friends.
COMPOSER_FIELDS = ("first_name", "name", "business_name", "staff_name", "review_link")
# Saved texts that make sense to start from by hand, in the picker's order.
PICKER_KINDS = ("thank_you", "review_request", "review_reminder", "feedback_question")
# Saved texts that may be sent by name (the API's `template`); the rest answer events.
TEMPLATE_KINDS = (*PICKER_KINDS, "missed_call")
# Refusals that are about the customer's state rather than the request: 409 at every door.
_UNDEFINED = re.compile(r"'([^']+)' is undefined")


# ---- merge fields ---------------------------------------------------------------------------


def composer_fields(
    session: Session,
    business: Business,
    customer: Customer,
    user: User | None,
    *,
    now: datetime,
    base_url: str,
) -> dict[str, object]:
    """The merge fields a typed text may use for this customer (no review link without a
    review page); the review link is tracked and made only when a text that uses it is sent."""
    every = merge.fields_for(session, business, customer, now=now, base_url=base_url, user=user)
    return {
        name: every[name]
        for name in COMPOSER_FIELDS
        if name != "review_link" or business.review_url
    }


def preview_fields(fields: dict[str, object]) -> dict[str, str]:
    """The fields as a page shows them: a link not made yet by a stand-in of its length."""
    return {
        name: value.preview if isinstance(value, texts.Deferred) else str(value)
        for name, value in fields.items()
    }


def render_typed(body: str, fields: Mapping[str, object]) -> str:
    """What the owner typed, its fill-ins ([First name], or {{ first_name }}) filled in the
    sandbox; line breaks are kept.
    Raises Invalid with a reason for the owner."""
    try:  # [First name] as the chips write it, or {{ first_name }} typed by hand
        return texts.render_text(editing.to_source(body or ""), fields, fold=False)
    except UndefinedError as exc:
        match = _UNDEFINED.search(exc.message or "")
        name = match.group(1) if match else "?"
        if name == "review_link":
            raise Invalid("body", "There is no review link yet: add your review page in "
                             "Settings first.") from exc  # fmt: skip
        known = ", ".join(editing.token(f) for f in fields if f in merge.FIELDS)
        raise Invalid("body", f"There is no fill-in called {name}. Use {known}.") from exc
    except TemplateSyntaxError as exc:
        reason = (exc.message or "").rstrip(".")
        raise Invalid("body", f"Check the merge fields: {reason}.") from exc
    except texts.UnsafeTemplate as exc:
        raise Invalid("body", str(exc)) from exc
    except texts.TooLong as exc:
        raise Invalid("body", str(exc)) from exc


def preview(body: str, fields: dict[str, object], *, introduce_as: str = "") -> str:
    """What the customer will receive for `body`: rendered with the preview values and, for a
    first text (`introduce_as` is the business's name), named and with the opt-out line.
    Raises Invalid. The page's JavaScript gives the same text (tests/data/merge_samples)."""
    text = render_typed(body, preview_fields(fields))
    return introduction(text, introduce_as) if text and introduce_as else text


# ---- saved texts ----------------------------------------------------------------------------


def _kept_as_field(value: object) -> bool:
    # A link is made when the text is sent, and a value that reads as a merge field (a name
    # typed as "{{ x }}") must not become one: both stay merge fields in the draft.
    if isinstance(value, texts.Deferred):
        return True
    return isinstance(value, str) and any(mark in value for mark in ("{{", "{%", "{#"))


def draft(
    session: Session,
    business: Business,
    customer: Customer,
    user: User | None,
    kind: str,
    *,
    now: datetime,
    base_url: str,
) -> str | None:
    """The business's text of `kind` for the owner to start from: filled in for this customer,
    the review link left as {{ review_link }}. None when it cannot go (no review page)."""
    if "review_link" in texts.MERGE_FIELDS[kind] and not business.review_url:
        return None
    every = merge.fields_for(session, business, customer, now=now, base_url=base_url, user=user)
    fields = {
        name: "{{ " + name + " }}" if _kept_as_field(value) else value
        for name, value in every.items()
    }
    return texts.render_for(session, business, kind, **fields)


def picker(
    session: Session,
    business: Business,
    customer: Customer,
    user: User | None,
    *,
    now: datetime,
    base_url: str,
) -> list[tuple[str, str]]:
    """(kind, draft) for each saved text the owner may start from."""
    choices = []
    for kind in PICKER_KINDS:
        text = draft(session, business, customer, user, kind, now=now, base_url=base_url)
        if text:
            choices.append((kind, text))
    return choices


def _check_review_rules(session: Session, business: Business, customer: Customer, kind, now):
    """The review cooldown and the one-reminder rule, as the automations apply them."""
    days = business.review_cooldown_days
    who = customer.first_name or "This customer"
    if kind in REVIEW_ASKS and recently_asked(session, business, customer, now):
        asked = customer.last_review_request_at
        if asked is not None and asked > now - timedelta(days=days):
            since = (now - asked).days
            ago = f"was asked for a review {f'{since} days ago' if since > 1 else 'recently'}"
        else:
            ago = "already has a review request planned"
        raise OutboundRefused(
            "recently_asked", f"{who} {ago}: nobody is asked again within {days} days."
        )
    if kind != "review_reminder":
        return
    asked = customer.last_review_request_at
    if asked is None or asked <= now - timedelta(days=days):
        raise OutboundRefused(
            "reminded", f"{who} has no recent review request to remind them of: ask first."
        )
    opened = session.exec(
        select(col(TrackedLink.id)).where(
            col(TrackedLink.customer_id) == customer.id,
            col(TrackedLink.kind) == "review",
            col(TrackedLink.opened_at) >= asked,
        )
    ).first()
    reminded = session.exec(
        select(col(Message.id)).where(
            col(Message.customer_id) == customer.id,
            col(Message.kind) == "review_reminder",
            col(Message.status).in_(LIVE_STATES),
            col(Message.created_at) > now - timedelta(days=days),
        )
    ).first()
    if opened is not None or reminded is not None:
        why = "already opened the review link" if opened else "already has a reminder"
        raise OutboundRefused("reminded", f"{who} {why}: one reminder at most.")


def send_template(
    session: Session,
    business: Business,
    customer: Customer,
    kind: str,
    *,
    now: datetime,
    base_url: str,
    user: User | None = None,
    body: str | None = None,
    photo: photos.PreparedPhoto | None = None,
) -> Message:
    """Queue the business's text of `kind` by hand (or `body`, the owner's edit of its draft),
    under that kind's rules: consent, the recipient's window and the caps (it waits for them),
    the review cooldown and one reminder at most; stored as that kind. Not committed. Raises
    OutboundRefused (CONFLICTS are about the customer) or Invalid."""
    if kind not in TEMPLATE_KINDS:
        choices = ", ".join(TEMPLATE_KINDS)
        raise Invalid("kind", f"Choose one of the saved texts: {choices}.")
    # Automated kinds need recorded consent; the rest, by hand, what a typed text needs.
    check_allowed(business, customer, kind if kind in AUTOMATED_KINDS else "manual")
    link = bool(business.review_url)
    if "review_link" in texts.MERGE_FIELDS[kind] and not link:
        raise OutboundRefused("no_review_url", "Set the review page (review_url) first.")
    _check_review_rules(session, business, customer, kind, now)
    every = merge.fields_for(session, business, customer, now=now, base_url=base_url, user=user)
    if body is None:
        text = texts.render_for(session, business, kind, **every)
    else:
        names = (*COMPOSER_FIELDS, *texts.MERGE_FIELDS[kind])
        allowed = {name: every[name] for name in names if name != "review_link" or link}
        text = render_typed(body, allowed)
    return _queue(session, business, customer, text, kind, now=now, base_url=base_url,
                  user=user, photo=photo)  # fmt: skip


def _queue(session, business, customer, text, kind, *, now, base_url, user, photo):
    """Queue a text the owner sends, with the photo they attached (stored with the text, in
    the same transaction: a refused text leaves no photo behind)."""
    if photo is None:
        return queue_text(session, business, customer, text, kind, now=now, cause="user",
                          user_id=user.id if user else None)  # fmt: skip
    row = photos.new_photo(business, customer, photo)
    message = queue_text(session, business, customer, text, kind, now=now, cause="user",
                         user_id=user.id if user else None,
                         media=[photos.media_item(row, base_url)])  # fmt: skip
    row.message_id = message.id
    session.add(row)
    session.flush()
    return message


# ---- typed texts ----------------------------------------------------------------------------


@dataclass
class ComposerState:
    blocked: str | None = None  # why no text can go at all
    block_code: str | None = None
    warnings: list[str] = field(default_factory=list)
    window_open: bool = True
    recipient_now: datetime | None = None  # in the recipient's zone
    next_opening: datetime | None = None  # in the recipient's zone


def composer_state(business: Business, customer: Customer, *, now: datetime) -> ComposerState:
    """What the owner must know before typing: the same rules queue_text applies, in words."""
    state = ComposerState()
    try:
        check_allowed(business, customer, "manual")
    except OutboundRefused as refused:
        state.blocked, state.block_code = refused.message, refused.code
        return state
    if customer.consent != "granted":
        state.warnings.append(
            "No consent is recorded: you may answer their texts, but send nothing else until "
            "they agree."
        )
    window = window_for(business, customer)
    state.recipient_now = now.astimezone(window.zone)
    if not window.is_open(now):
        state.window_open = False
        state.next_opening = window.next_opening(now).astimezone(window.zone)
    return state


def send_reply(
    session: Session,
    business: Business,
    customer: Customer,
    user: User,
    body: str,
    *,
    now: datetime,
    base_url: str,
    photo: photos.PreparedPhoto | None = None,
) -> Message:
    """Queue a text the owner typed (merge fields filled), with the photo they attached: a
    picture message served from `base_url`. Not committed. Raises Invalid or
    OutboundRefused."""
    fields = composer_fields(session, business, customer, user, now=now, base_url=base_url)
    text = render_typed(body, fields)
    return _queue(session, business, customer, text, "manual", now=now, base_url=base_url,
                  user=user, photo=photo)  # fmt: skip

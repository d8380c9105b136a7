"""Broadcasts: one text to many customers. The list, the composer with its check before
sending, and each broadcast's live report with its Pause, Resume and Cancel buttons.

The owner writes the text in the Texts editor's plain form ([First name]); it is stored as
its template source. Sending is an owner's decision; the team may read the reports."""

from __future__ import annotations

import hashlib

from flask import abort, flash, g, redirect, render_template, request, url_for

from app.care import broadcasts, editing
from app.care.staff import staff_list
from app.contract import parse
from app.contract.commands import BroadcastCreate, Segment
from app.errors import Invalid, NotFound, Refused
from app.models import Broadcast, BroadcastState
from app.sms.encoding import cost_cents
from app.web.context import db, now
from app.web.owner.common import (
    PAGE_SIZE,
    form_errors,
    local,
    owner_blueprint,
    owner_only,
    signed_in,
    wants_fragment,
    zone,
)
from app.web.owner.live import conditional, embed

bp = owner_blueprint("broadcasts", __name__, url_prefix="/broadcasts")

SEGMENT_FIELDS = ("tag", "last_visit_before", "last_visit_after", "min_visits", "max_visits",
                  "staff", "overdue", "birthday_month")  # fmt: skip
OVERDUE_CHOICES = [("", "Either"), ("yes", "Only overdue customers"),
                   ("no", "Only those not overdue")]  # fmt: skip
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")  # fmt: skip
MONTH_CHOICES = [("", "Any month")] + [(str(n), name) for n, name in enumerate(MONTHS, 1)]
# The command's names for what the form calls otherwise.
ALIASES = {"body": "text", "start_at": "start_date", "segment": "who"}
LIVE_STATES = frozenset({BroadcastState.SCHEDULED, BroadcastState.SENDING, BroadcastState.PAUSED})


def state_words(broadcast: Broadcast) -> str:
    """Where a broadcast is, as the owner would say it (when: `when_words`)."""
    state = broadcast.state
    if state == BroadcastState.PAUSED:
        return "Paused by itself" if broadcast.paused_by == "system" else "Paused"
    if state == BroadcastState.DONE:
        return "Finished"
    return {BroadcastState.SCHEDULED: "Scheduled", BroadcastState.SENDING: "Sending",
            BroadcastState.CANCELED: "Canceled"}[state]  # fmt: skip


def state_badge(broadcast: Broadcast) -> str:
    """The badge's colour: a broadcast that paused itself stands out."""
    if broadcast.state == BroadcastState.PAUSED:
        return "stop" if broadcast.paused_by == "system" else "warn"
    return {BroadcastState.SENDING: "ok", BroadcastState.DONE: "muted",
            BroadcastState.CANCELED: "muted"}.get(broadcast.state, "")  # fmt: skip


def _broadcast_or_404(broadcast_id: int, *, lock: bool = False) -> Broadcast:
    """One of this business's broadcasts (another business's id is not found)."""
    try:
        return broadcasts.get(db(), g.business.id, broadcast_id, lock=lock)
    except NotFound:
        abort(404)


@bp.get("/")
@signed_in
def listing():
    before = request.args.get("before", type=int)
    items = broadcasts.recent(db(), g.business.id, before_id=before, limit=PAGE_SIZE + 1)
    more = len(items) > PAGE_SIZE
    items = items[:PAGE_SIZE]
    return render_template("owner/broadcasts.html", items=items, before=before,
                           next_before=items[-1].id if more else None)  # fmt: skip


# ---- composing and checking ---------------------------------------------------------------


def _chips() -> list[dict]:
    """The merge fields a broadcast may use, as the Texts editor's chips ([First name])."""
    return editing.chips(broadcasts.FIELDS)


def _values() -> dict[str, str]:
    """The form as the owner filled it in (shown again as typed)."""
    form = request.form
    names = ("title", "kind", "who", "per_hour", "when", "start_date", "start_time",
             *SEGMENT_FIELDS)  # fmt: skip
    values = {name: (form.get(name) or "").strip() for name in names}
    values["text"] = (form.get("text") or "").replace("\r\n", "\n")
    return values


def _start_at(values: dict[str, str]) -> str | None:
    """The form's date and time as a local time (None: now)."""
    if values["when"] != "later":
        return None
    if not values["start_date"] or not values["start_time"]:
        raise Invalid("start_date", "Pick a date and a time, or choose Now.")
    return f"{values['start_date']}T{values['start_time']}"


def _command(values: dict[str, str]) -> BroadcastCreate:
    """The form as a command, or Invalid with every field's error in the form's own words."""
    context = {"zone": g.business.timezone, "now": now()}
    errors: dict[str, str] = {}
    segment = Segment()
    if values["who"] == "some":
        wanted = {name: values[name] for name in SEGMENT_FIELDS}
        wanted["overdue"] = {"yes": True, "no": False}.get(wanted["overdue"])  # type: ignore[assignment]
        try:
            segment = parse(Segment, wanted, **context)
        except Invalid as exc:
            errors.update(form_errors(exc))
    try:
        start = _start_at(values)
    except Invalid as exc:
        errors.update(form_errors(exc))
        start = None
    data = {"body": editing.to_source(values["text"]), "kind": values["kind"] or "informational",
            "segment": segment, "per_hour": values["per_hour"], "title": values["title"],
            "start_at": start}  # fmt: skip
    try:
        command = parse(BroadcastCreate, data, **context)
    except Invalid as exc:
        for name, message in form_errors(exc, ALIASES).items():
            errors.setdefault(name, _plain(name, message))
    else:
        if start is not None and command.start_at is not None and command.start_at < now():
            errors["start_date"] = "That time has passed: choose a later one, or Now."
    if errors:
        raise Invalid.many(errors)
    return command


def _plain(field: str, message: str) -> str:
    """A field's error in the form's words (its dates and times are picked, not typed)."""
    if field == "start_date":
        return "Pick a date and a time, or choose Now."
    return editing.plain_words(message) if field == "text" else message


def _digest(command: BroadcastCreate) -> str:
    """What the check was about: Send goes only with the draft that was checked."""
    return hashlib.sha256(command.model_dump_json().encode()).hexdigest()[:32]


def _compose_page(values: dict, *, errors: dict | None = None, checked=None,
                  command: BroadcastCreate | None = None, note: str | None = None,
                  status: int = 200):  # fmt: skip
    """The composer, with the check of `command` (`checked`) when there is one."""
    per_text = cost_cents(checked.sample) if checked else 0.0
    return render_template(
        "owner/broadcast_new.html",
        values=values,
        errors=errors or {},
        chips=_chips(),
        staff_choices=[("", "Anyone on your team")]
        + [(member.name, member.name) for member in staff_list(db(), g.business.id)],
        overdue_choices=OVERDUE_CHOICES,
        month_choices=MONTH_CHOICES,
        checked=checked,
        stops=[f for f in checked.findings if f.level == "stop"] if checked else [],
        per_text_cents=per_text,
        digest=_digest(command) if command else "",
        start_at=command.start_at if command else None,
        note=note,
        today=now().astimezone(zone()).date().isoformat(),
    ), status


@bp.get("/new")
@owner_only
def new():
    values = {"kind": "informational", "who": "all", "when": "now", "text": ""}
    return _compose_page(values)


@bp.post("/new")
@owner_only
def compose():
    """Check the draft (and show it all), or send the draft that was checked."""
    values = _values()
    sending = request.form.get("action") == "send"
    try:
        command = _command(values)
        if sending and request.form.get("checked") == _digest(command):
            created = broadcasts.create(db(), g.business, command, now=now(), user_id=g.user.id)
            goes = "on its way" if created.state == BroadcastState.SENDING else "scheduled"
            flash(f"“{created.title}” is {goes}.", "info")
            return redirect(url_for(".report", broadcast_id=created.id))
        checked = broadcasts.check(db(), g.business, command, now=now())
    except Invalid as exc:
        errors = form_errors(exc, ALIASES)
        return _compose_page(values, errors={k: _plain(k, m) for k, m in errors.items()},
                             status=422)  # fmt: skip
    note = "You changed something since the check. Here is the check of what you have now."
    return _compose_page(values, checked=checked, command=command, note=note if sending else None)


# ---- the report and the controls ----------------------------------------------------------


def _report_context(broadcast: Broadcast) -> dict:
    return {"broadcast": broadcast, "figures": broadcasts.report(db(), broadcast),
            "words": editing.to_plain(broadcast.body) or broadcast.body,
            "can_control": g.user.role == "owner"}  # fmt: skip


@bp.get("/<int:broadcast_id>")
@signed_in
def report(broadcast_id: int):
    broadcast = _broadcast_or_404(broadcast_id)
    context = _report_context(broadcast)
    html = render_template("owner/_broadcast_report.html", **context)
    if wants_fragment():
        return conditional(html)
    return render_template("owner/broadcast.html", **context, **embed(html),
                           live=broadcast.state in LIVE_STATES)  # fmt: skip


CONTROLS = {
    "pause": (broadcasts.pause, "Paused: nothing more goes until you resume it."),
    "resume": (broadcasts.resume, "Resumed: it goes on where it was."),
    "cancel": (broadcasts.cancel, "Canceled: its texts that had not gone will not go."),
}


def _control(broadcast_id: int, action: str):
    broadcast = _broadcast_or_404(broadcast_id, lock=True)
    act, words = CONTROLS[action]
    try:
        act(db(), broadcast, now=now())
    except Refused as exc:
        flash(exc.message, "error")
    else:
        flash(words, "info")
    return redirect(url_for(".report", broadcast_id=broadcast.id))


@bp.post("/<int:broadcast_id>/pause")
@owner_only
def pause(broadcast_id: int):
    return _control(broadcast_id, "pause")


@bp.post("/<int:broadcast_id>/resume")
@owner_only
def resume(broadcast_id: int):
    return _control(broadcast_id, "resume")


@bp.post("/<int:broadcast_id>/cancel")
@owner_only
def cancel(broadcast_id: int):
    return _control(broadcast_id, "cancel")


def when_words(broadcast: Broadcast) -> str:
    """When it went, goes or ended, in the business's zone."""
    if broadcast.finished_at is not None:
        ended = "Ended" if broadcast.state == BroadcastState.CANCELED else "Finished"
        return f"{ended} {local(broadcast.finished_at)}"
    if broadcast.start_at > now():  # scheduled, or paused before its time
        return f"Starts {local(broadcast.start_at, 'full')}"
    return f"Started {local(broadcast.start_at)}"

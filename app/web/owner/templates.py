"""The business's own copies of the default texts: edit with a live preview, reset to default.

Owner templates are rendered only in care.texts' sandbox, with their kind's merge fields."""

from __future__ import annotations

from flask import abort, flash, g, jsonify, redirect, render_template, request, url_for
from sqlmodel import col, select

from app.care import editing, texts
from app.care.facts import milestone_words
from app.models import BusinessTemplate
from app.web.context import db, now, public_base
from app.web.owner.common import owner_blueprint, owner_only, signed_in

bp = owner_blueprint("owner_templates", __name__, url_prefix="/templates")

LABELS = {
    "thank_you": "Thank-you after a visit",
    "review_request": "Review request",
    "review_reminder": "Review reminder",
    "feedback_question": "How was your visit?",
    "feedback_thanks": "Thanks for feedback",
    "effort_question": "How easy was it?",
    "referral_ask": "Referral ask",
    "referral_reward": "Referral reward",
    "milestone_thank_you": "Thank-you for a milestone visit",
    "anniversary": "Anniversary of their first visit",
    "birthday": "Birthday",
    "winback": "We have missed you",
    "after_hours": "After-hours reply",
    "missed_call": "Missed-call text-back",
    "help": "Reply to HELP",
    "owner_alert": "Alert to your phone",
}
WHEN = {
    "thank_you": "Soon after a visit is recorded.",
    "review_request": "The day after a visit, with your review link.",
    "review_reminder": "Once, a few days later, if the review link was not opened.",
    "feedback_question": "Asks for a rating instead of a review, when you choose that.",
    "feedback_thanks": "Answers a rating or a reply about the visit.",
    "effort_question": "The day after you mark a conversation handled, when customer effort is "
    "on in Settings.",
    "referral_ask": "{days} days after a visit (sooner after a 4-5 rating or an opened review "
    "link), unless they said they were unhappy; once every {cooldown} days at most.",
    "referral_reward": "When a friend they sent first visits (only with their consent to "
    "offers and rewards; otherwise you are told to thank them in person).",
    "milestone_thank_you": "Instead of the thank-you, after a milestone visit ({milestones}).",
    "anniversary": "A year after their first visit, then every year.",
    "birthday": "On their birthday{before}, when you know it.",
    "winback": "Once a customer is overdue (Customers > Overdue), once each time, never with a "
    "visit booked or a complaint you have not answered.",
    "after_hours": "Answers a text that arrives while you are closed.",
    "missed_call": "Answers a call you could not take.",
    "help": "Answers a customer who texts HELP.",
    "owner_alert": "Sent to your alert phone about an unhappy or unanswered customer.",
}
# Fields a text asks about ([if Unhappy]) rather than says: no chip inserts them.
USED_IN_CONDITIONS_ONLY = frozenset({"unhappy", "scale"})


def _when(kind: str) -> str:
    """When a text goes, in the words of this business's own settings."""
    business = g.business
    if kind == "referral_ask" and not business.referral_asks:
        return "Off: turn referral asks on in Settings."
    if kind == "anniversary" and not business.anniversary_texts:
        return "Off: turn anniversary texts on in Settings."
    if kind == "birthday" and not business.birthday_texts:
        return "Off: turn birthday texts on in Settings."
    if kind == "winback" and not business.winback_texts:
        return "Off: turn win-back texts on in Settings."
    if kind == "milestone_thank_you" and not milestone_words(business):
        return "Off: list milestone visits in Settings."
    before = business.birthday_days_before
    return WHEN.get(kind, "").format(
        days=business.referral_ask_days, cooldown=business.referral_cooldown_days,
        milestones=milestone_words(business),
        before=f" ({before} day{'s' if before != 1 else ''} before)" if before else "",
    )  # fmt: skip


def _kind_or_404(kind: str) -> str:
    if kind not in texts.EDITABLE_KINDS:
        abort(404)
    return kind


def _overrides() -> dict[str, BusinessTemplate]:
    rows = db().exec(
        select(BusinessTemplate).where(col(BusinessTemplate.business_id) == g.business.id)
    )
    return {row.kind: row for row in rows}


def _look(kind: str, source: str, *, plain: bool = False) -> editing.Draft:
    """The draft's previews for the sample customers and its gaps, or why it cannot be used."""
    return editing.look_at(db(), g.business, kind, source, now=now(), base_url=public_base(),
                           plain=plain)  # fmt: skip


@bp.get("/")
@signed_in
def templates():
    overrides = _overrides()
    rows = []
    for kind in texts.EDITABLE_KINDS:
        source = overrides[kind].body if kind in overrides else texts.default_source(kind)
        rows.append(
            {
                "kind": kind,
                "label": LABELS.get(kind, kind),
                "when": _when(kind),
                "custom": kind in overrides,
                "draft": _look(kind, source),
            }
        )
    return render_template("owner/templates.html", rows=rows)


def _chips(kind: str, plain: bool) -> list[dict]:
    """The merge fields this text may use, as the editor's chips."""
    names = [n for n in texts.MERGE_FIELDS[kind] if n not in USED_IN_CONDITIONS_ONLY]
    return editing.chips(names, plain=plain)


def _edit_page(
    kind: str,
    source: str,
    *,
    text: str | None = None,
    mode: str = "",
    error: str | None = None,
    confirm: bool = False,
    note: str | None = None,
    status: int = 200,
):
    """The editor: the plain form when the text has one (or `text`, as the owner typed it),
    else the source; the previews and gaps of `source`."""
    plain_form = editing.to_plain(source) if text is None else text
    plain = mode != "source" and plain_form is not None
    draft = _look(kind, source, plain=plain)
    return render_template(
        "owner/template_edit.html",
        kind=kind,
        label=LABELS.get(kind, kind),
        when=_when(kind),
        mode="plain" if plain else "source",
        value=plain_form if plain else source,
        source=source,
        has_plain=plain or editing.to_plain(source) is not None,
        default=texts.default_source(kind),
        default_plain=editing.to_plain(texts.default_source(kind)),
        custom=kind in _overrides(),
        chips=_chips(kind, plain),
        draft=draft,
        error=error,
        confirm=confirm,
        note=note,
        can_edit=g.user.role == "owner",
    ), status


@bp.get("/<kind>")
@signed_in
def edit(kind: str):
    kind = _kind_or_404(kind)
    mode = "source" if request.args.get("mode") == "source" else ""
    return _edit_page(kind, texts.business_source(db(), g.business.id, kind), mode=mode)


def _submitted() -> tuple[str, str | None, str]:
    """(source, the plain text as typed or None, mode) from the editor's form."""
    if "text" in request.form:
        text = (request.form.get("text") or "").replace("\r\n", "\n")
        return editing.to_source(text), text, "plain"
    return (request.form.get("source") or "").replace("\r\n", "\n"), None, "source"


@bp.post("/<kind>")
@owner_only
def save(kind: str):
    kind = _kind_or_404(kind)
    source, text, mode = _submitted()
    fixed = request.form.get("fixed_source")
    if fixed is not None:  # a fix taken from the gap warning: shown, saved by the next Save
        fixed = fixed.replace("\r\n", "\n")
        return _edit_page(kind, fixed, mode=mode, note="Fixed. Check the preview, then save.")
    action = request.form.get("action")
    if action == "preview":
        return _edit_page(kind, source, text=text, mode=mode)
    try:
        texts.validate_source(kind, source, g.business.name)
    except texts.TemplateError as exc:
        message = editing.plain_words(exc.message) if mode == "plain" else exc.message
        return _edit_page(kind, source, text=text, mode=mode, error=message, status=422)
    if action != "save_anyway" and editing.gaps(kind, source, g.business.name):
        return _edit_page(kind, source, text=text, mode=mode, confirm=True)
    texts.save_template(db(), g.business, kind, source, now=now())
    flash(f"“{LABELS.get(kind, kind)}” is saved.", "info")
    return redirect(url_for(".edit", kind=kind))


@bp.post("/<kind>/preview")
@owner_only
def live_preview(kind: str):
    """The editor's preview as the owner types: the same part of the page, rendered here."""
    kind = _kind_or_404(kind)
    source, _text, mode = _submitted()
    draft = _look(kind, source, plain=mode == "plain")
    html = render_template("owner/_template_preview.html", draft=draft, mode=mode, confirm=False)
    return jsonify({"ok": draft.error is None, "error": draft.error, "source": source,
                    "html": html})  # fmt: skip


@bp.post("/<kind>/reset")
@owner_only
def reset(kind: str):
    kind = _kind_or_404(kind)
    if texts.reset_template(db(), g.business, kind):
        flash(f"“{LABELS.get(kind, kind)}” is back to the default text.", "info")
    return redirect(url_for(".edit", kind=kind))

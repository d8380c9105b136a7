"""The business's own copies of the default texts: edit with a live preview, reset to default.

Owner templates are rendered only in care.texts' sandbox, with their kind's merge fields."""

from __future__ import annotations

from flask import abort, flash, g, jsonify, redirect, render_template, request, url_for
from sqlmodel import col, select

from app.care import texts
from app.models import BusinessTemplate
from app.sms.encoding import segment_info
from app.web.context import db, now
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
    "after_hours": "Answers a text that arrives while you are closed.",
    "missed_call": "Answers a call you could not take.",
    "help": "Answers a customer who texts HELP.",
    "owner_alert": "Sent to your alert phone about an unhappy or unanswered customer.",
}
FIELD_HELP = {
    "first_name": "the customer's first name",
    "customer_name": "the customer's full name",
    "customer_phone": "the customer's phone",
    "business_name": "your business's name",
    "business_phone": "your sending number",
    "staff_name": "who they saw",
    "review_link": "your review link",
    "referral_link": "their referral link",
    "reward": "the reward they earned",
    "offer": "what their friends get (with consent to offers)",
    "next_opening": "when you open next",
    "reason": "why you are alerted",
    "excerpt": "the start of their text",
    "unhappy": "true when the reply was unhappy",
}


def _when(kind: str) -> str:
    """When a text goes, in the words of this business's own settings."""
    business = g.business
    if kind == "referral_ask" and not business.referral_asks:
        return "Off: turn referral asks on in Settings."
    return WHEN.get(kind, "").format(days=business.referral_ask_days,
                                     cooldown=business.referral_cooldown_days)  # fmt: skip


def _kind_or_404(kind: str) -> str:
    if kind not in texts.EDITABLE_KINDS:
        abort(404)
    return kind


def _overrides() -> dict[str, BusinessTemplate]:
    rows = db().exec(
        select(BusinessTemplate).where(col(BusinessTemplate.business_id) == g.business.id)
    )
    return {row.kind: row for row in rows}


def preview(kind: str, source: str) -> dict:
    """What a template renders to with sample values, or why it cannot be used."""
    try:
        rendered = texts.validate_source(kind, source, g.business.name)
    except texts.TemplateError as exc:
        return {"ok": False, "error": exc.message}
    info = segment_info(rendered)
    return {
        "ok": True,
        "text": rendered,
        "characters": len(rendered),
        "segments": info.segments,
        "encoding": info.encoding,
    }


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
                "preview": preview(kind, source),
            }
        )
    return render_template("owner/templates.html", rows=rows)


def _edit_page(kind: str, source: str, *, error: str | None = None, status: int = 200):
    overrides = _overrides()
    return render_template(
        "owner/template_edit.html",
        kind=kind,
        label=LABELS.get(kind, kind),
        when=_when(kind),
        source=source,
        default=texts.default_source(kind),
        custom=kind in overrides,
        fields=[(f, FIELD_HELP.get(f, "")) for f in texts.MERGE_FIELDS[kind]],
        result=preview(kind, source),
        error=error,
        can_edit=g.user.role == "owner",
    ), status


@bp.get("/<kind>")
@signed_in
def edit(kind: str):
    kind = _kind_or_404(kind)
    return _edit_page(kind, texts.business_source(db(), g.business.id, kind))


@bp.post("/<kind>")
@owner_only
def save(kind: str):
    kind = _kind_or_404(kind)
    source = request.form.get("source", "").replace("\r\n", "\n")
    if request.form.get("action") == "preview":
        return _edit_page(kind, source)
    try:
        texts.save_template(db(), g.business, kind, source, now=now())
    except texts.TemplateError as exc:
        return _edit_page(kind, source, error=exc.message, status=422)
    flash(f"“{LABELS.get(kind, kind)}” is saved.", "info")
    return redirect(url_for(".edit", kind=kind))


@bp.post("/<kind>/preview")
@owner_only
def live_preview(kind: str):
    kind = _kind_or_404(kind)
    return jsonify(preview(kind, (request.form.get("source") or "").replace("\r\n", "\n")))


@bp.post("/<kind>/reset")
@owner_only
def reset(kind: str):
    kind = _kind_or_404(kind)
    if texts.reset_template(db(), g.business, kind):
        flash(f"“{LABELS.get(kind, kind)}” is back to the default text.", "info")
    return redirect(url_for(".edit", kind=kind))

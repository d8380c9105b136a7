"""One conversation: the thread, the composer, and the customer's file beside it."""

from __future__ import annotations

from flask import (
    abort,
    flash,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)

from app.care import accounts, automations, broadcasts, composer, editing, facts, photos
from app.care import inbox as care_inbox
from app.care.facts import suggested_text
from app.care.feedback import latest_unhappy
from app.care.outbound import OutboundRefused
from app.care.replies import saved_replies
from app.errors import Invalid
from app.web.context import db, now, public_base, services
from app.web.owner.common import (
    customer_or_404,
    local,
    owner_blueprint,
    signed_in,
    wants_fragment,
)
from app.web.owner.live import conditional, embed
from app.web.owner.templates import LABELS

bp = owner_blueprint("conversation", __name__, url_prefix="/conversations")
SAVED = "saved:"  # a saved reply in the picker: a typed text, so it goes as one (manual)


def _fields(customer) -> dict:
    return composer.composer_fields(
        db(), g.business, customer, g.user, now=now(), base_url=public_base()
    )


def _introduce_as(customer) -> str:
    """The business's name while the first text is still to go (it introduces them)."""
    return "" if customer.introduced_at is not None else g.business.name


def _preview(customer, body: str, fields) -> dict:
    """What the customer will receive for `body`, or why it cannot go (the page's preview)."""
    try:
        text = composer.preview(body, fields, introduce_as=_introduce_as(customer))
    except Invalid as exc:
        return {"ok": False, "error": exc.message}
    return {"ok": True, "text": text}


def _thread_context(customer, before_id=None) -> dict:
    thread = care_inbox.thread(db(), g.business.id, customer.id, before_id=before_id)
    # Texts are signed with a person's name, never an email address.
    senders = {u.id: (u.name or ("Owner" if u.role == "owner" else "Staff"))
               for u in accounts.team(db(), g.business.id)}  # fmt: skip
    # A broadcast's text, and a reply that answers one, say which (and link to its report).
    shown = [*thread.messages, *thread.scheduled]
    answered = broadcasts.titles(db(), g.business.id, (m.broadcast_id for m in shown))
    return {"customer": customer, "thread": thread, "senders": senders, "before": before_id,
            "broadcast_titles": answered}  # fmt: skip


def _render(customer, *, body: str = "", kind: str = "", error=None, status: int = 200):
    before = request.args.get("before", type=int)
    fields = _fields(customer)
    use = request.args.get("use")
    picker = [
        (k, LABELS.get(k, k), text)
        for k, text in composer.picker(
            db(), g.business, customer, g.user, now=now(), base_url=public_base()
        )
    ]
    picker += [(f"{SAVED}{r.id}", r.title, r.body) for r in saved_replies(db(), g.business.id)]
    unhappy = latest_unhappy(db(), customer.id) if customer.unhappy_at else None
    if use == "suggested" and unhappy and not body:
        body = unhappy.suggested_reply or ""
    elif use == "birthday" and not body:  # the owner asks; the answer is read when it comes
        body = facts.birthday_question(g.business, customer)
    elif use == "overdue" and not body:  # from the Overdue list: a personal text, typed as own
        body = suggested_text(
            g.business, customer, last_visit_words=local(customer.last_visit_at, "date")
        )
    elif use and not body:
        body, kind = next(((text, k) for k, _, text in picker if k == use), ("", ""))
    context = _thread_context(customer, before)
    context.update(embed(render_template("owner/_thread.html", **context)))
    return render_template(
        "owner/conversation.html",
        state=composer.composer_state(g.business, customer, now=now()),
        file=care_inbox.customer_file(db(), customer),
        fields=composer.preview_fields(fields),
        chips=editing.chips(fields),
        picker=picker,
        body=body,
        kind=kind if kind in composer.TEMPLATE_KINDS else "",
        kind_labels={k: LABELS.get(k, k) for k in composer.PICKER_KINDS},
        preview=_preview(customer, body, fields) if body.strip() else None,
        error=error,
        introduce_as=_introduce_as(customer),
        unhappy=unhappy,
        **context,
    ), status


@bp.get("/<int:customer_id>")
@signed_in
def conversation(customer_id: int):
    customer = customer_or_404(customer_id)
    care_inbox.mark_read(db(), customer)
    if wants_fragment():
        return conditional(render_template("owner/_thread.html", **_thread_context(customer)))
    return _render(customer)


@bp.post("/<int:customer_id>/preview")
@signed_in
def preview(customer_id: int):
    """The composer's live preview for what its JavaScript does not render itself."""
    customer = customer_or_404(customer_id)
    return jsonify(_preview(customer, request.form.get("body", ""), _fields(customer)))


def _attached_photo() -> photos.PreparedPhoto | None:
    """The photo chosen in the composer, checked by its bytes; None when none was chosen."""
    upload = request.files.get("photo")
    if upload is None or not upload.filename:
        return None
    return photos.prepare(upload.read())


@bp.post("/<int:customer_id>/send")
@signed_in
def send(customer_id: int):
    customer = customer_or_404(customer_id)
    body = request.form.get("body", "")
    kind = request.form.get("kind", "")
    state = composer.composer_state(g.business, customer, now=now())
    if state.blocked:
        return _render(customer, body=body, kind=kind, error=state.blocked, status=409)
    # A saved text of an automated kind waits for the window by itself; a typed one goes now.
    if not kind and not state.window_open and request.form.get("window_ack") != "1":
        return _render(
            customer,
            body=body,
            status=409,
            error="It is outside this customer's usual hours now: check the warning "
            "and send again if you still want to.",
        )
    try:
        photo = _attached_photo()
        if kind:
            sent = composer.send_template(db(), g.business, customer, kind, user=g.user, body=body,
                                   now=now(), base_url=public_base(), photo=photo)  # fmt: skip
        else:
            sent = composer.send_reply(db(), g.business, customer, g.user, body, now=now(),
                                base_url=public_base(), photo=photo)  # fmt: skip
    except Invalid as exc:
        db().rollback()
        return _render(customer, body=body, kind=kind, error=exc.message, status=422)
    except OutboundRefused as refused:
        db().rollback()
        status = refused.status
        return _render(customer, body=body, kind=kind, error=refused.message, status=status)
    if request.form.get("asks") == "birthday":
        facts.asked_birthday(customer, now=now())
        db().add(customer)
    db().commit()
    # The page opens on the new text, in view, where its state (Sending…, Sent, Delivered or
    # why not) changes as the thread refreshes.
    return redirect(url_for(".conversation", customer_id=customer.id, _anchor=f"m{sent.id}"))


@bp.post("/<int:customer_id>/messages/<int:message_id>/cancel")
@signed_in
def cancel(customer_id: int, message_id: int):
    customer = customer_or_404(customer_id)
    if care_inbox.cancel_scheduled(db(), g.business.id, customer.id, message_id, by=g.user):
        flash("The scheduled text is canceled.", "info")
    else:
        if care_inbox.find_message(db(), g.business.id, customer.id, message_id) is None:
            abort(404)
        flash("That text is no longer scheduled: it may have been sent already.", "error")
    return redirect(url_for(".conversation", customer_id=customer.id))


@bp.post("/<int:customer_id>/handled")
@signed_in
def handled(customer_id: int):
    customer = customer_or_404(customer_id)
    if request.form.get("reopen") == "1":
        care_inbox.reopen(db(), customer)
        flash("Back on the needs-reply list.", "info")
        return redirect(url_for(".conversation", customer_id=customer.id))
    care_inbox.mark_handled(db(), customer, now=now())
    asked = automations.ask_about_effort(db(), g.business, customer, now=now())
    flash(f"{customer.name or customer.phone} is marked as handled."
          + (" Tomorrow they are asked how easy it was to get sorted." if asked else ""),
          "info")  # fmt: skip
    return redirect(url_for("inbox.inbox"))


@bp.post("/<int:customer_id>/unhappy/dismiss")
@signed_in
def dismiss_unhappy(customer_id: int):
    """The owner read it and it was no complaint: clear the flag (counted as a false alarm)."""
    customer = customer_or_404(customer_id)
    automations.dismiss_unhappy(db(), customer, by_user_id=g.user.id, now=now())
    flash("Marked as not unhappy. Thanks: this helps Regulars read replies better.", "info")
    return redirect(url_for(".conversation", customer_id=customer.id))


@bp.post("/<int:customer_id>/notes")
@signed_in
def notes(customer_id: int):
    customer = customer_or_404(customer_id)
    try:
        care_inbox.save_notes_and_tags(
            db(), customer, notes=request.form.get("notes", ""), tags=request.form.get("tags", "")
        )
    except Invalid as exc:
        db().rollback()
        return _render(customer, error=exc.message, status=422)
    flash("Notes and tags are saved.", "info")
    return redirect(url_for(".conversation", customer_id=customer.id, _anchor="about"))


@bp.get("/<int:customer_id>/messages/<int:message_id>/media/<int:index>")
@signed_in
def customer_photo(customer_id: int, message_id: int, index: int):
    """A picture the customer sent, fetched from the provider with the account's credentials
    (its own URL needs them) and shown from this page's origin; only to this business."""
    customer = customer_or_404(customer_id)
    message = care_inbox.find_message(db(), g.business.id, customer.id, message_id)
    media = (message.media_urls or []) if message and message.direction == "inbound" else []
    if index >= len(media):
        abort(404)
    fetched = services().gateway.fetch_media(media[index].get("url", ""))
    if fetched is None:
        abort(404)
    response = make_response(fetched.data)
    response.headers["Content-Type"] = fetched.content_type
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response

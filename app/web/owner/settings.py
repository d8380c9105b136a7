"""Settings, API keys and the team: owners only (staff get 403)."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from flask import abort, flash, g, make_response, redirect, render_template, request, url_for

from app.care import accounts, push, staff
from app.care.alert_phone import alert_phone_problem
from app.care.businesses import change_business, issue_api_key
from app.care.missed_calls import allowed_countries
from app.contract import parse
from app.contract.commands import BusinessChanges
from app.contract.rules import MAX_HOLIDAYS
from app.errors import Invalid, NotFound, Refused
from app.models import WEEKDAYS
from app.web.context import db, now, services
from app.web.owner import notifications
from app.web.owner.common import form_errors, home, owner_blueprint, owner_only, password_method

bp = owner_blueprint("settings", __name__, url_prefix="/settings")
COMMON_ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Puerto_Rico",
)
SETTING_FIELDS = (
    "name",
    "number",
    "messaging_service_sid",
    "timezone",
    "window_start",
    "window_end",
    "review_url",
    "alert_phone",
)
SENDER_FIELDS = ("number", "messaging_service_sid")
CARE_NUMBERS = ("thank_you_delay_minutes", "review_reminder_days", "review_cooldown_days",
                "review_hold_days", "unanswered_alert_minutes",
                "missed_call_hourly_limit", "overdue_factor", "overdue_floor_days",
                "overdue_fixed_days", "marketing_per_30_days")  # fmt: skip
CARE_SWITCHES = ("after_hours_reply", "missed_call_textback", "ces_enabled")
CARE_FIELDS = ("review_mode", "rating_scale", *CARE_NUMBERS, *CARE_SWITCHES,
               "missed_call_countries")  # fmt: skip
REFERRAL_FIELDS = ("referral_ask_days", "referral_cooldown_days", "referral_offer",
                   "referral_reward", "referral_hourly_limit")  # fmt: skip
REFERRAL_SWITCHES = ("referral_asks",)
MOMENT_FIELDS = ("milestone_visits", "milestone_every", "milestone_reward",
                 "birthday_days_before", "moment_offer", "winback_offer")  # fmt: skip
MOMENT_SWITCHES = ("anniversary_texts", "birthday_texts", "winback_texts")
# The form's two window fields are one setting.
WINDOW_FIELD = {"sending_window": "window_start"}


def _care_values() -> dict:
    values = {name: getattr(g.business, name) for name in CARE_FIELDS}
    values["missed_call_countries"] = ", ".join(g.business.missed_call_countries or ())
    return values


def _referral_values() -> dict:
    return {name: getattr(g.business, name) for name in (*REFERRAL_FIELDS, *REFERRAL_SWITCHES)}


def _moment_values() -> dict:
    values = {name: getattr(g.business, name) for name in (*MOMENT_FIELDS, *MOMENT_SWITCHES)}
    values["milestone_visits"] = ", ".join(str(n) for n in g.business.milestone_visits)
    return values


def _hours_values() -> dict[str, dict]:
    """The week as the form shows it: per day open or not and up to two spans; a closed day
    offers the hours of the first open day, so opening it is one tap."""
    week = g.business.opening_hours
    usual = next((week[day][0] for day in WEEKDAYS if week.get(day)), None) or {}
    values = {}
    for day in WEEKDAYS:
        spans = week.get(day) or []
        first = spans[0] if spans else usual
        second = spans[1] if len(spans) > 1 else {}
        values[day] = {"open": bool(spans), "from": first.get("open", ""),
                       "until": first.get("close", ""), "from2": second.get("open", ""),
                       "until2": second.get("close", "")}  # fmt: skip
    return values


def _week_from_form(form) -> tuple[dict, dict]:
    """(the week for the command, the form's values to show again)."""
    week, values = {}, {}
    for day in WEEKDAYS:
        entered = {part: form.get(f"{day}_{part}", "").strip()
                   for part in ("from", "until", "from2", "until2")}  # fmt: skip
        is_open = f"{day}_open" in form
        values[day] = {"open": is_open, **entered}
        spans = [{"open": entered["from"], "close": entered["until"]}] if is_open else []
        if is_open and (entered["from2"] or entered["until2"]):
            spans.append({"open": entered["from2"], "close": entered["until2"]})
        week[day] = spans
    return week, values


def _holidays() -> list[dict]:
    today = now().astimezone(ZoneInfo(g.business.timezone)).date()
    shown = []
    for holiday in g.business.holidays:
        day = date.fromisoformat(holiday["date"])
        shown.append({"date": holiday["date"], "name": holiday.get("name", ""),
                      "words": f"{day.strftime('%a')} {day.day} {day.strftime('%b %Y')}",
                      "past": day < today})  # fmt: skip
    return shown


def _settings_page(values: dict, errors: dict, status: int = 200, care=None, referrals=None,
                   hours=None, holiday=None, moments=None):  # fmt: skip
    return render_template(
        "owner/settings.html",
        values=values,
        errors=errors,
        zones=COMMON_ZONES,
        care=care or _care_values(),
        referrals=referrals or _referral_values(),
        moments=moments or _moment_values(),
        hours=hours or _hours_values(),
        weekdays=WEEKDAYS,
        holidays=_holidays(),
        holiday=holiday or {"date": "", "name": ""},
        max_holidays=MAX_HOLIDAYS,
        sender_locked=not services().settings.owners_may_change_number,
        alert_problem=alert_phone_problem(db(), g.business),
        alerts_by_push=push.has_push(db(), g.business.id),
        home_countries=", ".join(sorted(allowed_countries(g.business))),
        **notifications.page_context(),
    ), status


@bp.get("/")
@owner_only
def settings():
    return _settings_page(_current_values(), {})


@bp.post("/")
@owner_only
def save():
    values = {name: request.form.get(name, "") for name in SETTING_FIELDS}
    if not services().settings.owners_may_change_number:
        for name in SENDER_FIELDS:  # not on the form: the operator's to set
            values[name] = getattr(g.business, name) or ""
    form = {name: values[name] for name in SETTING_FIELDS if not name.startswith("window_")}
    form["sending_window"] = {"start": values["window_start"], "end": values["window_end"]}
    try:
        change_business(db(), g.business, parse(BusinessChanges, form, region=home()),
                        senders=services().senders,
                        may_change_sender=services().settings.owners_may_change_number)  # fmt: skip
    except (Invalid, Refused) as exc:
        return _settings_page(values, form_errors(exc, WINDOW_FIELD), 422)
    flash("Settings saved.", "info")
    return redirect(url_for(".settings"))


@bp.post("/care")
@owner_only
def save_care():
    return _save_section(CARE_FIELDS, CARE_SWITCHES, "care", _care_values, "Care settings saved.")


@bp.post("/referrals")
@owner_only
def save_referrals():
    return _save_section(REFERRAL_FIELDS, REFERRAL_SWITCHES, "referrals", _referral_values,
                         "Referral settings saved.")  # fmt: skip


@bp.post("/moments")
@owner_only
def save_moments():
    return _save_section(MOMENT_FIELDS, MOMENT_SWITCHES, "moments", _moment_values,
                         "Settings for milestones and birthdays saved.")  # fmt: skip


def _current_values() -> dict:
    return {name: getattr(g.business, name) or "" for name in SETTING_FIELDS}


@bp.post("/hours")
@owner_only
def save_hours():
    week, entered = _week_from_form(request.form)
    try:
        change_business(db(), g.business, parse(BusinessChanges, {"opening_hours": week}))
    except Invalid as exc:
        return _settings_page(_current_values(), form_errors(exc), 422, hours=entered)
    flash("Opening hours saved.", "info")
    return redirect(url_for(".settings") + "#hours")


@bp.post("/holidays")
@owner_only
def add_holiday():
    holiday = {"date": request.form.get("holiday_date", ""),
               "name": request.form.get("holiday_name", "")}  # fmt: skip
    return _save_holidays([*g.business.holidays, holiday], "Closed date added.", holiday)


@bp.post("/holidays/remove")
@owner_only
def remove_holiday():
    day = request.form.get("date", "")
    kept = [holiday for holiday in g.business.holidays if holiday["date"] != day]
    return _save_holidays(kept, "Closed date removed.", None)


def _save_holidays(holidays: list, saved: str, entered: dict | None):
    try:
        change_business(db(), g.business, parse(BusinessChanges, {"holidays": holidays},
                                                now=now()))  # fmt: skip
    except Invalid as exc:
        return _settings_page(_current_values(), form_errors(exc), 422, holiday=entered)
    flash(saved, "info")
    return redirect(url_for(".settings") + "#holidays")


def _save_section(fields, switches, section: str, current, saved: str):
    """One form of settings: all of it saved, or none and the form shown again."""
    form = {name: request.form.get(name) for name in fields if name in request.form}
    # An unticked checkbox sends nothing: the switch is off.
    changes = {**form, **{name: name in request.form for name in switches}}
    try:
        change_business(db(), g.business, parse(BusinessChanges, changes))
    except Invalid as exc:
        return _settings_page(_current_values(), form_errors(exc), 422,
                              **{section: {**current(), **form}})  # fmt: skip
    flash(saved, "info")
    return redirect(url_for(".settings") + f"#{section}")


# ---- API keys -----------------------------------------------------------------------------


@bp.get("/keys")
@owner_only
def keys():
    return render_template(
        "owner/keys.html", keys=accounts.api_keys(db(), g.business.id), error=None
    )


@bp.post("/keys")
@owner_only
def create_key():
    label = " ".join(request.form.get("label", "").split())
    if not label or len(label) > 80:
        error = "Name the key (1 to 80 characters), e.g. “Booking system”."
        keys = accounts.api_keys(db(), g.business.id)
        return render_template("owner/keys.html", keys=keys, error=error), 422
    raw = issue_api_key(db(), g.business, label=label, now=now())
    # Shown once, never stored in the clear: the page must not be cached anywhere.
    response = make_response(render_template("owner/key_created.html", raw=raw, label=label))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/keys/<int:key_id>/revoke")
@owner_only
def revoke_key(key_id: int):
    if not accounts.revoke_api_key(db(), g.business.id, key_id, now=now()):
        abort(404)
    flash("The key is revoked: requests with it are refused from now on.", "info")
    return redirect(url_for(".keys"))


# ---- the team -----------------------------------------------------------------------------


def _member_or_404(user_id: int):
    member = accounts.team_member(db(), g.business.id, user_id)
    if member is None:
        abort(404)
    return member


def _invite_link(user) -> str:
    token = accounts.invite_token(services().settings.secret_key, user)
    base = services().settings.public_base_url
    if base:
        return base.rstrip("/") + url_for("owner_auth.accept_invite", token=token)
    return url_for("owner_auth.accept_invite", token=token, _external=True)


def _team_page(values=None, errors=None, status=200, staff_errors=None):
    members = accounts.team(db(), g.business.id)
    values = values or {"role": "staff", "name": request.args.get("name", "")[:80]}
    return render_template(
        "owner/team.html", members=members, values=values, errors=errors or {},
        staff=staff.staff_list(db(), g.business.id), staff_errors=staff_errors or {},
    ), status  # fmt: skip


@bp.get("/team")
@owner_only
def team():
    return _team_page()


# ---- the staff list (with or without a sign-in) -------------------------------------------


@bp.post("/team/staff")
@owner_only
def add_staff():
    name = request.form.get("name", "")
    try:
        member = staff.add_staff(db(), g.business, name, now=now())
    except Invalid as exc:
        return _team_page(staff_errors={"new": exc.message, "new_value": name}, status=422)
    flash(f"{member.name} is on the staff list.", "info")
    return redirect(url_for(".team") + "#staff")


@bp.post("/team/staff/<int:staff_id>/name")
@owner_only
def rename_staff(staff_id: int):
    name = request.form.get("name", "")
    try:
        member = staff.rename_staff(db(), g.business, staff_id, name)
    except NotFound:
        abort(404)
    except (Invalid, Refused) as exc:
        return _team_page(staff_errors={staff_id: exc.message, f"{staff_id}_value": name},
                          status=422)  # fmt: skip
    flash(f"Renamed to {member.name}.", "info")
    return redirect(url_for(".team") + "#staff")


@bp.post("/team/staff/<int:staff_id>/active")
@owner_only
def staff_active(staff_id: int):
    active = request.form.get("active") == "1"
    try:
        member = staff.set_staff_active(db(), g.business, staff_id, active)
    except NotFound:
        abort(404)
    shown = "is offered again" if active else "is no longer offered"
    flash(f"{member.name} {shown} when you record a visit.", "info")
    return redirect(url_for(".team") + "#staff")


def _link_page(member, fresh: bool):
    response = make_response(
        render_template(
            "owner/team_link.html", member=member, link=_invite_link(member), fresh=fresh
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/team")
@owner_only
def invite():
    values = {k: request.form.get(k, "") for k in ("email", "name", "role")}
    try:
        member = accounts.invite(
            db(),
            g.business,
            email=values["email"],
            name=values["name"],
            role=values["role"],
            now=now(),
            password_method=password_method(),
        )
    except Invalid as exc:
        return _team_page(values, form_errors(exc), 422)
    return _link_page(member, fresh=True)


@bp.post("/team/<int:user_id>/link")
@owner_only
def new_link(user_id: int):
    """A new sign-in link: the member's old password stops working."""
    member = _member_or_404(user_id)
    if member.id == g.user.id:
        flash("Change your own password on your account page.", "error")
        return redirect(url_for(".team"))
    accounts.reset_access(db(), member, password_method=password_method())
    return _link_page(member, fresh=False)


@bp.post("/team/<int:user_id>/access")
@owner_only
def access(user_id: int):
    member = _member_or_404(user_id)
    active = request.form.get("active") == "1"
    try:
        accounts.set_active(db(), g.user, member, active)
    except Invalid as exc:
        flash(exc.message, "error")
    else:
        can = "can sign in again" if active else "can no longer sign in"
        flash(f"{member.name or member.email} {can}.", "info")
    return redirect(url_for(".team"))


@bp.post("/team/<int:user_id>/role")
@owner_only
def role(user_id: int):
    member = _member_or_404(user_id)
    try:
        accounts.set_role(db(), g.user, member, request.form.get("role", ""))
    except Invalid as exc:
        flash(exc.message, "error")
    else:
        flash(f"{member.name or member.email} is now {member.role}.", "info")
    return redirect(url_for(".team"))

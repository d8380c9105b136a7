"""One input model per action, built by every door: the API from JSON (strictly typed), the
owner's pages from their forms and the CLI from its arguments (strings read leniently), CSV
imports from their rows. The rules come from app.contract.rules, so each is written once.

Validation context (optional): `zone` (the business's time zone, for times written without
one) and `now` (for "not in the future").
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from app.contract.rules import (
    HHMM,
    MAX_HOLIDAYS,
    WEEKDAY_NAMES,
    Amount,
    BusinessName,
    ConsentSource,
    Countries,
    Email,
    HolidayDate,
    HolidayName,
    Milestones,
    Moment,
    Notes,
    OptionalBirthday,
    OptionalDate,
    OptionalDay,
    OptionalEmail,
    OptionalMessagingServiceSid,
    OptionalMoment,
    OptionalOffer,
    OptionalPhone,
    OptionalReviewUrl,
    OptionalStaffName,
    Password,
    PersonName,
    Phone,
    ReplyTitle,
    RequiredStaffName,
    RowId,
    StaffName,
    Tag,
    Tags,
    TimeZone,
    check_day_hours,
    check_holidays,
    fold,
    form_number,
    invalid,
    not_in_future,
)
from app.webpush import from_b64url

YES_WORDS = frozenset({"yes", "y", "true", "1", "granted", "opted in", "opt-in", "on"})
NO_WORDS = frozenset({"", "no", "n", "false", "0", "unknown", "off"})
CONSENT_STATES = ("granted", "unknown", "opted_out")
ROLES = ("owner", "staff")
REVIEW_MODES = ("direct", "ask_first")
MAX_TEXT = 1600  # Twilio's limit for one message body


def _consent_answer(value: Any, info: ValidationInfo) -> Any:
    """A form's checkbox or a CSV cell ("yes", "Opted in", "") read as true or false."""
    if info.mode == "python" and isinstance(value, str):
        word = fold(value).lower()
        if word in YES_WORDS:
            return True
        if word in NO_WORDS:
            return False
        raise invalid("invalid_consent", f"consent must be yes or no, not {value!r}")
    return value


ConsentAnswer = Annotated[bool | None, BeforeValidator(_consent_answer)]


class Command(BaseModel):
    """Unknown fields are refused, so a typo never silently does nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    def given(self) -> dict[str, Any]:
        """The fields the caller actually sent (a PATCH changes only these)."""
        return {name: getattr(self, name) for name in self.model_fields_set}


# ---- businesses ---------------------------------------------------------------------------


class WindowChange(Command):
    """Either end of the window; the other keeps its current value."""

    start: HHMM | SkipJsonSchema[None] = None
    end: HHMM | SkipJsonSchema[None] = None


# Fields a PATCH may send but not as null: sending nothing keeps the value.
NotNull = SkipJsonSchema[None]


class OpenSpan(Command):
    """Open from `open` to `close` (local times; a close of 00:00 is midnight)."""

    open: HHMM = Field(examples=["09:00"])
    close: HHMM = Field(examples=["17:30"])


DayHours = Annotated[list[OpenSpan], Field(json_schema_extra={"maxItems": 2})]


class WeekHours(Command):
    """Opening hours by weekday: [] is closed, one span, or two around a break. A day not
    sent keeps its hours."""

    monday: DayHours | NotNull = None
    tuesday: DayHours | NotNull = None
    wednesday: DayHours | NotNull = None
    thursday: DayHours | NotNull = None
    friday: DayHours | NotNull = None
    saturday: DayHours | NotNull = None
    sunday: DayHours | NotNull = None

    @model_validator(mode="before")
    @classmethod
    def _each_day(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {day: check_day_hours(day, spans) if day in WEEKDAY_NAMES else spans
                    for day, spans in data.items()}  # fmt: skip
        return data


class Holiday(Command):
    """A date the business is closed, with a name for the owner (optional)."""

    date: HolidayDate
    name: HolidayName = ""


Holidays = Annotated[list[Holiday], AfterValidator(check_holidays),
                     Field(json_schema_extra={"maxItems": MAX_HOLIDAYS})]  # fmt: skip


class BusinessCreate(Command):
    name: BusinessName
    number: OptionalPhone = None
    messaging_service_sid: OptionalMessagingServiceSid = None
    timezone: TimeZone = "America/New_York"
    owner_email: Email
    owner_password: Password
    review_url: OptionalReviewUrl = None
    alert_phone: OptionalPhone = None  # the owner's own mobile: alerts go there

    @model_validator(mode="after")
    def _reachable(self) -> BusinessCreate:
        if not self.number and not self.messaging_service_sid:
            raise invalid("missing_field", "Enter a sending number or a Messaging Service SID.",
                          field="number")  # fmt: skip
        if self.owner_password.lower() == self.owner_email:
            raise invalid("weak_password", "Your password cannot be your email address.",
                          field="owner_password")  # fmt: skip
        return self


class BusinessChanges(Command):
    """A change to a business's settings: only the fields sent change, all or none."""

    name: BusinessName | NotNull = None
    number: OptionalPhone = None
    messaging_service_sid: OptionalMessagingServiceSid = None
    timezone: TimeZone | NotNull = None
    sending_window: WindowChange | NotNull = None
    send_rate_per_second: Annotated[float, Field(ge=0.1, le=100)] | NotNull = None
    thank_you_delay_minutes: Annotated[int, Field(ge=0, le=1440)] | NotNull = None
    daily_automated_cap: Annotated[int, Field(ge=1, le=3)] | NotNull = None
    marketing_per_30_days: Annotated[int, Field(ge=1, le=30)] | NotNull = None
    review_url: OptionalReviewUrl = None
    alert_phone: OptionalPhone = None
    provider_handles_opt_out: bool | NotNull = None
    review_mode: Literal["direct", "ask_first"] | NotNull = None
    rating_scale: Annotated[Literal[5, 10], BeforeValidator(form_number)] | NotNull = None
    review_cooldown_days: Annotated[int, Field(ge=0, le=3650)] | NotNull = None
    review_reminder_days: Annotated[int, Field(ge=1, le=30)] | NotNull = None
    review_hold_days: Annotated[int, Field(ge=0, le=14)] | NotNull = None
    unanswered_alert_minutes: Annotated[int, Field(ge=5, le=1440)] | NotNull = None
    after_hours_reply: bool | NotNull = None
    missed_call_textback: bool | NotNull = None
    # null: the country of the business's own number
    missed_call_countries: Countries = None
    missed_call_hourly_limit: Annotated[int, Field(ge=1, le=1000)] | NotNull = None
    referral_asks: bool | NotNull = None
    referral_ask_days: Annotated[int, Field(ge=1, le=60)] | NotNull = None
    referral_cooldown_days: Annotated[int, Field(ge=0, le=3650)] | NotNull = None
    # null: no offer (the ask is informational); an offer makes it promotional
    referral_offer: OptionalOffer = None
    referral_reward: OptionalOffer = None
    referral_hourly_limit: Annotated[int, Field(ge=1, le=1000)] | NotNull = None
    overdue_factor: Annotated[float, Field(ge=1, le=10)] | NotNull = None
    overdue_floor_days: Annotated[int, Field(ge=1, le=730)] | NotNull = None
    overdue_fixed_days: Annotated[int, Field(ge=7, le=3650)] | NotNull = None
    ces_enabled: bool | NotNull = None
    # moments (app.care.moments); a reward or an offer makes their texts promotional
    milestone_visits: Milestones | NotNull = None
    milestone_every: Annotated[int, Field(ge=0, le=1000)] | NotNull = None  # 0: no more
    milestone_reward: OptionalOffer = None
    anniversary_texts: bool | NotNull = None
    birthday_texts: bool | NotNull = None
    birthday_days_before: Annotated[int, Field(ge=0, le=14)] | NotNull = None
    moment_offer: OptionalOffer = None
    winback_texts: bool | NotNull = None
    winback_offer: OptionalOffer = None
    broadcast_daily_cap: Annotated[int, Field(ge=1, le=1_000_000)] | NotNull = None
    # when someone is there to answer (the after-hours reply, alerts, response times)
    opening_hours: WeekHours | NotNull = None
    holidays: Holidays | NotNull = None  # the whole list: it replaces the one there is

    @model_validator(mode="after")
    def _not_null(self) -> BusinessChanges:
        for name in self.model_fields_set:
            if getattr(self, name) is None and name in NOT_NULL_SETTINGS:
                raise invalid("invalid_field", f"{name} cannot be empty", field=name)
        return self


NOT_NULL_SETTINGS = frozenset(
    name
    for name, info in BusinessChanges.model_fields.items()
    if name
    not in {
        "number",
        "messaging_service_sid",
        "review_url",
        "alert_phone",
        "missed_call_countries",
        "referral_offer",
        "referral_reward",
        "milestone_reward",
        "moment_offer",
        "winback_offer",
    }
)


# ---- customers ----------------------------------------------------------------------------


class CustomerUpsert(Command):
    """Create a customer or update the one with this phone (API, CSV import)."""

    phone: Phone
    name: PersonName | NotNull = None
    email: OptionalEmail = None
    tags: Tags | NotNull = None
    consent: ConsentAnswer = None
    consent_source: ConsentSource | NotNull = None
    # express written consent to offers and rewards by text; `true` records it
    marketing_consent: ConsentAnswer = None
    birthday: OptionalBirthday = None  # month and day; null forgets it


class CustomerEdit(Command):
    """The owner's customer form: every field at once."""

    phone: Phone
    name: PersonName = ""
    email: OptionalEmail = None
    tags: Tags = Field(default_factory=list)
    notes: Notes = ""
    consent: Literal["granted", "unknown", "opted_out"] = "unknown"
    consent_source: ConsentSource = ""
    marketing_consent: ConsentAnswer = False  # the owner's box, unticked unless they agreed
    birthday: OptionalBirthday = None


class FriendSignUp(Command):
    """A friend on a referral landing page: their own first name and number, and their own
    ticks (texts are required; offers are a separate, optional box)."""

    first_name: PersonName
    phone: Phone
    consent: ConsentAnswer = False
    marketing_consent: ConsentAnswer = False

    @model_validator(mode="after")
    def _their_own_yes(self) -> FriendSignUp:
        if not self.first_name:
            raise invalid("missing_field", "Enter your first name.", field="first_name")
        if self.consent is not True:
            raise invalid("consent_required", "Tick the box to agree to get texts.",
                          field="consent")  # fmt: skip
        return self


class SavedReplySave(Command):
    """A saved reply: a short title for the picker and the text (merge fields allowed)."""

    title: ReplyTitle
    body: Annotated[str, Field(max_length=MAX_TEXT)]

    @field_validator("body")
    @classmethod
    def _not_blank(cls, body: str) -> str:
        if not body.strip():
            raise invalid("missing_field", "Write the reply.")
        return body.strip()


# ---- notifications on a device (Web Push) -------------------------------------------------

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class PushKeys(Command):
    p256dh: Annotated[str, Field(max_length=100)]
    auth: Annotated[str, Field(max_length=32)]

    @field_validator("p256dh")
    @classmethod
    def _public_key(cls, value: str) -> str:
        try:
            point = from_b64url(value)
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        except ValueError:
            point = b""
        if len(point) != 65:
            raise invalid("invalid_field", "The browser's key is not a P-256 public key.")
        return value

    @field_validator("auth")
    @classmethod
    def _secret(cls, value: str) -> str:
        try:
            secret = from_b64url(value)
        except ValueError:
            secret = b""
        if len(secret) != 16:
            raise invalid("invalid_field", "The browser's secret is not 16 bytes.")
        return value


class PushSubscriptionSave(Command):
    """What a browser's PushSubscription.toJSON() gives: where its push service takes
    notifications for this device, and the keys to encrypt them with. Context `local`
    (not in production) also allows http://127.0.0.1 and localhost, for a stand-in service."""

    endpoint: Annotated[str, Field(max_length=1024)]
    keys: PushKeys
    expirationTime: float | None = None  # noqa: N815 - the browser's own name

    @field_validator("endpoint")
    @classmethod
    def _push_service(cls, value: str, info: ValidationInfo) -> str:
        try:
            url = urlsplit(value)
            host = (url.hostname or "").lower()
        except ValueError:
            url, host = None, ""
        local = bool((info.context or {}).get("local")) and host in LOCAL_HOSTS
        if (
            url is None
            or not host
            or url.username
            or url.password
            or any(ord(ch) < 0x21 for ch in value)
        ):
            raise invalid("invalid_url", "The browser's push address is not a web address.")
        if url.scheme != "https" and not (local and url.scheme == "http"):
            raise invalid("invalid_url", "The browser's push address must start with https://.")
        if not local and _private_host(host):
            raise invalid("invalid_url", "The browser's push address is not a push service.")
        return value


def _private_host(host: str) -> bool:
    """localhost, or an address of this machine or of a private network: no push service."""
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return not address.is_global


class NotesAndTags(Command):
    """The owner's notes and tags beside a conversation."""

    notes: Notes = ""
    tags: Tags = Field(default_factory=list)


# ---- visits -------------------------------------------------------------------------------


class VisitCreate(Command):
    """A visit from the API, the owner's form or a CSV row; plans the follow-ups."""

    phone: Phone
    name: PersonName = ""
    consent: ConsentAnswer = None
    consent_source: ConsentSource | NotNull = None
    marketing_consent: ConsentAnswer = None
    occurred_at: OptionalMoment = None  # not in the future, unless the visit is booked
    staff: OptionalStaffName = None
    amount: Amount = None
    # an appointment ahead: no follow-ups, not counted as a visit; no one is overdue with one
    booked: bool = False

    @model_validator(mode="after")
    def _when(self, info: ValidationInfo) -> VisitCreate:
        if self.booked and self.occurred_at is None:
            raise invalid("missing_field", "A booked visit needs its time (occurred_at).",
                          field="occurred_at")  # fmt: skip
        if not self.booked:
            not_in_future(self.occurred_at, info, field="occurred_at")
        return self


# ---- messages and texts -------------------------------------------------------------------


class MessageCreate(Command):
    """A text to send now: to a customer by id or phone, typed or one of the saved texts."""

    customer_id: RowId | NotNull = None
    phone: OptionalPhone = None
    body: Annotated[str, Field(max_length=MAX_TEXT)] | NotNull = None
    template: Annotated[str, Field(max_length=40)] | NotNull = None

    @model_validator(mode="after")
    def _one_of_each(self) -> MessageCreate:
        if self.customer_id is None and self.phone is None:
            raise invalid("missing_field", "customer_id or phone is required", field="phone")
        if bool(self.body) == bool(self.template):
            raise invalid("missing_field", "send exactly one of body or template", field="body")
        return self


# ---- broadcasts ---------------------------------------------------------------------------

BROADCAST_KINDS = ("informational", "promotional")


class Segment(Command):
    """Who a broadcast is for: everyone, or the customers matching every filter given. Dates
    are the business's local days: last visit before (not on) one, on or after another."""

    tag: Tag | None = None
    last_visit_before: OptionalDate = None
    last_visit_after: OptionalDate = None
    min_visits: Annotated[int, Field(ge=0, le=100_000), BeforeValidator(form_number)] | None = None
    max_visits: Annotated[int, Field(ge=0, le=100_000), BeforeValidator(form_number)] | None = None
    staff: StaffName | None = None  # has had a visit with them
    overdue: bool | None = None
    birthday_month: Annotated[int, Field(ge=1, le=12), BeforeValidator(form_number)] | None = None

    @field_validator("staff", "tag", mode="before")
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("min_visits", "max_visits", "birthday_month", mode="before")
    @classmethod
    def _blank_number(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _ranges(self) -> Segment:
        if (self.min_visits is not None and self.max_visits is not None
                and self.min_visits > self.max_visits):  # fmt: skip
            raise invalid("invalid_field", "The fewest visits is more than the most.",
                          field="min_visits")  # fmt: skip
        before, after = self.last_visit_before, self.last_visit_after
        if before is not None and after is not None and after >= before:
            raise invalid("invalid_field", "No day is both before and after those dates.",
                          field="last_visit_after")  # fmt: skip
        return self


class BroadcastDraft(Command):
    """A broadcast as the owner writes it, before it is checked or sent."""

    body: Annotated[str, Field(min_length=1, max_length=640)]  # texts.MAX_TEMPLATE_CHARS
    kind: Literal["informational", "promotional"] = "informational"
    segment: Segment = Field(default_factory=Segment)
    per_hour: Annotated[int, Field(ge=1, le=10_000), BeforeValidator(form_number)] | None = None

    @field_validator("per_hour", mode="before")
    @classmethod
    def _blank_rate(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value


class BroadcastCreate(BroadcastDraft):
    """A broadcast to send: now, or from `start_at` (each recipient inside their window)."""

    title: Annotated[str, Field(max_length=80), AfterValidator(fold)] = ""  # Broadcast.title
    start_at: Moment | None = None  # (a form's blank time is left out: now)


class TemplateSave(Command):
    body: Annotated[str, Field(min_length=1, max_length=640)]


class SegmentCount(Command):
    body: Annotated[str, Field(max_length=MAX_TEXT)]


# ---- the team -----------------------------------------------------------------------------


class Invite(Command):
    email: Email
    name: RequiredStaffName
    role: Literal["owner", "staff"] = "staff"


class StaffSave(Command):
    """A name on the staff list (added, renamed), or a team member's own name when they are
    asked for it (at first sign-in, accepting an invite)."""

    name: RequiredStaffName


class NewPassword(Command):
    """A password being chosen; `email` is the account's, which it may not equal."""

    password: Password
    email: str = ""

    @model_validator(mode="after")
    def _not_email(self) -> NewPassword:
        if self.email and self.password.lower() == self.email.lower():
            raise invalid("weak_password", "Your password cannot be your email address.",
                          field="password")  # fmt: skip
        return self


class Profile(Command):
    name: StaffName = ""


# ---- the dashboard ------------------------------------------------------------------------


class DayRange(Command):
    """The dashboard's days: the last 7, 30 or 90, or from..to (the business's local dates,
    both included). Other query parameters are not the range's: they are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True,
                              populate_by_name=True)  # fmt: skip
    days: Annotated[Literal[7, 30, 90], BeforeValidator(form_number)] | None = None
    from_: OptionalDay = Field(default=None, alias="from")
    to: OptionalDay = None

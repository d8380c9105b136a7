"""One input model per action, built by every door: the API from JSON (strictly typed), the
owner's pages from their forms and the CLI from its arguments (strings read leniently), CSV
imports from their rows. The rules come from app.contract.rules, so each is written once.

Validation context (optional): `zone` (the business's time zone, for times written without
one) and `now` (for "not in the future").
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
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
    Amount,
    BusinessName,
    ConsentSource,
    Countries,
    Email,
    Notes,
    OptionalDay,
    OptionalEmail,
    OptionalMessagingServiceSid,
    OptionalOffer,
    OptionalPhone,
    OptionalReviewUrl,
    OptionalStaffName,
    Password,
    PastMoment,
    PersonName,
    Phone,
    ReplyTitle,
    RequiredStaffName,
    RowId,
    StaffName,
    Tags,
    TimeZone,
    fold,
    form_number,
    invalid,
)

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


# Fields a PATCH may send but not as null: sending nothing keeps the value.
NotNull = SkipJsonSchema[None]


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
    ces_enabled: bool | NotNull = None

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
    occurred_at: PastMoment = None
    staff: OptionalStaffName = None
    amount: Amount = None


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

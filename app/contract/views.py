"""What the API answers: one output model per resource, built from the tables. The OpenAPI
document is generated from these, so a field added here is documented with nothing else to
touch.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from app.models import VisitStatus

T = TypeVar("T")
ConsentState = Literal["granted", "unknown", "opted_out"]


class View(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(View, Generic[T]):
    """A list: `next_cursor` is null on the last page."""

    items: list[T]
    next_cursor: str | None = None


# ---- errors -------------------------------------------------------------------------------


class ErrorDetail(View):
    code: str = Field(examples=["invalid_field"])
    message: str
    field: str | None = None


class ErrorBody(View):
    error: ErrorDetail


# ---- business -----------------------------------------------------------------------------


class SendingWindowView(View):
    start: str = Field(examples=["09:00"])
    end: str = Field(examples=["20:00"])


class OpenSpanView(View):
    open: str = Field(examples=["09:00"])
    close: str = Field(examples=["17:30"], description="00:00 is midnight")


class OpeningHoursView(View):
    """Each weekday's open spans in the business's zone; [] is closed."""

    monday: list[OpenSpanView]
    tuesday: list[OpenSpanView]
    wednesday: list[OpenSpanView]
    thursday: list[OpenSpanView]
    friday: list[OpenSpanView]
    saturday: list[OpenSpanView]
    sunday: list[OpenSpanView]


class HolidayView(View):
    date: date
    name: str


class BusinessPublic(View):
    id: int
    name: str
    number: str | None
    messaging_service_sid: str | None
    timezone: str
    sending_window: SendingWindowView
    send_rate_per_second: float
    thank_you_delay_minutes: int
    daily_automated_cap: int
    marketing_per_30_days: int = Field(
        description="promotional texts (offers, rewards) per customer in 30 days at most; "
        "one more is skipped, with its reason"
    )
    review_url: str | None
    alert_phone: str | None
    provider_handles_opt_out: bool
    review_mode: Literal["direct", "ask_first"]
    rating_scale: Literal[5, 10]
    review_cooldown_days: int
    review_reminder_days: int
    review_hold_days: int = Field(
        description="an open complaint holds the review request until answered, at most this"
    )
    unanswered_alert_minutes: int
    after_hours_reply: bool
    missed_call_textback: bool
    missed_call_countries: list[str] | None = Field(
        description="ISO countries whose mobiles are texted back after a missed call; null: "
        "the country of the business's own number"
    )
    missed_call_hourly_limit: int = Field(
        description="missed-call text-backs per hour at most, for the whole business"
    )
    referral_asks: bool = Field(description="ask happy customers to refer a friend")
    referral_ask_days: int = Field(
        description="the ask goes this many days after a visit (sooner after a 4-5 rating or "
        "an opened review link)"
    )
    referral_cooldown_days: int = Field(description="at most one ask per customer this often")
    referral_offer: str | None = Field(
        description="what a referred friend gets; it makes the ask promotional (sent only with "
        "marketing consent, without the offer otherwise)"
    )
    referral_reward: str | None = Field(
        description="what a referrer gets when a friend first visits (a promotional text)"
    )
    referral_hourly_limit: int = Field(
        description="new referred friends an hour at most, for the whole business"
    )
    opening_hours: OpeningHoursView = Field(
        description="when someone is there to answer (not the sending window): the after-hours "
        "reply, the unanswered alerts and the first-response minutes count these"
    )
    holidays: list[HolidayView] = Field(description="dates the business is closed, by date")
    ces_enabled: bool = Field(
        description="when a conversation is marked handled, ask the next day how easy it was "
        "to get sorted (1-7: customer effort)"
    )
    overdue_factor: float = Field(
        description="a regular (3 visits or more) is overdue once their usual gap times this "
        "has passed since their last visit"
    )
    overdue_floor_days: int = Field(description="a regular is never overdue sooner than this")
    overdue_fixed_days: int = Field(
        description="someone with 1 or 2 visits is overdue this many days after the last"
    )
    milestone_visits: list[int] = Field(
        description="the visits whose thank-you is a milestone thank-you, with the count"
    )
    milestone_every: int = Field(
        description="after the list, every visit that is a multiple of this too (0: none)"
    )
    milestone_reward: str | None = Field(
        description="a reward in the milestone thank-you; it makes it promotional (sent only "
        "with marketing consent, the plain thank-you otherwise)"
    )
    anniversary_texts: bool = Field(
        description="a text on the anniversary of each customer's first visit, yearly"
    )
    birthday_texts: bool = Field(description="a text on each customer's birthday")
    birthday_days_before: int = Field(description="the birthday text this many days before it")
    moment_offer: str | None = Field(
        description="an offer in the anniversary and birthday texts; it makes them promotional "
        "(sent only with marketing consent, without the offer otherwise)"
    )
    winback_texts: bool = Field(
        description="a text to a customer once they are overdue, once per lapse (never with a "
        "visit booked or a complaint unanswered)"
    )
    winback_offer: str | None = Field(
        description="an offer in the win-back text; it makes it promotional (sent only with "
        "marketing consent, without the offer otherwise)"
    )
    broadcast_daily_cap: int = Field(
        description="broadcast texts per local day at most from the sending number (the "
        "carriers' daily limit for its brand)"
    )
    created_at: datetime

    @classmethod
    def of(cls, business: Any) -> BusinessPublic:
        fields = {name: getattr(business, name) for name in cls.model_fields
                  if name != "sending_window"}  # fmt: skip
        window = SendingWindowView(start=business.window_start, end=business.window_end)
        return cls(sending_window=window, **fields)


# ---- customers ----------------------------------------------------------------------------


class CustomerPublic(View):
    id: int
    phone: str = Field(description="E.164")
    name: str
    email: str | None
    tags: list[str]
    consent: ConsentState = Field(description="consent to texts about their visits")
    consent_source: str | None
    consent_at: datetime | None
    opted_out_at: datetime | None
    marketing_consent: ConsentState = Field(
        description="express written consent to promotional texts (offers, rewards), kept "
        "apart from `consent`; STOP ends both"
    )
    marketing_consent_source: str | None
    marketing_consent_at: datetime | None
    referral_code: str | None = Field(
        description="their code (their link is /r/<code> on this app); given when they are "
        "added, or at their first visit when they first reached us by text"
    )
    referred_by: int | None = Field(description="the customer whose code brought them")
    number_status: Literal["ok", "invalid", "landline"]
    unhappy_at: datetime | None
    needs_reply: bool
    birthday: str | None = Field(description='month and day, "MM-DD"', examples=["03-14"])
    visit_count: int = Field(description="completed visits (not canceled, not booked)")
    first_visit_at: datetime | None
    last_visit_at: datetime | None
    usual_gap_days: float | None = Field(
        description="the median number of days between their visits, from the 3rd visit"
    )
    total_spent: float | None = Field(description="the amounts of their visits, when known")
    favourite_staff: str | None = Field(
        description="who they saw most (a tie: the one they saw most recently)"
    )
    booked_until: datetime | None = Field(description="their latest booked visit")
    overdue: bool = Field(
        default=False,
        description="their last visit was longer ago than their own rhythm allows (the "
        "business's overdue settings), with no booked visit ahead",
    )
    created_at: datetime


class CustomerDetail(CustomerPublic):
    suggested_reply: str | None = Field(
        default=None, description="a personal first answer to an unhappy customer"
    )
    unhappy_reasons: list[str] = Field(
        default_factory=list,
        description='why their reply reads as unhappy, in words ("rated 2 of 5", "says the '
        'wait was long"); empty when they are not flagged',
    )


class ReferralPublic(View):
    id: int
    referrer_id: int = Field(description="the customer whose code brought the friend")
    friend_id: int = Field(description="the friend, a customer too")
    state: Literal["lead", "converted", "rewarded"] = Field(
        description="lead: the friend arrived; converted: their first visit was recorded; "
        "rewarded: the owner gave the referrer their reward"
    )
    source: Literal["link", "text"] = Field(
        description="link: signed up on /r/<code>; text: texted the code"
    )
    confirmed_at: datetime | None = Field(
        description="when the friend confirmed their own sign-up (YES), or texted the code"
    )
    converted_at: datetime | None
    visit_id: int | None = Field(description="the friend's first visit")
    rewarded_at: datetime | None
    created_at: datetime


# ---- messages -----------------------------------------------------------------------------


class MediaItem(View):
    url: str
    content_type: str


class MessagePublic(View):
    id: int
    customer_id: int
    direction: Literal["inbound", "outbound"]
    body: str
    kind: str
    status: str = Field(description="our state: `sent` means the provider accepted it")
    provider_status: str | None
    segments: int
    encoding: Literal["GSM-7", "UCS-2"]
    error_code: int | None
    error_reason: str | None
    provider_sid: str | None
    media: list[MediaItem]
    visit_id: int | None
    broadcast_id: int | None = Field(
        description="the broadcast it is one recipient's text of, or (inbound) answers"
    )
    send_at: datetime | None
    reason: str | None = Field(
        description="why a planned text was moved (it waits: quiet hours, the day's limit, an "
        "unresolved complaint) or skipped (canceled: no marketing consent, 4 offers in 30 "
        "days already), in plain words; null when nothing held it"
    )
    sent_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


class VisitPublic(View):
    id: int
    customer_id: int
    occurred_at: datetime
    staff: str | None
    amount: float | None
    status: VisitStatus
    planned: list[MessagePublic] = Field(description="the follow-up texts it scheduled")
    skipped: list[str] = Field(description="why a follow-up was not planned, in words")


class StaffPublic(View):
    id: int
    name: str = Field(
        description="unique in the business whatever its case: a visit's "
        '`staff` of "ana" is recorded as the list\'s "Ana"'
    )
    active: bool = Field(description="offered when a visit is recorded in the owner's pages")
    signs_in: bool = Field(description="a team member with their own sign-in")
    created_at: datetime


# ---- texts --------------------------------------------------------------------------------


class TemplatePublic(View):
    kind: str
    body: str
    default: str
    customized: bool
    merge_fields: list[str]


class TemplateSaved(View):
    kind: str
    body: str
    preview: str
    segments: int
    encoding: Literal["GSM-7", "UCS-2"]


class TemplateReset(View):
    kind: str
    body: str
    customized: bool


class SegmentInfo(View):
    segments: int
    encoding: Literal["GSM-7", "UCS-2"]
    units: int
    per_segment: int


# ---- metrics ------------------------------------------------------------------------------


class Satisfaction(View):
    csat: float | None = Field(description="share of 4-5 answers on the 1-5 question, percent")
    csat_answers: int
    nps: float | None = Field(description="promoters minus detractors on 0-10, percent")
    nps_answers: int
    ces: float | None = Field(
        default=None, description="customer effort: the mean answer on 1 (very hard) to 7 "
        "(very easy)"
    )  # fmt: skip
    ces_easy: float | None = Field(default=None, description="share of 5-7 effort answers, percent")
    ces_answers: int = 0


class StaffMetrics(Satisfaction):
    staff: str | None
    visits: int = Field(default=0, description="completed visits in the range")


class TrendPoint(Satisfaction):
    """One day (or one week, for ranges longer than a month) of the range, local days."""

    first_day: date
    last_day: date


class FailureReason(View):
    error_code: int | None
    reason: str
    count: int


class TextFigures(View):
    sent: int = Field(description="texts to customers handed to the provider in the range")
    delivered: int = Field(description="of those, the ones the carrier reported delivered")
    delivery_rate: float | None = Field(description="delivered of sent, percent")
    failed: int = Field(description="texts that failed or were not delivered in the range")
    failures: list[FailureReason] = Field(description="failures by reason, most first")


class ReplyFigures(View):
    received: int = Field(description="texts customers sent in the range")
    waits: int = Field(description="times a customer wrote and waited for the owner's answer")
    answered: int = Field(description="of those waits, the ones the owner answered")
    median_first_response_minutes: float | None = Field(
        description="how long a customer waited for the owner's first answer, in minutes "
        "counted inside opening hours only (the median)"
    )


class ReviewFigures(View):
    requests: int = Field(description="review requests and rating questions sent")
    reminders: int
    links_sent: int
    links_opened: int
    link_opens: int = Field(description="every open of those links, repeats included")
    open_rate: float | None


class TopReferrer(View):
    customer_id: int
    name: str
    phone: str
    friends: int = Field(description="friends who arrived through them in the range")
    converted: int = Field(description="of those, friends who have visited")


class ReferralFigures(View):
    """Word of mouth over the range: asks sent, friends who came, first visits, rewards."""

    asks_sent: int = Field(description="referral asks sent in the range")
    leads: int = Field(description="friends who arrived in the range (by link or by text)")
    converted: int = Field(description="friends whose first visit was in the range")
    rewarded: int = Field(description="rewards the owner marked given in the range")
    top_referrers: list[TopReferrer]


class Metrics(Satisfaction):
    from_: datetime = Field(alias="from")
    to: datetime
    timezone: str = Field(description="the business's zone: a day is its local day")
    first_day: date
    last_day: date
    unhappy_replies: int
    review_links_sent: int
    review_links_opened: int
    review_link_open_rate: float | None
    automated_texts_sent: int
    reply_rate: float | None
    texts_by_status: dict[str, int]
    texts: TextFigures
    replies: ReplyFigures
    reviews: ReviewFigures
    new_customers: int = Field(description="customers added in the range")
    trend_period: Literal["day", "week"]
    trend: list[TrendPoint] = Field(description="CSAT, NPS and CES per day or week, oldest first")
    referrals: ReferralFigures
    staff: list[StaffMetrics]

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


# ---- broadcasts ---------------------------------------------------------------------------


class FindingView(View):
    level: Literal["stop", "warn", "ok"] = Field(
        description="stop: it cannot go as written; warn: worth a look; ok: checked and fine"
    )
    code: str = Field(examples=["shortener"])
    words: str


class ForecastView(View):
    first_at: datetime | None
    last_at: datetime | None = Field(description="when the last text is expected to go")
    days: int = Field(description="the business's local days it spans")
    held_by: list[str] = Field(description="what paces it, in words")


class AudienceView(View):
    total: int = Field(description="customers in the segment")
    eligible: int = Field(description="who would get it now")
    left_out: dict[str, int] = Field(description="why the others would not, with how many")


class BroadcastCheck(View):
    """What a broadcast would be: a recipient's text, the check's findings, who, and when."""

    sample: str = Field(description="what a customer reads (merge fields of a sample one)")
    segments: int
    findings: list[FindingView]
    audience: AudienceView
    forecast: ForecastView


class BroadcastReport(View):
    queued: int = Field(description="waiting to go (held while the broadcast is paused)")
    sent: int = Field(description="with the carrier, not yet delivered")
    delivered: int
    failed: int
    canceled: int
    failures: dict[str, int] = Field(description="texts that did not go, by reason")
    skipped: dict[str, int] = Field(description="recipients left out, by reason")
    opted_out_after: int = Field(description="recipients who opted out after it reached them")
    replies: int = Field(description="customers who answered it")
    clicks: int = Field(description="recipients who opened a link in it")


class BroadcastPublic(View):
    id: int
    title: str
    body: str
    kind: Literal["informational", "promotional"]
    segment: dict[str, Any]
    per_hour: int | None
    state: Literal["scheduled", "sending", "paused", "canceled", "done"]
    start_at: datetime
    paused_reason: str | None
    paused_by: Literal["owner", "system"] | None
    recipients: int = Field(description="texts written so far (one per eligible recipient)")
    skipped: int = Field(description="recipients left out so far, each with a reason")
    created_at: datetime
    finished_at: datetime | None
    report: BroadcastReport

"""Row schemas of the file sources, as pydantic models.

Each model validates one row as the exporting tool writes it and turns it into the raw table's
layout with ``to_raw()``. A row that fails validation is quarantined with pydantic's field and
message; the rest of the file still loads.
"""

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

ACCEPT_CONTEXT = "accept_row_rules"
"""Validation-context flag set for rows a steward released as-is: the row rules below are skipped
(type, range and allowed-value checks still apply, the raw table's column types need them)."""
DATE_BOUNDS_CONTEXT = "date_bounds"
"""Validation-context key holding the (earliest, latest) naive-UTC datetimes a date may take."""


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _to_utc_naive(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


_NUMBER = re.compile(r"^[+-]?\d+(\.\d*)?$")


def _date_text(value: Any) -> Any:
    value = _blank_to_none(value)
    # pydantic reads a bare number as seconds since 1970; an export that wrote one into a date
    # column is broken, not a date.
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        or (isinstance(value, str) and _NUMBER.match(value))
    ):
        raise PydanticCustomError(
            "not_a_date", "a number, not a date; export dates as ISO 8601 (2026-05-01T10:00:00Z)"
        )
    return value


def _plausible(value: datetime | None, info: ValidationInfo) -> datetime | None:
    bounds = info.context.get(DATE_BOUNDS_CONTEXT) if info.context else None
    if value is None or bounds is None or _accepted(info):
        return value
    earliest, latest = bounds
    moment = _to_utc_naive(value)
    if not earliest <= moment <= latest:
        raise PydanticCustomError(
            "implausible_date",
            "{value} is outside the plausible range {earliest} to {latest} (CDP_INGEST_EARLIEST_DATE, "
            "CDP_INGEST_MAX_FUTURE_DAYS after the as-of date); fix the export or release the row",
            {
                "value": moment.isoformat(sep=" "),
                "earliest": str(earliest.date()),
                "latest": str(latest.date()),
            },
        )
    return value


Text = Annotated[str | None, BeforeValidator(_blank_to_none)]
RequiredText = Annotated[str, BeforeValidator(_blank_to_none)]
Timestamp = Annotated[datetime, BeforeValidator(_date_text), AfterValidator(_plausible)]
OptionalTimestamp = Annotated[datetime | None, BeforeValidator(_date_text), AfterValidator(_plausible)]


def _yes_no(value: Any) -> Any:
    value = _blank_to_none(value)
    if isinstance(value, str) and value.lower() in {"yes", "y", "true", "1"}:
        return True
    if isinstance(value, str) and value.lower() in {"no", "n", "false", "0"}:
        return False
    return value


YesNo = Annotated[bool | None, BeforeValidator(_yes_no)]


def _accepted(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get(ACCEPT_CONTEXT))


def _email_shape(value: str | None, info: ValidationInfo) -> str | None:
    if value is None or _accepted(info):
        return value
    if value.count("@") != 1 or "." not in value.split("@")[1] or " " in value:
        raise PydanticCustomError("invalid_email", "not an email address")
    return value


Email = Annotated[str | None, BeforeValidator(_blank_to_none), AfterValidator(_email_shape)]
RequiredEmail = Annotated[str, BeforeValidator(_blank_to_none), AfterValidator(_email_shape)]


def _row_rule(info: ValidationInfo, rule: str, message: str) -> None:
    if not _accepted(info):
        raise PydanticCustomError(rule, message)


class _Row(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)

    key_field: ClassVar[str]

    def to_raw(self) -> dict[str, Any]:
        """Return the row in its raw table's layout."""
        row = self.model_dump()
        return {k: _to_utc_naive(v) if isinstance(v, datetime) else v for k, v in row.items()}


class SegmentMessage(_Row):
    """One Segment-spec message (identify, track, page, screen, group, alias)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    key_field: ClassVar[str] = "messageId"

    type: Literal["identify", "track", "page", "screen", "group", "alias"]
    messageId: RequiredText
    anonymousId: Text = None
    userId: Text = None
    timestamp: Timestamp
    event: Text = None
    name: Text = None
    properties: dict[str, Any] = Field(default_factory=dict)
    traits: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _identified_somehow(self, info: ValidationInfo) -> "SegmentMessage":
        if not self.anonymousId and not self.userId:
            _row_rule(info, "unidentified_message", "a message needs an anonymousId or a userId")
        if self.type == "track" and not self.event:
            _row_rule(info, "track_without_event", "a track message needs an event name")
        return self

    def to_raw(self) -> dict[str, Any]:
        """Flatten the message into ``raw_marketing.events`` columns; nested parts kept as JSON."""
        traits = self.traits or {}
        context = self.context or {}
        campaign = context.get("campaign") or {}
        page = context.get("page") or {}
        props = self.properties or {}

        def text(mapping: dict[str, Any], key: str) -> str | None:
            value = mapping.get(key)
            return None if value is None or value == "" else str(value)

        return {
            "message_id": self.messageId,
            "type": self.type,
            "event_name": self.event,
            "page_name": self.name,
            "anonymous_id": self.anonymousId,
            "user_id": self.userId,
            "occurred_at": _to_utc_naive(self.timestamp),
            "traits_email": text(traits, "email"),
            "traits_first_name": text(traits, "firstName"),
            "traits_last_name": text(traits, "lastName"),
            "traits_phone": text(traits, "phone"),
            "traits_company": text(traits, "company"),
            "traits_title": text(traits, "title"),
            "properties": json.dumps(props, sort_keys=True, ensure_ascii=False),
            "context_ip": text(context, "ip"),
            "context_user_agent": text(context, "userAgent"),
            "context_locale": text(context, "locale"),
            "utm_source": text(campaign, "source"),
            "utm_medium": text(campaign, "medium"),
            "utm_campaign": text(campaign, "name"),
            "utm_term": text(campaign, "term"),
            "utm_content": text(campaign, "content"),
            "page_url": text(page, "url") or text(props, "url"),
            "page_path": text(page, "path") or text(props, "path"),
            "page_title": text(page, "title") or text(props, "title"),
            "page_referrer": text(page, "referrer") or text(props, "referrer"),
        }


class EmailActivity(_Row):
    """One row of the ESP's activity export."""

    key_field: ClassVar[str] = "email"

    email: RequiredEmail
    campaign_id: RequiredText
    campaign_name: Text = None
    event: Literal["sent", "open", "click", "unsubscribe", "bounce"]
    occurred_at: Timestamp = Field(validation_alias="timestamp")
    url: Text = None
    bounce_type: Annotated[Literal["hard", "soft"] | None, BeforeValidator(_blank_to_none)] = None


class _Lead(_Row):
    """Common layout every lead channel maps into (``raw_marketing.lead_forms``)."""

    channel: str
    lead_id: str
    submitted_at: datetime
    first_name: str | None = None
    last_name: str | None = None
    full_name: str | None = None
    email: str | None = None
    phone: str | None = None
    company: str | None = None
    job_title: str | None = None
    country: str | None = None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    campaign_name: str | None = None
    ad_name: str | None = None
    page_url: str | None = None
    event_name: str | None = None
    agent: str | None = None
    notes: str | None = None
    email_opt_in: bool | None = None


class WebFormLead(_Row):
    """A submission of the website's lead form."""

    key_field: ClassVar[str] = "submission_id"

    submission_id: RequiredText
    submitted_at: Timestamp
    first_name: Text = None
    last_name: Text = None
    email: Email = None
    phone: Text = None
    company: Text = None
    job_title: Text = None
    utm_source: Text = None
    utm_medium: Text = None
    utm_campaign: Text = None
    page_url: Text = None
    email_opt_in: YesNo = None

    def to_raw(self) -> dict[str, Any]:
        """Map to the common lead layout."""
        fields = self.model_dump(exclude={"submission_id"})
        return _Lead(channel="web_form", lead_id=f"web_form:{self.submission_id}", **fields).to_raw()


class VideoAdLead(_Row):
    """A lead from a short-video platform's instant form."""

    key_field: ClassVar[str] = "lead_id"

    lead_id: RequiredText
    created_time: Timestamp
    full_name: Text = None
    email: Email = None
    phone_number: Text = None
    company_name: Text = None
    campaign_name: Text = None
    ad_name: Text = None

    def to_raw(self) -> dict[str, Any]:
        """Map to the common lead layout."""
        return _Lead(
            channel="video_ad_form",
            lead_id=f"video_ad_form:{self.lead_id}",
            submitted_at=self.created_time,
            full_name=self.full_name,
            email=self.email,
            phone=self.phone_number,
            company=self.company_name,
            campaign_name=self.campaign_name,
            ad_name=self.ad_name,
        ).to_raw()


class HotlineLead(_Row):
    """A call to the sales hotline, logged by the agent."""

    key_field: ClassVar[str] = "call_id"

    call_id: RequiredText
    call_started_at: Timestamp
    caller_number: Text = None
    caller_name: Text = None
    company: Text = None
    agent: Text = None
    notes: Text = None

    def to_raw(self) -> dict[str, Any]:
        """Map to the common lead layout."""
        return _Lead(
            channel="hotline",
            lead_id=f"hotline:{self.call_id}",
            submitted_at=self.call_started_at,
            full_name=self.caller_name,
            phone=self.caller_number,
            company=self.company,
            agent=self.agent,
            notes=self.notes,
        ).to_raw()


class TradeshowBadgeLead(_Row):
    """A badge scanned at a trade-show booth."""

    key_field: ClassVar[str] = "badge_id"

    badge_id: RequiredText
    scanned_at: Timestamp
    event_name: Text = None
    first_name: Text = None
    last_name: Text = None
    email: Email = None
    company: Text = None
    title: Text = None
    country: Text = None

    def to_raw(self) -> dict[str, Any]:
        """Map to the common lead layout."""
        return _Lead(
            channel="tradeshow_badges",
            lead_id=f"tradeshow_badges:{self.badge_id}",
            submitted_at=self.scanned_at,
            first_name=self.first_name,
            last_name=self.last_name,
            email=self.email,
            company=self.company,
            job_title=self.title,
            country=self.country,
            event_name=self.event_name,
        ).to_raw()


class Ticket(_Row):
    """A support ticket from the help desk export."""

    key_field: ClassVar[str] = "ticket_id"

    ticket_id: RequiredText
    created_at: Timestamp
    solved_at: OptionalTimestamp = None
    requester_name: Text = None
    requester_email: Email = None
    requester_phone: Text = None
    subject: Text = None
    status: Literal["new", "open", "pending", "solved", "closed"]
    priority: Literal["low", "normal", "high", "urgent"]
    channel: Text = None
    csat_score: Annotated[Annotated[int, Field(ge=1, le=5)] | None, BeforeValidator(_blank_to_none)] = None
    is_escalated: YesNo = None

    @model_validator(mode="after")
    def _solved_after_created(self, info: ValidationInfo) -> "Ticket":
        if self.solved_at and _to_utc_naive(self.solved_at) < _to_utc_naive(self.created_at):
            _row_rule(info, "solved_before_created", "solved_at is before created_at")
        return self


class NpsResponse(_Row):
    """One answer to an NPS survey."""

    key_field: ClassVar[str] = "response_id"

    response_id: RequiredText
    responded_at: Timestamp
    email: Email = None
    score: Annotated[int, BeforeValidator(_blank_to_none), Field(ge=0, le=10)]
    comment: Text = None
    survey_name: Text = None


class ConsentEvent(_Row):
    """A consent grant or withdrawal for one purpose."""

    key_field: ClassVar[str] = "consent_id"

    consent_id: RequiredText
    subject_email: Email = None
    subject_phone: Text = None
    purpose: Literal["email_marketing", "advertising", "analytics"]
    status: Literal["granted", "withdrawn"]
    recorded_at: Timestamp
    source: Text = None

    @model_validator(mode="after")
    def _has_subject(self, info: ValidationInfo) -> "ConsentEvent":
        if not self.subject_email and not self.subject_phone:
            _row_rule(info, "missing_subject", "a consent event needs a subject email or phone")
        return self

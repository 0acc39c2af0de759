"""Lead capture: website form, short-video ad form, sales hotline and trade-show badge scans."""

import dataclasses
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlencode

from ._output import Truth
from ._people import Person, Tradeshow, World, derive_rng, pick, poisson
from ._reference import (
    FORM_KINDS,
    HOTLINE_NOTES,
    UTM_CAMPAIGNS,
    UTM_CHANNELS,
    UTM_TERMS,
    VIDEO_ADS,
    VIDEO_CAMPAIGNS,
    WEBSITE,
)
from ._time import DAY, HOUR, iso_offset, iso_z
from ._variants import (
    BADGE_EMAIL,
    BADGE_NAME,
    FORM_EMAIL,
    FORM_NAME,
    FORM_PHONE,
    HOTLINE_NAME,
    VIDEO_EMAIL,
    VIDEO_NAME,
    render_company,
    render_email,
    render_name,
    render_phone,
    render_title,
)

CHANNELS = ("web_form", "video_ad_form", "hotline", "tradeshow_badges")
HEADERS = {
    "web_form": (
        "submission_id",
        "submitted_at",
        "first_name",
        "last_name",
        "email",
        "phone",
        "company",
        "job_title",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "page_url",
        "email_opt_in",
    ),
    "video_ad_form": (
        "lead_id",
        "created_time",
        "full_name",
        "email",
        "phone_number",
        "company_name",
        "campaign_name",
        "ad_name",
    ),
    "hotline": ("call_id", "call_started_at", "caller_number", "caller_name", "company", "agent", "notes"),
    "tradeshow_badges": (
        "badge_id",
        "scanned_at",
        "event_name",
        "first_name",
        "last_name",
        "email",
        "company",
        "title",
        "country",
    ),
}
_FORM_KIND_WEIGHTS = (("demo", 35), ("content", 30), ("webinar", 20), ("contact", 15))


@dataclass(eq=False)
class Fill:
    """One lead-form submission (or call, or badge scan) and what it recorded about the person."""

    person: Person
    channel: str
    at: datetime
    kind: str | None = None
    show: Tradeshow | None = None
    record_id: str = ""
    first: str = ""
    last: str = ""
    full: str = ""
    email: str = ""
    phone: str = ""
    company: str = ""
    title: str = ""
    campaign: dict[str, str] = field(default_factory=dict)
    page_url: str = ""
    opt_in: bool = False
    row: tuple = ()


@dataclass
class Leads:
    """The fills of every channel, and each channel's file rows."""

    fills: list[Fill]
    rows: dict[str, list[tuple]]


def build_leads(world: World, truth: Truth) -> Leads:
    """Plan and render every lead capture and record each in the ground truth.

    Args:
        world: The sample world.
        truth: Ground truth to add ``lead_forms`` rows to.

    Returns:
        The fills (events and consent are derived from them) and the rows per channel file.
    """
    rng = derive_rng(world.seed, "leads")
    fills = []
    for person in world.people:
        if not person.anonymous_only:
            fills.extend(_plan(rng, world, person))
    fills.sort(key=lambda f: (f.at, f.person.index, f.channel))
    rows: dict[str, list[tuple]] = {channel: [] for channel in CHANNELS}
    used_ids: set[str] = set()
    for fill in fills:
        render = {
            "web_form": _web_form,
            "video_ad_form": _video_ad,
            "hotline": _hotline,
            "tradeshow_badges": _badge,
        }[fill.channel]
        render(rng, world, fill, len(rows[fill.channel]), used_ids)
        rows[fill.channel].append(fill.row)
        truth.add("lead_forms", f"{fill.channel}:{fill.record_id}", fill.person)
    return Leads(fills=fills, rows=rows)


def _plan(rng: random.Random, world: World, person: Person) -> list[Fill]:
    window = world.window
    offset = person.country.utc_offset
    plans = []
    if person.first_channel in CHANNELS:
        kind = None
        if person.first_channel == "web_form":
            trial = person.user_id is not None and person.signup_at == person.first_touch_at
            kind = "trial" if trial else pick(rng, _FORM_KIND_WEIGHTS)
        plans.append(Fill(person, person.first_channel, person.first_touch_at, kind, show=person.tradeshow))
    later = person.first_touch_at + DAY
    if later >= window.last - HOUR:
        return plans
    rate = 0.8 * person.engagement * (0.5 if person.account.status == "customer" else 1.0)
    for _ in range(min(3, poisson(rng, rate))):
        kind = pick(rng, _FORM_KIND_WEIGHTS)
        plans.append(Fill(person, "web_form", window.working(rng, later, window.last - HOUR, offset), kind))
    if rng.random() < 0.08:
        shows = [
            s for s in world.tradeshows if s.country.region == person.account.region and s.first_day > later
        ]
        if shows:
            show = rng.choice(shows)
            start = show.first_day + timedelta(
                days=rng.randrange(show.days), hours=9 - show.country.utc_offset
            )
            at = window.working(rng, start, start + timedelta(hours=8), show.country.utc_offset)
            plans.append(Fill(person, "tradeshow_badges", at, show=show))
    if rng.random() < 0.03:
        plans.append(Fill(person, "hotline", window.working(rng, later, window.last - HOUR, offset)))
    return plans


def _campaign(rng: random.Random, person: Person, at: datetime) -> dict[str, str]:
    if person.country.code == "CN" and rng.random() < 0.6:
        source, medium = rng.choice((("baidu", "cpc"), ("wechat", "paid_social")))
    else:
        source, medium = rng.choice(UTM_CHANNELS)
    campaign = {"source": source, "medium": medium, "name": f"{at:%Y}-q{(at.month - 1) // 3 + 1}-"}
    campaign["name"] += rng.choice(UTM_CAMPAIGNS)
    if medium == "cpc":
        term = rng.choice(UTM_TERMS)
        if term:
            campaign["term"] = term
    if rng.random() < 0.5:
        campaign["content"] = rng.choice(("variant-a", "variant-b", "carousel", "video"))
    return campaign


def utm_query(campaign: dict[str, str]) -> str:
    """The landing URL's query string for a Segment ``context.campaign`` (``name`` is ``utm_campaign``)."""
    return urlencode(
        {"utm_" + ("campaign" if key == "name" else key): value for key, value in campaign.items()}
    )


def _web_form(rng: random.Random, world: World, fill: Fill, number: int, used: set[str]) -> None:
    person = fill.person
    name = render_name(rng, person, FORM_NAME)
    fill.record_id = str(10001 + number)
    fill.first, fill.last, fill.full = name.first, name.last, name.full
    fill.email = render_email(rng, person, FORM_EMAIL, world.emails)
    fill.phone = render_phone(rng, person, FORM_PHONE, 0.6)
    fill.company = render_company(rng, person.account, 0.2 if person.uses_native_script else 0.0, 0.05)
    fill.title = render_title(rng, person, 0.25, 0.15)
    fill.campaign = _campaign(rng, person, fill.at) if rng.random() < 0.4 else {}
    path = FORM_KINDS[fill.kind][0]
    fill.page_url = f"{WEBSITE}{path}"
    if fill.campaign:
        fill.page_url += "?" + utm_query(fill.campaign)
    fill.opt_in = rng.random() < 0.75
    fill.row = (
        fill.record_id,
        iso_z(fill.at),
        fill.first,
        fill.last,
        fill.email,
        fill.phone,
        fill.company,
        fill.title,
        fill.campaign.get("source", ""),
        fill.campaign.get("medium", ""),
        fill.campaign.get("name", ""),
        fill.page_url,
        "yes" if fill.opt_in else "no",
    )


def _video_ad(rng: random.Random, world: World, fill: Fill, number: int, used: set[str]) -> None:
    person = fill.person
    while True:
        fill.record_id = str(rng.randrange(10**15, 10**16))
        if fill.record_id not in used:
            used.add(fill.record_id)
            break
    name = render_name(rng, person, VIDEO_NAME)
    fill.first, fill.last, fill.full = name.first, name.last, name.full
    fill.email = render_email(rng, person, VIDEO_EMAIL, world.emails)
    fill.phone = person.phones["e164"] if rng.random() < 0.8 else ""
    fill.company = render_company(rng, person.account, 0.3 if person.uses_native_script else 0.0, 0.25)
    fill.row = (
        fill.record_id,
        iso_offset(fill.at),
        fill.full,
        fill.email,
        fill.phone,
        fill.company,
        rng.choice(VIDEO_CAMPAIGNS),
        rng.choice(VIDEO_ADS),
    )


def _hotline(rng: random.Random, world: World, fill: Fill, number: int, used: set[str]) -> None:
    person = fill.person
    fill.record_id = f"CALL-{fill.at:%Y%m%d}-{number + 1:05d}"
    name = render_name(rng, person, HOTLINE_NAME)
    fill.first, fill.last, fill.full = name.first, name.last, name.full
    fill.phone = person.phones["national"] if rng.random() < 0.95 else ""
    fill.company = render_company(rng, person.account, 0.3 if person.uses_native_script else 0.0, 0.3)
    agents = [u.full_name for u in world.users if u.team == "sales"]
    customer = person.account.status == "customer" and fill.at >= person.account.close_at
    notes = "Existing customer; asked about more seats" if customer else rng.choice(HOTLINE_NOTES)
    fill.row = (
        fill.record_id,
        iso_z(fill.at),
        fill.phone,
        fill.full,
        fill.company,
        rng.choice(agents),
        notes,
    )


def _badge(rng: random.Random, world: World, fill: Fill, number: int, used: set[str]) -> None:
    person, show = fill.person, fill.show
    while True:
        fill.record_id = f"{show.code}-{rng.randrange(1, 100000):05d}"
        if fill.record_id not in used:
            used.add(fill.record_id)
            break
    home_market = person.uses_native_script and show.country is person.country
    style = BADGE_NAME if home_market else dataclasses.replace(BADGE_NAME, native=0.0, family_first=0.0)
    name = render_name(rng, person, style)
    fill.first, fill.last, fill.full = name.first, name.last, name.full
    fill.email = render_email(rng, person, BADGE_EMAIL, world.emails)
    fill.company = render_company(rng, person.account, 0.4 if home_market else 0.0, 0.03)
    fill.title = render_title(rng, person, 0.3, 0.1)
    fill.row = (
        fill.record_id,
        iso_z(fill.at),
        show.name,
        fill.first,
        fill.last,
        fill.email,
        fill.company,
        fill.title,
        person.country.code if rng.random() < 0.92 else "",
    )

"""Website and product analytics as Segment-spec messages (identify, track, page), one file per month."""

import json
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import attrgetter

from ._email import Click
from ._leads import Fill, utm_query
from ._output import Malformed, Truth
from ._people import Person, World, derive_rng, pick, poisson
from ._reference import (
    APP_URL,
    FEATURES,
    FORM_KINDS,
    INVITE_PAGE,
    LOGIN_PAGE,
    PAGE_WEIGHTS,
    PAGES,
    REFERRERS,
    USER_AGENTS,
    WEBSITE,
)
from ._time import iso_ms
from ._variants import APP_NAME, render_name

_FORM_PROPERTIES = {
    "demo": {"form": "demo"},
    "content": {"asset": "cdp-buyers-guide"},
    "webinar": {"webinar": "unified-customer-view"},
}
_SOCIAL_REFERRERS = {
    "google": "https://www.google.com/",
    "bing": "https://www.bing.com/",
    "linkedin": "https://www.linkedin.com/",
    "facebook": "https://www.facebook.com/",
    "twitter": "https://t.co/",
    "baidu": "https://www.baidu.com/",
}
_RELOGIN_AFTER = timedelta(days=45)
_ENCODER = json.JSONEncoder(ensure_ascii=False)
_PUBLIC_FIRST_OCTETS = tuple(n for n in range(1, 224) if n not in {10, 100, 127, 169, 172, 192, 198, 203})


@dataclass(eq=False, slots=True)
class Message:
    """A Segment message before its userId is known (that depends on the device's history)."""

    at: datetime
    type: str
    message_id: str
    name: str | None = None
    event: str | None = None
    properties: dict | None = None
    traits: dict | None = None
    page: dict | None = None
    campaign: dict | None = None
    sets_user: str | None = None
    user_id: str | None = None


@dataclass(eq=False)
class Device:
    """One browser (one anonymousId) of a person."""

    person: Person
    anonymous_id: str
    ip: str
    user_agent: str
    locale: str
    messages: list[Message] = field(default_factory=list)
    user_identified_at: datetime | None = None


@dataclass
class Events:
    """The monthly files' lines and the lines broken on purpose."""

    files: dict[str, list[str]]
    malformed: list[Malformed]


class _Site:
    """Builds sessions on devices; holds the random source and message counter."""

    def __init__(self, world: World, rng: random.Random) -> None:
        self.world = world
        self.rng = rng
        self.window = world.window
        self.devices: list[Device] = []

    def _id(self) -> str:
        return f"ajs-next-{self.rng.getrandbits(128):032x}"

    def device(self, person: Person) -> Device:
        rng = self.rng
        locale = person.country.web_locale if rng.random() < 0.85 else "en-US"
        anonymous_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        octets = (
            rng.choice(_PUBLIC_FIRST_OCTETS),
            rng.randrange(256),
            rng.randrange(256),
            rng.randrange(1, 255),
        )
        ip = ".".join(map(str, octets))
        device = Device(person, anonymous_id, ip, pick(rng, USER_AGENTS), locale)
        self.devices.append(device)
        return device

    def _add(self, device: Device, at: datetime, kind: str, **fields: object) -> Message | None:
        if not self.window.start <= at < self.window.end:
            return None
        message = Message(at=at, type=kind, message_id=self._id(), **fields)
        device.messages.append(message)
        return message

    def jitter(self, low: int, high: int) -> timedelta:
        return timedelta(milliseconds=self.rng.randrange(low, high))

    def _page_props(self, page: tuple[str, str, str], referrer: str, query: str = "") -> dict:
        _, path, title = page
        url = f"{WEBSITE}{path}" + (f"?{query}" if query else "")
        return {"path": path, "referrer": referrer, "title": title, "url": url}

    def visit(
        self,
        device: Device,
        pages: list[tuple[str, str, str]],
        *,
        start: datetime | None = None,
        last_at: datetime | None = None,
        campaign: dict | None = None,
    ) -> tuple[datetime, dict]:
        """Add page views; the session starts at ``start`` or its last page is at ``last_at``.

        Returns:
            Time and page context of the last page.
        """
        gaps = [self.jitter(4000, 240000) for _ in pages[1:]]
        if start is None:
            start = last_at - sum(gaps, timedelta())
        referrer = _SOCIAL_REFERRERS.get(campaign["source"], "") if campaign else pick(self.rng, REFERRERS)
        query = utm_query(campaign) if campaign else ""
        at, props = start, {}
        for number, page in enumerate(pages):
            if number:
                at += gaps[number - 1]
            landing = number == 0
            props = self._page_props(page, referrer, query if landing else "")
            self._add(
                device,
                at,
                "page",
                name=page[0],
                properties=props,
                page=dict(props),
                campaign=campaign if landing else None,
            )
            referrer = f"{WEBSITE}{page[1]}"
        return at, props

    def random_pages(self, count: int) -> list[tuple[str, str, str]]:
        return self.rng.choices(PAGES, PAGE_WEIGHTS, k=max(1, count))

    def identify(
        self, device: Device, at: datetime, traits: dict, page: dict, user_id: str | None = None
    ) -> None:
        clean = {k: v for k, v in traits.items() if v}
        if self._add(device, at, "identify", traits=clean, page=page, sets_user=user_id) and user_id:
            device.user_identified_at = at

    def track(self, device: Device, at: datetime, event: str, properties: dict, page: dict) -> None:
        self._add(device, at, "track", event=event, properties=properties, page=page)


def build_events(
    world: World, fills: list[Fill], clicks: list[Click], truth: Truth, malformed_count: int
) -> Events:
    """Render every person's web and product activity.

    Args:
        world: The sample world.
        fills: Lead captures; each web-form submission is also an identify on the site.
        clicks: Email clicks; some land on the site and identify the visitor.
        truth: Ground truth to add ``events`` (identify messageIds) and ``events_anonymous`` rows to.
        malformed_count: Broken lines to inject.

    Returns:
        Lines per monthly file and the injected malformed lines.
    """
    rng = derive_rng(world.seed, "events")
    site = _Site(world, rng)
    fills_of: dict[int, list[Fill]] = defaultdict(list)
    for fill in fills:
        if fill.channel == "web_form":
            fills_of[fill.person.index].append(fill)
    clicks_of: dict[int, list[Click]] = defaultdict(list)
    for click in clicks:
        clicks_of[click.person.index].append(click)
    for person in world.people:
        _person(site, person, fills_of.get(person.index, []), clicks_of.get(person.index, []))
    messages = []
    for device in site.devices:
        user_id = None
        # Messages were added in creation order, so a stable sort on time keeps ties in that order.
        for message in sorted(device.messages, key=attrgetter("at")):
            user_id = message.sets_user or user_id
            message.user_id = user_id
            messages.append((message, device))
            if message.type == "identify":
                truth.add("events", message.message_id, device.person)
                truth.add("events_anonymous", device.anonymous_id, device.person)
    # Stable: simultaneous messages keep the (deterministic) device order.
    messages.sort(key=lambda pair: pair[0].at)
    by_month: dict[tuple[int, int], list[str]] = defaultdict(list)
    identifies = []
    for message, device in messages:
        payload = _payload(message, device)
        by_month[message.at.year, message.at.month].append(_ENCODER.encode(payload))
        if message.type == "identify":
            identifies.append(payload)
    files = {
        f"events/events-{year}-{month:02d}.jsonl": lines for (year, month), lines in sorted(by_month.items())
    }
    malformed = _inject(rng, files, identifies, malformed_count)
    return Events(files=files, malformed=malformed)


def _payload(message: Message, device: Device) -> dict:
    payload: dict = {
        "type": message.type,
        "messageId": message.message_id,
        "anonymousId": device.anonymous_id,
        "userId": message.user_id,
        "timestamp": iso_ms(message.at),
    }
    if message.type == "track":
        payload["event"] = message.event
        payload["properties"] = message.properties
    elif message.type == "page":
        payload["name"] = message.name
        payload["properties"] = message.properties
    else:
        payload["traits"] = message.traits
    context: dict = {"ip": device.ip, "userAgent": device.user_agent, "locale": device.locale}
    if message.campaign:
        context["campaign"] = message.campaign
    if message.page:
        context["page"] = message.page
    payload["context"] = context
    return payload


def _person(site: _Site, person: Person, web_fills: list[Fill], clicks: list[Click]) -> None:
    rng, window = site.rng, site.window
    app = person.user_id is not None
    marketing = person.anonymous_only or bool(web_fills) or rng.random() < 0.35
    if not (marketing or app or clicks):
        return
    main = site.device(person)
    if person.anonymous_only:
        for _ in range(1 + poisson(rng, 1.0)):
            start = window.uniform(rng, person.first_touch_at, window.last)
            site.visit(main, site.random_pages(1 + poisson(rng, 1.5)), start=start)
        return
    anchor = web_fills[0].at if web_fills else person.signup_at
    if marketing:
        anchor = anchor or window.uniform(rng, person.first_touch_at, window.last)
        for _ in range(1 + (rng.random() < 0.5) + (rng.random() < 0.2)):
            start = window.uniform(rng, anchor - timedelta(days=21), anchor - timedelta(minutes=10))
            site.visit(main, site.random_pages(1 + poisson(rng, 1.5)), start=start)
        for fill in web_fills:
            _form_session(site, main, fill)
        for _ in range(poisson(rng, 1.5 * person.engagement)):
            start = window.uniform(rng, anchor, window.last)
            site.visit(main, site.random_pages(1 + poisson(rng, 1.5)), start=start)
    if app:
        _app_usage(site, person, main)
    for click in clicks:
        if rng.random() < 0.5:
            continue
        path = click.url.split("?")[0].removeprefix(WEBSITE)
        page = next(p for p in PAGES if p[1] == path)
        campaign = {"source": "newsletter", "medium": "email", "name": click.campaign_id}
        more = poisson(rng, 1.0)
        pages = [page] + (site.random_pages(more) if more else [])
        at, props = site.visit(main, pages, start=click.at + site.jitter(800, 5000), campaign=campaign)
        if rng.random() < 0.3:
            site.identify(main, at + site.jitter(100, 900), {"email": click.address}, props)


def _form_session(site: _Site, device: Device, fill: Fill) -> None:
    rng = site.rng
    form_path, event = FORM_KINDS[fill.kind]
    form_page = next((p for p in PAGES if p[1] == form_path), ("Form", form_path, "Sign up"))
    before = rng.randrange(3)
    pages = (site.random_pages(before) if before else []) + [form_page]
    page_at = fill.at - timedelta(seconds=rng.randrange(20, 180))
    page_at = max(page_at, site.window.start + timedelta(minutes=5))
    _, props = site.visit(device, pages, last_at=page_at, campaign=fill.campaign or None)
    identified = max(fill.at, page_at) + site.jitter(200, 1500)
    traits = {
        "email": fill.email,
        "firstName": fill.first,
        "lastName": fill.last,
        "phone": fill.phone,
        "company": fill.company,
        "title": fill.title,
    }
    trial = fill.kind == "trial"
    site.identify(device, identified, traits, props, user_id=fill.person.user_id if trial else None)
    if event:
        properties = dict(_FORM_PROPERTIES.get(fill.kind, {}))
        site.track(device, identified + site.jitter(300, 2000), event, properties, props)
    if trial:
        properties = {"plan": "growth", "trial_days": 14}
        site.track(device, identified + site.jitter(2000, 5000), "Trial Started", properties, props)


def _app_traits(site: _Site, person: Person) -> dict:
    name = render_name(site.rng, person, APP_NAME)
    return {
        "email": person.app_email,
        "firstName": name.first,
        "lastName": name.last,
        "company": person.account.name,
    }


def _app_usage(site: _Site, person: Person, main: Device) -> None:
    rng, window, account = site.rng, site.window, person.account
    devices = [main] + ([site.device(person)] if rng.random() < 0.4 else [])
    trial_user = account.status in {"pipeline", "prospect"}
    if not trial_user:
        device = rng.choice(devices)
        page_at = person.signup_at - timedelta(seconds=rng.randrange(30, 300))
        _, props = site.visit(device, [INVITE_PAGE], start=page_at)
        site.identify(device, person.signup_at, _app_traits(site, person), props, user_id=person.user_id)
        site.track(
            device, person.signup_at + site.jitter(500, 3000), "Signed Up", {"plan": "team_invite"}, props
        )
    if trial_user:
        stop = min(person.signup_at + timedelta(days=14), window.end)
        count = 3 + poisson(rng, 8 * person.engagement)
    else:
        stop = min(account.churn_at or window.end, window.end)
        weeks = max(0.0, (stop - person.signup_at) / timedelta(days=7))
        count = poisson(rng, (0.1 + 1.0 * account.health) * weeks)
    start = person.signup_at + timedelta(hours=1)
    if stop - start < timedelta(hours=1):
        return
    span = int((stop - start).total_seconds())
    workspace = account.domain.split(".")[0]
    for offset in sorted(rng.randrange(span) for _ in range(count)):
        at = start + timedelta(seconds=offset) + site.jitter(0, 1000)
        device = rng.choice(devices)
        if device.user_identified_at is None or at - device.user_identified_at > _RELOGIN_AFTER:
            login_at = at - timedelta(seconds=rng.randrange(30, 200))
            _, login = site.visit(device, [LOGIN_PAGE], start=login_at)
            site.identify(
                device, login_at + site.jitter(2000, 9000), _app_traits(site, person), login, person.user_id
            )
        feature = rng.choice(FEATURES)
        app_page = {
            "path": f"/{feature}",
            "referrer": "",
            "title": feature.replace("_", " ").title(),
            "url": "",
        }
        app_page["url"] = f"{APP_URL}/{feature}"
        site.track(device, at, "Feature Used", {"feature": feature, "workspace": workspace}, app_page)


def _inject(
    rng: random.Random, files: dict[str, list[str]], identifies: list[dict], count: int
) -> list[Malformed]:
    """Insert broken lines (new messages, never in the ground truth) and report where they landed."""
    if not files or not identifies:
        return []
    inserted: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    reasons = (
        "invalid JSON: line truncated",
        "missing timestamp",
        "wrong type: 'pageview' is not a message type",
    )
    names = sorted(files)
    for number in range(count):
        message = dict(rng.choice(identifies))
        message["messageId"] = f"ajs-next-{rng.getrandbits(128):032x}"
        message["anonymousId"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if number % 3 == 1:
            del message["timestamp"]
            line = json.dumps(message, ensure_ascii=False)
        elif number % 3 == 2:
            message["type"] = "pageview"
            line = json.dumps(message, ensure_ascii=False)
        else:
            text = json.dumps(message, ensure_ascii=False)
            line = text[: len(text) // 2]
        name = rng.choice(names)
        inserted[name].append((rng.randrange(len(files[name]) + 1), number, line))
    malformed = []
    for name in names:
        extra = sorted(inserted.get(name, []))
        merged: list[str] = []
        for index, line in enumerate([*files[name], None]):
            while extra and extra[0][0] == index:
                _, number, bad = extra.pop(0)
                merged.append(bad)
                malformed.append(Malformed(name, len(merged), reasons[number % len(reasons)]))
            if line is not None:
                merged.append(line)
        files[name] = merged
    return sorted(malformed, key=lambda m: (m.file, m.line))

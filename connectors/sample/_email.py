"""The email service provider's activity export: campaigns sent to the consented list."""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from ._consent import Consent, Subscriber
from ._output import Truth
from ._people import Person, World, derive_rng
from ._reference import FEATURES, PAGES, WEBSITE
from ._time import DAY, iso_z

HEADER = ("email", "campaign_id", "campaign_name", "event", "timestamp", "url", "bounce_type")
_WEBINARS = ("Unified customer view in 30 minutes", "Consent-first marketing", "Identity resolution 101")
_NURTURE = (
    "Getting started with identity resolution",
    "How teams cut CAC with audiences",
    "Your CDP checklist",
)
_BLOG_PATHS = tuple(path for _, path, _ in PAGES if path.startswith(("/blog/", "/resources/", "/product/")))


@dataclass(frozen=True)
class Campaign:
    """One email send."""

    campaign_id: str
    name: str
    kind: str
    send_at: datetime
    region: str | None = None


@dataclass(frozen=True)
class Click:
    """A click in an email, which lands the person on the website."""

    person: Person
    address: str
    at: datetime
    url: str
    campaign_id: str


@dataclass
class EmailActivity:
    """The export rows and the clicks the website sees."""

    rows: list[tuple]
    clicks: list[Click]


def _campaigns(rng: random.Random, world: World) -> list[Campaign]:
    window = world.window
    plans: list[tuple[datetime, str, str, str | None]] = []
    for month in range(12):
        at = window.at(8 + month * 30.4) + timedelta(hours=15)
        plans.append((at, "newsletter", f"Newsletter - {at:%B %Y}", None))
    for number in range(6):
        at = window.at(25 + number * 60) + timedelta(hours=16)
        feature = FEATURES[number % len(FEATURES)].replace("_", " ")
        plans.append((at, "product", f"Product update: {feature}", None))
    for number in range(6):
        at = window.at(40 + number * 55) + timedelta(hours=14)
        plans.append((at, "webinar", f"Webinar invite: {_WEBINARS[number % len(_WEBINARS)]}", None))
    for number in range(4):
        at = window.at(70 + number * 80) + timedelta(hours=13)
        plans.append((at, "nurture", _NURTURE[number % len(_NURTURE)], None))
    for show in world.tradeshows:
        at = show.first_day - timedelta(days=14) + timedelta(hours=12)
        plans.append((at, "event", f"Meet us at {show.name}", show.country.region))
    plans = sorted(p for p in plans if window.start + DAY <= p[0] < window.last - DAY)
    return [
        Campaign(f"cmp_{rng.getrandbits(40):010x}", name, kind, at.replace(minute=rng.randrange(60)), region)
        for at, kind, name, region in plans
    ]


def _targeted(rng: random.Random, campaign: Campaign, person: Person) -> bool:
    account, at = person.account, campaign.send_at
    is_customer = (
        account.close_at is not None
        and account.close_at <= at
        and (account.churn_at is None or at < account.churn_at)
    )
    if campaign.kind == "newsletter":
        return True
    if campaign.kind == "product":
        return is_customer
    if campaign.kind == "event":
        return account.region == campaign.region and rng.random() < 0.85
    share = 0.7 if campaign.kind == "webinar" else 0.5
    return not is_customer and rng.random() < share


def build_email(world: World, consent: Consent, truth: Truth) -> EmailActivity:
    """Send every campaign to the addresses consented at send time; resolve planned unsubscribes.

    An unsubscribe is followed (within two minutes) by a withdrawn ``email_marketing`` consent for
    the same address, and nothing is sent to the address while consent is withdrawn.

    Args:
        world: The sample world.
        consent: The email list; withdrawals are recorded on it.
        truth: Ground truth to add ``email`` rows (one per distinct address) to.

    Returns:
        Export rows in time order and the clicks.
    """
    rng = derive_rng(world.seed, "email")
    window = world.window
    rows: list[tuple[datetime, int, tuple]] = []
    clicks: list[Click] = []
    for subscriber in consent.subscribers:
        work_address = subscriber.address.lower().endswith("@" + subscriber.person.account.domain)
        if work_address and rng.random() < 0.015:
            # The person left the company: their work mailbox starts bouncing.
            subscriber.bounces_from = window.uniform(rng, window.start, window.last)
    for campaign in _campaigns(rng, world):
        for subscriber in consent.subscribers:
            if subscriber.suppressed or not _targeted(rng, campaign, subscriber.person):
                continue
            sent = campaign.send_at + timedelta(seconds=rng.randrange(1800))
            if sent < window.end and subscriber.granted_at(sent):
                _send(rng, world, consent, campaign, subscriber, sent, rows, clicks)
    rows.sort(key=lambda r: (r[0], r[1], r[2][0], r[2][3]))
    for subscriber in consent.subscribers:
        if subscriber.last_sent is not None:
            truth.add("email", subscriber.address, subscriber.person)
    return EmailActivity(rows=[row for _, _, row in rows], clicks=clicks)


def _send(
    rng: random.Random,
    world: World,
    consent: Consent,
    campaign: Campaign,
    subscriber: Subscriber,
    sent: datetime,
    rows: list[tuple[datetime, int, tuple]],
    clicks: list[Click],
) -> None:
    window = world.window
    person, address = subscriber.person, subscriber.address
    order = len(rows)

    def emit(at: datetime, event: str, url: str = "", bounce: str = "") -> None:
        rows.append(
            (at, order, (address, campaign.campaign_id, campaign.name, event, iso_z(at), url, bounce))
        )

    emit(sent, "sent")
    subscriber.last_sent = sent
    bounce_at = sent + timedelta(seconds=rng.randrange(5, 300))
    left = subscriber.bounces_from is not None and sent >= subscriber.bounces_from
    if not subscriber.deliverable or left:
        if bounce_at < window.end:
            emit(bounce_at, "bounce", bounce="hard")
        subscriber.suppressed = True
        return
    if rng.random() < 0.01:
        if bounce_at < window.end:
            emit(bounce_at, "bounce", bounce="soft")
        return
    leaving = subscriber.planned_withdrawal is not None and subscriber.planned_withdrawal <= sent
    engagement = person.engagement
    if not leaving and rng.random() >= 0.08 + 0.4 * engagement:
        return
    opened = sent + timedelta(seconds=round(rng.expovariate(1 / 6) * 3600) + 30)
    if opened >= window.end:
        return
    emit(opened, "open")
    if rng.random() < 0.25:
        again = opened + timedelta(hours=rng.uniform(1, 72))
        if again < window.end:
            emit(again, "open")
    last_action = opened
    if rng.random() < 0.08 + 0.3 * engagement:
        clicked = opened + timedelta(seconds=rng.randrange(5, 600))
        if clicked < window.end:
            last_action = clicked
            path = rng.choice(_BLOG_PATHS)
            url = (
                f"{WEBSITE}{path}?utm_source=newsletter&utm_medium=email&utm_campaign={campaign.campaign_id}"
            )
            emit(clicked, "click", url=url)
            clicks.append(Click(person, address, clicked, url, campaign.campaign_id))
    if leaving:
        unsubscribed = last_action + timedelta(seconds=rng.randrange(10, 300))
        if unsubscribed < window.end:
            emit(unsubscribed, "unsubscribe")
            recorded = unsubscribed + timedelta(seconds=rng.randrange(0, 120))
            consent.withdraw(subscriber, min(recorded, window.last), "preference_center")

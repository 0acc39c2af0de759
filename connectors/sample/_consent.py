"""Consent: grants captured with forms and CRM records, later withdrawals, and the email list they imply."""

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ._crm import Crm
from ._leads import Leads
from ._output import Truth
from ._people import Person, World, derive_rng, mailbox
from ._time import DAY, HOUR, iso_z
from ._variants import FORM_EMAIL, render_email

HEADER = ("consent_id", "subject_email", "subject_phone", "purpose", "status", "recorded_at", "source")
_FIRST_RECORD_GRANT_P = {"crm": 0.75, "tradeshow_badges": 0.62, "video_ad_form": 0.55}
# The consent log's source for grants captured by a lead channel (ad-platform leads arrive by import).
_SOURCE = {"tradeshow_badges": "tradeshow", "video_ad_form": "import"}


@dataclass(eq=False)
class ConsentEvent:
    """One row of the consent log."""

    person: Person
    email: str
    phone: str
    purpose: str
    status: str
    at: datetime
    source: str


@dataclass(eq=False)
class Subscriber:
    """An address on the email-marketing list, with the moments its consent changed.

    Attributes:
        person: Owner.
        address: As first granted (the ESP keeps that spelling).
        deliverable: False for mistyped addresses, which hard-bounce.
        changes: (moment, "granted"|"withdrawn"), in time order once the list is final.
        planned_withdrawal: When the person means to unsubscribe, if they do.
        last_sent: Latest send to the address.
        bounces_from: From when the mailbox no longer exists (the person left the company).
        suppressed: Hard-bounced; the ESP sends nothing more.
    """

    person: Person
    address: str
    deliverable: bool
    changes: list[tuple[datetime, str]] = field(default_factory=list)
    planned_withdrawal: datetime | None = None
    last_sent: datetime | None = None
    bounces_from: datetime | None = None
    suppressed: bool = False

    def granted_at(self, moment: datetime) -> bool:
        """Whether consent stands at ``moment``."""
        status = "withdrawn"
        for changed, value in self.changes:
            if changed > moment:
                break
            status = value
        return status == "granted"


@dataclass
class Consent:
    """The consent log being built and the email list it implies."""

    events: list[ConsentEvent]
    subscribers: list[Subscriber]

    def withdraw(self, subscriber: Subscriber, at: datetime, source: str) -> None:
        """Record an email-marketing withdrawal for one address."""
        subscriber.changes.append((at, "withdrawn"))
        subscriber.changes.sort()
        subscriber.planned_withdrawal = None
        self.events.append(
            ConsentEvent(
                subscriber.person, subscriber.address, "", "email_marketing", "withdrawn", at, source
            )
        )


def plan_consent(world: World, crm: Crm, leads: Leads) -> Consent:
    """Collect the consent grants and plan which subscribers later withdraw.

    Args:
        world: The sample world.
        crm: CRM contacts (a contact's creation can carry a grant).
        leads: Lead captures (web-form opt-ins, badge scans and ad leads carry grants).

    Returns:
        The grants so far and the email list; the ESP resolves the planned withdrawals.
    """
    rng = derive_rng(world.seed, "consent")
    window = world.window
    events: list[ConsentEvent] = []
    firsts: dict[int, datetime] = {}
    for fill in leads.fills:
        firsts.setdefault(fill.person.index, fill.at)
    for contact in crm.contacts:
        person = contact.person
        # A grant belongs to the record that captured it: a contact synced from a form carries none.
        first_record = person.index not in firsts or contact.created_at < firsts[person.index]
        usable = contact.email and mailbox(contact.email) in _mailboxes(person)
        if (
            not contact.is_duplicate
            and first_record
            and usable
            and rng.random() < _FIRST_RECORD_GRANT_P["crm"]
        ):
            events.append(
                ConsentEvent(
                    person, contact.email, "", "email_marketing", "granted", contact.created_at, "crm"
                )
            )
    seen_web: set[int] = set()
    for fill in leads.fills:
        person = fill.person
        if fill.channel == "web_form":
            if fill.opt_in:
                phone = fill.phone if rng.random() < 0.15 else ""
                events.append(
                    ConsentEvent(person, fill.email, phone, "email_marketing", "granted", fill.at, "web_form")
                )
            if person.index not in seen_web:
                seen_web.add(person.index)
                for purpose, chance in (("analytics", 0.4), ("advertising", 0.2)):
                    if rng.random() < chance:
                        events.append(
                            ConsentEvent(person, fill.email, "", purpose, "granted", fill.at, "web_form")
                        )
        elif fill.channel == "hotline":
            if fill.phone and rng.random() < 0.2:
                phone = fill.phone if rng.random() < 0.5 else person.phones["e164"]
                events.append(ConsentEvent(person, "", phone, "advertising", "granted", fill.at, "crm"))
        elif (
            fill.email
            and firsts[person.index] == fill.at
            and rng.random() < _FIRST_RECORD_GRANT_P[fill.channel]
        ):
            source = _SOURCE[fill.channel]
            events.append(ConsentEvent(person, fill.email, "", "email_marketing", "granted", fill.at, source))
    for person in world.people:
        if person.first_channel == "import":
            email = render_email(rng, person, FORM_EMAIL, world.emails)
            events.append(
                ConsentEvent(person, email, "", "email_marketing", "granted", world.import_at, "import")
            )
    events.sort(key=lambda e: (e.at, e.person.index, e.purpose))
    subscribers = _subscribers(events)
    listed: set[int] = set()
    for subscriber in subscribers:
        person = subscriber.person
        if person.index in listed:
            continue
        listed.add(person.index)
        if rng.random() < 0.05 + 0.12 * (1 - person.engagement):
            earliest = subscriber.changes[0][0] + timedelta(days=7)
            if earliest < window.last - DAY:
                subscriber.planned_withdrawal = window.uniform(rng, earliest, window.last - DAY)
    _other_purposes(rng, world, events, subscribers)
    return Consent(events=events, subscribers=subscribers)


def _mailboxes(person: Person) -> set[str]:
    return {mailbox(a) for a in (person.work_email, person.personal_email) if a}


def _subscribers(events: list[ConsentEvent]) -> list[Subscriber]:
    by_address: dict[str, Subscriber] = {}
    for event in events:
        if event.purpose != "email_marketing" or not event.email:
            continue
        key = event.email.lower()
        subscriber = by_address.get(key)
        if subscriber is None:
            deliverable = mailbox(event.email) in _mailboxes(event.person)
            subscriber = by_address[key] = Subscriber(event.person, event.email, deliverable)
        subscriber.changes.append((event.at, event.status))
    return list(by_address.values())


def _other_purposes(
    rng: random.Random, world: World, events: list[ConsentEvent], subscribers: list[Subscriber]
) -> None:
    """Later preference-centre changes to advertising and analytics consent."""
    window = world.window
    for subscriber in subscribers:
        start = subscriber.changes[0][0] + DAY
        if start < window.last - DAY and rng.random() < 0.04:
            at = window.uniform(rng, start, window.last - DAY)
            purpose = rng.choice(("advertising", "analytics"))
            events.append(
                ConsentEvent(
                    subscriber.person, subscriber.address, "", purpose, "granted", at, "preference_center"
                )
            )
    for event in list(events):
        if event.purpose == "email_marketing" or event.status != "granted" or rng.random() >= 0.08:
            continue
        start = event.at + DAY
        if start < window.last - HOUR:
            at = window.uniform(rng, start, window.last - HOUR)
            source = "preference_center" if event.email else "crm"
            events.append(
                ConsentEvent(event.person, event.email, event.phone, event.purpose, "withdrawn", at, source)
            )


def finish_consent(world: World, consent: Consent, truth: Truth) -> list[tuple]:
    """Number the consent log in time order, record it in the ground truth, and return its rows.

    Args:
        world: The sample world.
        consent: Grants and withdrawals, including those the ESP resolved.
        truth: Ground truth to add ``consent`` rows to.

    Returns:
        The rows of ``consent/consent_log.csv``.
    """
    rng = derive_rng(world.seed, "consent-fallback")
    window = world.window
    for subscriber in consent.subscribers:
        if subscriber.planned_withdrawal is None:
            continue
        # Never before a send the address still received: the person unsubscribed after it.
        at = subscriber.planned_withdrawal
        if subscriber.last_sent and subscriber.last_sent >= at:
            at = subscriber.last_sent + timedelta(hours=rng.uniform(1, 48))
        if at < window.end:
            consent.withdraw(
                subscriber, at.replace(microsecond=0), rng.choice(("preference_center",) * 3 + ("crm",))
            )
    events = sorted(consent.events, key=lambda e: (e.at, e.person.index, e.purpose, e.status, e.email))
    rows = []
    for number, event in enumerate(events, start=1):
        consent_id = f"CNS-{number:07d}"
        truth.add("consent", consent_id, event.person)
        rows.append(
            (consent_id, event.email, event.phone, event.purpose, event.status, iso_z(event.at), event.source)
        )
    return rows

"""The sample world: our CRM users, the accounts (companies), the people and their journeys.

Everything the source files show about a person is derived from this one truth, so the ground
truth is exact by construction.
"""

import functools
import itertools
import math
import random
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import phonenumbers
from faker import Faker
from unidecode import unidecode

from ._nicknames import NICKNAMES
from ._reference import (
    COINED_HEADS,
    COINED_TAILS,
    COMPANY_WORDS,
    COUNTRIES,
    CULTURE_NAME_LOCALE,
    CULTURES,
    FAKER_LOCALES,
    INDUSTRIES,
    JA_COMPANY_WORDS,
    OUR_DOMAIN,
    PERSONAL_DOMAINS,
    TITLES,
    TRADESHOWS,
    ZH_COMPANY_WORDS,
    Country,
)
from ._time import DAY, HOUR, Window

STATUS_SHARES = (("customer", 0.30), ("churned", 0.06), ("pipeline", 0.16), ("prospect", 0.48))
_SIZE_FACTOR = {"customer": 1.5, "churned": 1.2, "pipeline": 1.3, "prospect": 1.0}
_ANONYMOUS_P = {"customer": 0.02, "churned": 0.02, "pipeline": 0.06, "prospect": 0.22}
_IN_CRM_P = {"customer": 0.8, "churned": 0.78, "pipeline": 0.72, "prospect": 0.5}
_APP_USER_P = {"customer": 0.7, "churned": 0.7, "pipeline": 0.2, "prospect": 0.05}
_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})


def derive_rng(seed: int, label: str) -> random.Random:
    """Return an independent random stream for one part of the generator.

    Separate streams keep each file's content stable when another part changes. String seeds
    are hashed with SHA-512 by ``random``, so they do not depend on PYTHONHASHSEED.
    """
    return random.Random(f"{seed}/{label}")


def poisson(rng: random.Random, mean: float) -> int:
    """Draw a Poisson count (Knuth's method; means here are small)."""
    if mean <= 0:
        return 0
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


@functools.cache
def _faker(locale: str) -> Faker:
    # Building a Faker proxy costs ~50 ms; instances are reseeded on every use, so caching is safe.
    return Faker(locale)


def seeded_fakers(seed: int) -> dict[str, Faker]:
    """Return one Faker per locale, each reseeded from ``seed``."""
    fakers = {}
    for locale in FAKER_LOCALES:
        fake = _faker(locale)
        fake.seed_instance(f"{seed}/faker/{locale}")
        fakers[locale] = fake
    return fakers


def ascii_token(text: str, culture: str = "") -> str:
    """Fold a name to the lower-case ASCII letters and digits used in email addresses and domains."""
    if culture == "de":
        text = text.translate(_GERMAN)
    return re.sub(r"[^a-z0-9]", "", unidecode(text).lower())


def pinyin(text: str) -> str:
    """Romanise Chinese characters as one capitalised word without tones: 秀英 -> Xiuying."""
    word = "".join(part for part in unidecode(text).split() if part.isalpha())
    return word.capitalize()


def mailbox(address: str) -> str:
    """The mailbox an address delivers to: case, plus-tags and Gmail's dots do not matter."""
    local, _, domain = address.lower().partition("@")
    local = local.split("+", 1)[0]
    if domain in {"gmail.com", "googlemail.com"}:
        local = local.replace(".", "")
    return f"{local}@{domain}"


class EmailRegistry:
    """Owner of every mailbox handed out, so no two people ever share one."""

    def __init__(self) -> None:
        self._owner: dict[str, int] = {}

    def claim(self, address: str, owner: int) -> bool:
        """Reserve the mailbox of ``address`` for ``owner``; False when another person has it."""
        current = self._owner.setdefault(mailbox(address), owner)
        return current == owner


@dataclass
class CrmUser:
    """A CRM user of our company (account owner, success manager or support agent)."""

    user_id: int
    full_name: str
    email: str
    team: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Tradeshow:
    """A trade show where our booth scans badges."""

    name: str
    code: str
    country: Country
    first_day: datetime
    days: int


@dataclass(eq=False)
class Account:
    """A company: CRM account, its commercial history and health."""

    index: int
    country: Country
    culture: str
    base: str
    legal: tuple[str, str]
    native_name: str | None
    name: str
    domain: str
    industry: str
    email_style: str
    status: str
    account_id: int = 0
    people: list["Person"] = field(default_factory=list)
    sales_start: datetime | None = None
    opp_created_at: datetime | None = None
    close_at: datetime | None = None
    churn_at: datetime | None = None
    term_days: int = 365
    renewal_outcome: str | None = None
    health: float = 0.5
    arr: float = 0.0
    is_core: bool = False
    touches_per_week: float = 0.1
    owner_user_id: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def region(self) -> str:
        """Sales region of the account's country."""
        return self.country.region


@dataclass(eq=False)
class Person:
    """One real person; every source record about them derives from these attributes."""

    index: int
    person_id: str
    account: Account
    culture: str
    first: str
    last: str
    email_last: str
    native_first: str | None
    native_last: str | None
    title: str
    title_variants: tuple[str, ...]
    nickname: str | None = None
    goes_by_nickname: bool = False
    work_email: str = ""
    personal_email: str | None = None
    phones: dict[str, str] = field(default_factory=dict)
    is_primary: bool = False
    is_namesake: bool = False
    anonymous_only: bool = False
    in_crm: bool = False
    lifecycle: str = "lead"
    first_channel: str | None = None
    first_touch_at: datetime | None = None
    tradeshow: Tradeshow | None = None
    crm_created_at: datetime | None = None
    engagement: float = 0.5
    user_id: str | None = None
    signup_at: datetime | None = None
    app_email: str | None = None

    @property
    def country(self) -> Country:
        """Country of the person's company (their phone's country)."""
        return self.account.country

    @property
    def uses_native_script(self) -> bool:
        """Whether sources in the person's own market may write their name in Chinese or Japanese."""
        return (self.culture, self.country.code) in {("zh", "CN"), ("ja", "JP")}


@dataclass
class World:
    """Everything the source generators render."""

    seed: int
    as_of: date
    window: Window
    users: list[CrmUser]
    accounts: list[Account]
    people: list[Person]
    tradeshows: list[Tradeshow]
    import_at: datetime
    fakers: dict[str, Faker]
    emails: EmailRegistry


def build_world(customers: int, seed: int, as_of: date) -> World:
    """Create the people, companies and CRM users of one sample.

    Args:
        customers: Number of people.
        seed: Random seed.
        as_of: The day after the last day of data.

    Returns:
        The world the sources are rendered from.
    """
    rng = derive_rng(seed, "world")
    window = Window.ending(as_of)
    fakers = seeded_fakers(seed)
    registry = EmailRegistry()
    users = _users(rng, fakers, window, customers)
    accounts = _accounts(rng, fakers, max(2, round(customers / 5)))
    people = _people(rng, fakers, accounts, customers)
    _namesakes(rng, people, max(4, round(customers * 0.012)))
    tradeshows = _tradeshows(rng, window)
    world = World(
        seed=seed,
        as_of=as_of,
        window=window,
        users=users,
        accounts=accounts,
        people=people,
        tradeshows=tradeshows,
        import_at=window.at(2) + timedelta(hours=9),
        fakers=fakers,
        emails=registry,
    )
    taken_phones: set[str] = set()
    for person in people:
        _contact_details(rng, person, registry, taken_phones)
    for account in accounts:
        _account_history(rng, window, account)
    _owners(rng, accounts, users)
    for person in people:
        _journey(rng, world, person)
    for account in accounts:
        _account_dates(rng, window, account)
    return world


def _users(rng: random.Random, fakers: dict[str, Faker], window: Window, customers: int) -> list[CrmUser]:
    teams = (
        ["sales"] * max(3, round(customers / 400))
        + ["success"] * max(2, round(customers / 600))
        + ["support"] * max(2, round(customers / 800))
    )
    users, taken = [], set()
    for user_id, team in enumerate(teams, start=1):
        fake = fakers[rng.choice(("en_US", "en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "en_IN"))]
        first, last = fake.first_name(), fake.last_name()
        local = f"{ascii_token(first)}.{ascii_token(last)}"
        while local in taken:
            local += str(rng.randrange(10))
        taken.add(local)
        created = window.at(rng.uniform(0, 5))
        updated = window.uniform(rng, created, window.last) if rng.random() < 0.5 else created
        users.append(CrmUser(user_id, f"{first} {last}", f"{local}@{OUR_DOMAIN}", team, created, updated))
    return users


@functools.cache
def _cumulative(pairs: tuple[tuple[str, int], ...]) -> tuple[list[str], list[int]]:
    return [k for k, _ in pairs], list(itertools.accumulate(w for _, w in pairs))


def pick(rng: random.Random, pairs: tuple[tuple[str, int], ...]) -> str:
    """Choose a key from (key, weight) pairs."""
    keys, cumulative = _cumulative(pairs)
    return rng.choices(keys, cum_weights=cumulative)[0]


def _statuses(rng: random.Random, count: int) -> list[str]:
    quotas = {status: round(count * share) for status, share in STATUS_SHARES[:-1]}
    if count >= 8:
        quotas = {status: max(1, n) for status, n in quotas.items()}
    statuses = [status for status, n in quotas.items() for _ in range(n)]
    statuses += ["prospect"] * (count - len(statuses))
    rng.shuffle(statuses)
    return statuses


def _accounts(rng: random.Random, fakers: dict[str, Faker], count: int) -> list[Account]:
    culture_weights = tuple((culture, share) for culture, (share, _) in CULTURES.items())
    taken_domains: set[str] = set()
    accounts = []
    for index, status in enumerate(_statuses(rng, count)):
        culture = pick(rng, culture_weights)
        country = COUNTRIES[pick(rng, CULTURES[culture][1])]
        base, native = _company_name(rng, fakers, culture, country)
        legal = rng.choice(country.legal_forms)
        accounts.append(
            Account(
                index=index,
                country=country,
                culture=culture,
                base=base,
                legal=legal,
                native_name=native,
                name=f"{base} {legal[0]}",
                domain=_domain(rng, base, country, taken_domains),
                industry=rng.choice(INDUSTRIES),
                email_style="first.last" if rng.random() < 0.7 else "flast",
                status=status,
            )
        )
    return accounts


def _company_name(
    rng: random.Random, fakers: dict[str, Faker], culture: str, country: Country
) -> tuple[str, str | None]:
    if country.code == "CN":
        prefix = fakers["zh_CN"].company_prefix()
        native_word, word = rng.choice(ZH_COMPANY_WORDS)
        return f"{pinyin(prefix) or 'Hua'} {word}", f"{prefix}{native_word}有限公司"
    if country.code == "JP":
        kanji, _, roman = fakers["ja_JP"].last_name_pair()
        native_word, word = rng.choice(JA_COMPANY_WORDS)
        return f"{roman} {word}", f"{kanji}{native_word}株式会社"
    style = rng.random()
    if culture == "en" and style < 0.3:
        return rng.choice(COINED_HEADS) + rng.choice(COINED_TAILS), None
    last = fakers[country.faker_locale].last_name()
    if style < 0.75:
        return f"{last} {rng.choice(COMPANY_WORDS[culture])}", None
    return last, None


def _domain(rng: random.Random, base: str, country: Country, taken: set[str]) -> str:
    culture = "de" if country.code == "DE" else ""
    words = [token for token in (ascii_token(w, culture) for w in base.split()) if token] or ["company"]
    stems = ["".join(words), "-".join(words)] if len(words) > 1 else [words[0]]
    if len(words) > 1 and rng.random() < 0.3:
        stems.insert(0, words[0])
    tlds = [country.tld, "com"] if rng.random() < 0.6 else ["com", country.tld]
    for stem in stems:
        for tld in tlds:
            domain = f"{stem}.{tld}"
            if domain not in taken:
                taken.add(domain)
                return domain
    number = 2
    while f"{stems[0]}{number}.{tlds[0]}" in taken:
        number += 1
    domain = f"{stems[0]}{number}.{tlds[0]}"
    taken.add(domain)
    return domain


def _people(
    rng: random.Random, fakers: dict[str, Faker], accounts: list[Account], count: int
) -> list[Person]:
    weights = [math.exp(rng.gauss(0, 0.8)) * _SIZE_FACTOR[a.status] for a in accounts]
    sizes = [1] * len(accounts)
    for chosen in rng.choices(range(len(accounts)), weights, k=max(0, count - len(accounts))):
        sizes[chosen] += 1
    slots = [account for account, size in zip(accounts, sizes, strict=True) for _ in range(size)][:count]
    rng.shuffle(slots)
    culture_weights = tuple((culture, share) for culture, (share, _) in CULTURES.items())
    people = []
    for index, account in enumerate(slots):
        culture = account.culture if rng.random() < 0.88 else pick(rng, culture_weights)
        first, last, native_first, native_last, email_last = _name(rng, fakers, culture, account.country)
        is_primary = not account.people
        if is_primary:
            role = "decision" if rng.random() < 0.6 else "champion"
        else:
            role = rng.choices(("decision", "champion", "user"), (12, 30, 58))[0]
        title, variants = rng.choice(TITLES[role])
        person = Person(
            index=index,
            person_id=f"P{index + 1:06d}",
            account=account,
            culture=culture,
            first=first,
            last=last,
            email_last=email_last,
            native_first=native_first,
            native_last=native_last,
            title=title,
            title_variants=variants,
            is_primary=is_primary,
        )
        _set_nickname(rng, person)
        account.people.append(person)
        people.append(person)
    return people


def _name(
    rng: random.Random, fakers: dict[str, Faker], culture: str, country: Country
) -> tuple[str, str, str | None, str | None, str]:
    if culture == "zh":
        fake = fakers["zh_CN"]
        native_last, native_first = fake.last_name(), fake.first_name()
        last = pinyin(native_last) or "Li"
        return pinyin(native_first) or "Wei", last, native_first, native_last, last
    if culture == "ja":
        native_first, _, first = fakers["ja_JP"].first_name_pair()
        native_last, _, last = fakers["ja_JP"].last_name_pair()
        return first, last, native_first, native_last, last
    if culture == "en":
        locale = "en_GB" if country.code == "GB" else "en_US"
    else:
        locale = CULTURE_NAME_LOCALE[culture]
    fake = fakers[locale]
    first, last = fake.first_name(), fake.last_name()
    email_last = last
    if culture == "es" and rng.random() < 0.5:
        last = f"{last} {fake.last_name()}"
    return first, last, None, None, email_last


def _set_nickname(rng: random.Random, person: Person) -> None:
    options = NICKNAMES.get(person.first)
    if options:
        person.nickname = rng.choice(options)
        person.goes_by_nickname = rng.random() < 0.5
    else:
        person.nickname, person.goes_by_nickname = None, False


def _namesakes(rng: random.Random, people: list[Person], pairs: int) -> None:
    """Give some people the exact name of someone at another company: look-alikes, not duplicates."""
    candidates = [p for p in people if not p.is_primary]
    rng.shuffle(candidates)
    used: set[int] = set()
    made = 0
    for original in candidates:
        if made >= pairs:
            break
        if original.index in used:
            continue
        twin = next(
            (
                p
                for p in candidates
                if p.index not in used
                and p is not original
                and p.culture == original.culture
                and p.account is not original.account
            ),
            None,
        )
        if twin is None:
            continue
        used.update((original.index, twin.index))
        twin.first, twin.last, twin.email_last = original.first, original.last, original.email_last
        twin.native_first, twin.native_last = original.native_first, original.native_last
        _set_nickname(rng, twin)
        original.is_namesake = twin.is_namesake = True
        made += 1


def _contact_details(rng: random.Random, person: Person, registry: EmailRegistry, phones: set[str]) -> None:
    first = ascii_token(person.first, person.culture) or "x"
    last = ascii_token(person.email_last, person.culture) or "x"
    domain = person.account.domain
    local = f"{first}.{last}" if person.account.email_style == "first.last" else f"{first[0]}{last}"
    candidate, number = local, 2
    while not registry.claim(f"{candidate}@{domain}", person.index):
        candidate, number = f"{local}{number}", number + 1
    person.work_email = f"{candidate}@{domain}"
    if rng.random() < (0.5 if person.culture == "zh" else 0.3):
        provider = pick(rng, PERSONAL_DOMAINS[person.culture])
        while True:
            if provider == "qq.com":
                local = str(rng.randrange(10**7, 10**10))
            else:
                local = rng.choice(
                    (
                        f"{first}.{last}",
                        f"{first}{last}",
                        f"{first}.{last}{rng.randrange(10, 100)}",
                        f"{first[0]}{last}{rng.randrange(1965, 2004)}",
                        f"{last}.{first}",
                        f"{first}_{last}{rng.randrange(1, 10)}",
                    )
                )
            if registry.claim(f"{local}@{provider}", person.index):
                person.personal_email = f"{local}@{provider}"
                break
    person.phones = _phone(rng, person.country, phones)


def _phone(rng: random.Random, country: Country, taken: set[str]) -> dict[str, str]:
    calling_code = phonenumbers.country_code_for_region(country.code)
    while True:
        pattern = rng.choice(country.phone_patterns)
        digits = "".join(
            str(rng.randrange(10)) if c == "X" else str(rng.randrange(2, 10)) if c == "N" else c
            for c in pattern
        )
        number = phonenumbers.PhoneNumber(country_code=calling_code, national_number=int(digits))
        if not phonenumbers.is_valid_number(number):
            continue
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if e164 in taken:
            continue
        taken.add(e164)
        national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        if country.code in {"US", "CA"}:
            compact = f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
        else:
            compact = re.sub(r"\D", "", national)
        return {
            "e164": e164,
            "national": national,
            "international": phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
            "compact": compact,
        }


def _tradeshows(rng: random.Random, window: Window) -> list[Tradeshow]:
    shows = []
    spacing = 340 / len(TRADESHOWS)
    order = list(TRADESHOWS)
    rng.shuffle(order)
    for number, (name, code) in enumerate(order):
        day = window.at(round(12 + number * spacing + rng.uniform(-8, 8)))
        acronym = "".join(word[0] for word in name.split() if word[0].isalpha()).upper()
        shows.append(
            Tradeshow(f"{name} {day.year}", f"{acronym}{day:%y}", COUNTRIES[code], day, rng.choice((2, 3)))
        )
    return sorted(shows, key=lambda s: s.first_day)


def _account_history(rng: random.Random, window: Window, account: Account) -> None:
    offset = account.country.utc_offset
    if account.status == "customer":
        account.close_at = window.working(rng, window.at(30), window.at(351), offset)
        account.sales_start = window.working(
            rng, account.close_at - timedelta(days=120), account.close_at - timedelta(days=20), offset
        )
        account.term_days = 182 if rng.random() < 0.15 else 365
        if account.close_at + timedelta(days=account.term_days) < window.end:
            account.renewal_outcome = "renewed" if rng.random() < 0.7 else "overdue"
        at_risk = rng.random() < 0.22
        account.health = rng.betavariate(1.6, 3.5) if at_risk else rng.betavariate(5, 2)
    elif account.status == "churned":
        account.close_at = window.working(rng, window.at(20), window.at(100), offset)
        account.sales_start = window.working(
            rng, account.close_at - timedelta(days=60), account.close_at - timedelta(days=15), offset
        )
        account.term_days = 182
        account.churn_at = account.close_at + timedelta(days=182)
        account.health = rng.uniform(0.05, 0.3)
    elif account.status == "pipeline":
        account.opp_created_at = window.working(rng, window.at(15), window.at(358), offset)
        account.sales_start = window.working(
            rng, account.opp_created_at - timedelta(days=60), account.opp_created_at, offset
        )
    else:
        account.sales_start = window.working(rng, window.start, window.at(362), offset)
    size = len(account.people)
    account.arr = max(3000.0, round(math.exp(rng.gauss(math.log(6000 + 3000 * size), 0.5)), -2))


def _owners(rng: random.Random, accounts: list[Account], users: list[CrmUser]) -> None:
    sales = [u.user_id for u in users if u.team == "sales"]
    success = [u.user_id for u in users if u.team == "success"]
    customers = sorted((a for a in accounts if a.status == "customer"), key=lambda a: (-a.arr, a.index))
    for rank, account in enumerate(customers):
        account.is_core = rank < max(1, round(len(customers) * 0.2))
    for account in accounts:
        if account.status in {"customer", "churned"}:
            account.owner_user_id = rng.choice(success)
        else:
            account.owner_user_id = rng.choice(sales)
        if account.is_core:
            neglected = rng.random() < 0.3
            account.touches_per_week = rng.uniform(0.2, 0.8) if neglected else rng.uniform(1.0, 3.0)
        elif account.status == "customer":
            account.touches_per_week = rng.uniform(0.15, 1.2)
        elif account.status == "churned":
            account.touches_per_week = rng.uniform(0.2, 0.9)
        elif account.status == "pipeline":
            account.touches_per_week = rng.uniform(0.8, 3.0)
        else:
            account.touches_per_week = rng.uniform(0.03, 0.3)


def _journey(rng: random.Random, world: World, person: Person) -> None:
    """Decide how and when the person meets us: first channel, CRM record, app account."""
    window, account = world.window, person.account
    status = account.status
    offset = account.country.utc_offset
    person.anonymous_only = (
        not person.is_primary and not person.is_namesake and rng.random() < _ANONYMOUS_P[status]
    )
    person.in_crm = not person.anonymous_only and (
        person.is_primary or person.is_namesake or rng.random() < _IN_CRM_P[status]
    )
    after_close = False
    if person.is_primary:
        lo = hi = account.sales_start
    elif status in {"customer", "churned"}:
        stop = (account.churn_at or window.end) - DAY
        after_close = rng.random() < 0.4
        lo, hi = (account.close_at, stop) if after_close else (account.sales_start, account.close_at)
    else:
        lo, hi = account.sales_start, window.last - HOUR
    person.first_touch_at = window.working(rng, lo, hi, offset)
    person.engagement = _engagement(rng, account)
    person.lifecycle = _lifecycle(rng, person)
    if person.anonymous_only:
        return
    app_user = rng.random() < _APP_USER_P[status]
    person.first_channel = _first_channel(rng, world, person, after_close, app_user, lo, hi)
    if person.first_channel == "import":
        person.first_touch_at = world.import_at
    if person.in_crm:
        if person.first_channel == "sales" or person.is_primary:
            person.crm_created_at = person.first_touch_at
        else:
            lag = timedelta(days=rng.expovariate(1 / 4))
            latest = max(person.first_touch_at, window.last - HOUR)
            person.crm_created_at = min(person.first_touch_at + lag, latest)
    if app_user:
        _app_account(rng, world, person, after_close)


def _engagement(rng: random.Random, account: Account) -> float:
    if account.status == "customer":
        value = 0.15 + 0.7 * account.health + rng.gauss(0, 0.12)
    elif account.status == "churned":
        value = rng.uniform(0.05, 0.35)
    elif account.status == "pipeline":
        value = rng.uniform(0.35, 0.9)
    else:
        value = rng.betavariate(2, 3)
    return min(0.98, max(0.02, value))


def _lifecycle(rng: random.Random, person: Person) -> str:
    status = person.account.status
    if person.anonymous_only:
        return "anonymous"
    if status in {"customer", "churned"}:
        return status
    if status == "pipeline":
        return "opportunity" if person.is_primary else rng.choices(("sql", "mql", "lead"), (30, 35, 35))[0]
    return rng.choices(("lead", "mql", "sql"), (55, 30, 15))[0]


def _first_channel(
    rng: random.Random,
    world: World,
    person: Person,
    after_close: bool,
    app_user: bool,
    lo: datetime,
    hi: datetime,
) -> str:
    status = person.account.status
    if app_user and status in {"pipeline", "prospect"}:
        return "web_form"
    if person.is_primary:
        weights = {"sales": 45, "web_form": 38, "hotline": 9, "video_ad_form": 8}
    elif after_close:
        if app_user and rng.random() < 0.6:
            return "invite"
        weights = {"sales": 60, "web_form": 40}
    else:
        video = 16 if person.account.region in {"APAC", "LATAM"} else 9
        weights = {"web_form": 42, "tradeshow_badges": 15, "video_ad_form": video, "hotline": 7, "sales": 20}
        weights["import"] = 5
    if not person.in_crm:
        weights.pop("sales", None)
    channel = rng.choices(list(weights), list(weights.values()))[0]
    if channel == "tradeshow_badges":
        shows = [
            s
            for s in world.tradeshows
            if s.country.region == person.account.region and lo <= s.first_day <= hi
        ]
        if not shows:
            return "web_form"
        show = rng.choice(shows)
        person.tradeshow = show
        offset = show.country.utc_offset
        day = show.first_day + timedelta(days=rng.randrange(show.days))
        start = day + timedelta(hours=9 - offset)
        person.first_touch_at = world.window.working(rng, start, start + timedelta(hours=8), offset)
    return channel


def _app_account(rng: random.Random, world: World, person: Person, after_close: bool) -> None:
    window, account = world.window, person.account
    if account.status in {"pipeline", "prospect"} or person.first_channel == "invite":
        signup = person.first_touch_at
    else:
        start = max(person.first_touch_at, account.close_at) + HOUR
        signup = window.working(rng, start, start + timedelta(days=20), account.country.utc_offset)
    stop = account.churn_at or window.end
    if signup >= stop - HOUR:
        return
    person.signup_at = signup
    person.user_id = "usr_" + "".join(rng.choices("0123456789abcdefghijklmnopqrstuvwxyz", k=12))
    use_personal = person.personal_email and rng.random() < 0.15
    person.app_email = person.personal_email if use_personal else person.work_email


def _account_dates(rng: random.Random, window: Window, account: Account) -> None:
    crm_times = [p.crm_created_at for p in account.people if p.crm_created_at]
    account.created_at = min(crm_times) if crm_times else account.sales_start
    changes = [account.created_at] + [t for t in (account.close_at, account.churn_at) if t and t < window.end]
    account.updated_at = max(changes)
    if rng.random() < 0.4:
        account.updated_at = window.uniform(rng, account.updated_at, window.last)

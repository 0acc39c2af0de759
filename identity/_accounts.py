"""Accounts (B2B): companies resolved from CRM accounts and the company evidence on person records.

A company appears as a CRM account, as the domain of its people's work email, and as a name typed
into forms ("ACME Ltd", "Acme Limited", "acme"). Accounts are built in three steps:

1. CRM accounts with the same web domain, or the same name and no conflicting domain, are one
   company (CRM duplicates are merged, not hidden: the account lists every ``crm_account_id``).
2. Each customer is attached to one account by its strongest evidence: a CRM contact's account
   (``crm_account``), then a work email domain (``email_domain``), then a company name
   (``company_name``). Free-mail domains (gmail.com and its misspellings) are never evidence.
3. Customers with company evidence that matches no CRM account form prospect accounts among
   themselves, joined by shared domain or name.

Account ids are persistent like customer ids: each account takes the id of the previous account it
shares most members (CRM accounts and customers) with.
"""

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import cache

import pandas as pd
from unidecode import unidecode

from identity._ids import assign_customer_ids
from identity._normalise import normalise_email

ACCOUNT_COLUMNS = [
    "account_id",
    "account_name",
    "account_domain",
    "crm_account_ids",
    "source_record_count",
    "customer_count",
    "is_in_crm",
]
CUSTOMER_ACCOUNT_COLUMNS = ["customer_id", "account_id", "match_rule"]
RULES = ("crm_account", "email_domain", "company_name")

# Providers whose addresses say nothing about the employer. Their first labels also catch
# country variants (yahoo.co.uk) and misspellings people type into forms (gmial.com).
FREE_EMAIL_DOMAINS = frozenset(
    {
        "126.com",
        "163.com",
        "aol.com",
        "docomo.ne.jp",
        "free.fr",
        "gmail.com",
        "gmx.de",
        "gmx.net",
        "googlemail.com",
        "hotmail.com",
        "icloud.com",
        "laposte.net",
        "live.com",
        "mail.com",
        "mail.ru",
        "me.com",
        "msn.com",
        "naver.com",
        "orange.fr",
        "outlook.com",
        "proton.me",
        "protonmail.com",
        "qq.com",
        "rediffmail.com",
        "sina.com",
        "t-online.de",
        "web.de",
        "yahoo.com",
        "yandex.ru",
        "zoho.com",
    }
)
_FREE_LABELS = frozenset(
    {"gmail", "googlemail", "hotmail", "outlook", "yahoo", "icloud", "protonmail", "rediffmail", "yandex"}
)
# Legal forms as words once dots are dropped ("L.L.C." → "llc", "Co., Ltd." → "co ltd"); removed
# only from the end of a name, so "Company Limited" goes but "Ltd Partners Group" keeps its words.
_LEGAL_WORDS = frozenset(
    {
        "ab",
        "ag",
        "aktiengesellschaft",
        "aps",
        "as",
        "asa",
        "bv",
        "co",
        "company",
        "corp",
        "corporation",
        "cv",
        "de",
        "gaisha",
        "gesellschaft",
        "gk",
        "gmbh",
        "gong",
        "haftung",
        "hui",
        "inc",
        "incorporated",
        "kabushiki",
        "kaisha",
        "kg",
        "kk",
        "limited",
        "llc",
        "llp",
        "lp",
        "ltd",
        "mbh",
        "mit",
        "nv",
        "oy",
        "plc",
        "private",
        "proprietary",
        "pte",
        "pty",
        "public",
        "pvt",
        "sa",
        "sarl",
        "sas",
        "sau",
        "se",
        "she",
        "shi",
        "si",
        "sl",
        "slu",
        "spa",
        "srl",
        "ug",
        "xian",
        "you",
        "zhu",
        "beschrankter",
    }
)
_DOTS = re.compile(r"[.'’]")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")


@dataclass
class AccountResolution:
    """The outcome of one account run.

    Attributes:
        accounts: One row per account: ``account_id, account_name, account_domain, crm_account_ids
            (comma-separated, ascending), source_record_count, customer_count, is_in_crm``.
        customer_accounts: One row per customer attached to an account: ``customer_id, account_id,
            match_rule`` (``crm_account``, ``email_domain`` or ``company_name``).
        stats: Figures for run metadata.
    """

    accounts: pd.DataFrame
    customer_accounts: pd.DataFrame
    stats: dict


def company_key(name: str) -> str | None:
    """Reduce a company name to the key that name variants share.

    Transliterates, lower-cases, drops punctuation and trailing legal forms, and joins the words, so
    "ACME Ltd.", "Acme Limited", "acme, Inc" and "AC ME" all give ``acme``.

    Args:
        name: A company name as written.

    Returns:
        The key, or None when nothing but a legal form is left.
    """
    words = _NOT_ALNUM.sub(" ", _DOTS.sub("", unidecode(name).lower())).split()
    while words and words[-1] in _LEGAL_WORDS:
        words.pop()
    if words and words[0] == "the":
        words = words[1:]
    return "".join(words) or None


def normalise_domain(value: str) -> str | None:
    """Reduce a web address or domain to its host name without ``www.``.

    Args:
        value: e.g. ``https://www.Acme.com/about`` or ``acme.com``.

    Returns:
        ``acme.com``, or None when no dotted host name is left.
    """
    host = _SCHEME.sub("", value.strip().lower()).split("/", 1)[0].split(":", 1)[0].strip(".")
    host = host.removeprefix("www.")
    return host if "." in host and " " not in host else None


@cache
def is_free_email_domain(domain: str) -> bool:
    """Tell whether an email domain belongs to a free-mail provider (or a misspelling of one).

    Args:
        domain: A lower-case domain such as ``gmail.com``.

    Returns:
        True for provider domains, their country variants (``yahoo.co.uk``) and near-misses
        (``gmial.com``), which say nothing about a person's employer.
    """
    if domain in FREE_EMAIL_DOMAINS:
        return True
    label = domain.split(".", 1)[0]
    return label in _FREE_LABELS or (
        len(label) >= 4 and any(SequenceMatcher(None, label, free).ratio() >= 0.8 for free in _FREE_LABELS)
    )


def _email_domain(email: str) -> str | None:
    normalised = normalise_email(email)
    if normalised is None:
        return None
    domain = normalised.split("@", 1)[1]
    return None if is_free_email_domain(domain) else domain


def _on_unique(series: pd.Series, fn) -> pd.Series:
    values = series.dropna().unique()
    return series.map({value: fn(value) for value in values}).astype("string")


class _UnionFind:
    def __init__(self, nodes) -> None:
        self.parent = {node: node for node in nodes}

    def root(self, node):
        while self.parent[node] != node:
            self.parent[node] = self.parent[self.parent[node]]
            node = self.parent[node]
        return node

    def union(self, a, b) -> None:
        ra, rb = self.root(a), self.root(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _crm_groups(crm_accounts: pd.DataFrame) -> pd.DataFrame:
    """Group CRM accounts that are one company: same domain, or same name without conflicting domains."""
    crm = pd.DataFrame(
        {
            "crm_account_id": crm_accounts["crm_account_id"].astype("int64"),
            "account_name": crm_accounts["account_name"].astype("string"),
            "domain": _on_unique(crm_accounts["domain"].astype("string"), normalise_domain),
            "name_key": _on_unique(crm_accounts["account_name"].astype("string"), company_key),
            "country": crm_accounts["country_code"].astype("string").str.upper(),
        }
    ).sort_values("crm_account_id", ignore_index=True)
    groups = _UnionFind(crm["crm_account_id"].tolist())
    for _, ids in crm.dropna(subset=["domain"]).groupby("domain")["crm_account_id"]:
        for other in ids.iloc[1:]:
            groups.union(ids.iloc[0], other)
    named = crm.dropna(subset=["name_key"])
    for _, same_name in named[named.duplicated("name_key", keep=False)].groupby("name_key"):
        ids = same_name["crm_account_id"].tolist()
        roots = {groups.root(i) for i in ids}
        involved = crm[crm["crm_account_id"].map(groups.root).isin(roots)]
        # Two companies may share a name; only merge when no domain or country tells them apart.
        if involved["domain"].nunique() <= 1 and involved["country"].nunique() <= 1:
            for other in ids[1:]:
                groups.union(ids[0], other)
    crm["group"] = crm["crm_account_id"].map(groups.root).map(lambda root: f"crm:{root}")
    return crm


def _evidence(records: pd.DataFrame, crm: pd.DataFrame, crm_contacts: pd.DataFrame | None) -> pd.DataFrame:
    """Every (record, CRM group, rule) the company evidence on person records points to."""
    found = []
    if crm_contacts is not None and "crm_contact_id" in records:
        contact_account = crm_contacts[["crm_contact_id", "crm_account_id"]].dropna().astype("int64")
        via_contact = (
            records.dropna(subset=["crm_contact_id"])[["record_id", "crm_contact_id"]]
            .astype({"crm_contact_id": "int64"})
            .merge(contact_account, on="crm_contact_id")
            .merge(crm[["crm_account_id", "group"]], on="crm_account_id")
        )
        found.append(via_contact.assign(rule="crm_account")[["record_id", "group", "rule"]])

    domain_to_group = crm.dropna(subset=["domain"]).drop_duplicates("domain").set_index("domain")["group"]

    def group_of_domain(domain: str) -> str | None:
        labels = domain.split(".")
        # A subdomain (uk.acme.com) belongs to the company of its parent domain.
        for start in range(len(labels) - 1):
            group = domain_to_group.get(".".join(labels[start:]))
            if group is not None:
                return group
        return None

    by_domain = records.dropna(subset=["email_domain"])[["record_id", "email_domain"]].copy()
    by_domain["group"] = _on_unique(by_domain["email_domain"], group_of_domain)
    found.append(
        by_domain.dropna(subset=["group"]).assign(rule="email_domain")[["record_id", "group", "rule"]]
    )

    # A name shared by several companies decides only where the record's country singles one out.
    names = crm.dropna(subset=["name_key"])[["name_key", "group", "country"]].drop_duplicates()
    by_name = records.dropna(subset=["name_key"])[["record_id", "name_key", "country"]].merge(
        names, on="name_key", suffixes=("", "_account")
    )
    candidates = by_name.groupby("record_id")["group"].transform("nunique")
    same_country = (by_name["country"] == by_name["country_account"]).fillna(False).astype(bool)
    by_name = by_name[(candidates == 1) | same_country].drop_duplicates(["record_id", "group"])
    by_name = by_name[by_name.groupby("record_id")["group"].transform("nunique") == 1]
    found.append(by_name.assign(rule="company_name")[["record_id", "group", "rule"]])
    return pd.concat(found, ignore_index=True)


def _prospect_groups(unattached: pd.DataFrame) -> pd.Series:
    """Group customers without a CRM account by shared work-email domain or company name."""
    keys = pd.concat(
        [
            unattached.dropna(subset=["email_domain"]).assign(key=lambda f: "d:" + f["email_domain"]),
            unattached.dropna(subset=["name_key"]).assign(key=lambda f: "n:" + f["name_key"]),
        ]
    )[["customer_id", "key"]].drop_duplicates()
    customers = sorted(keys["customer_id"].unique())
    groups = _UnionFind(customers)
    for _, members in keys.groupby("key")["customer_id"]:
        first = members.iloc[0]
        for other in members.iloc[1:]:
            groups.union(first, other)
    return pd.Series({c: f"new:{groups.root(c)}" for c in customers}, name="group", dtype="string")


def _most_common(values: pd.Series) -> str | None:
    counts = values.dropna().value_counts()
    if counts.empty:
        return None
    top = counts[counts == counts.iloc[0]].index
    return str(sorted(top)[0])


def _carry_over_ids(members: pd.DataFrame, previous: pd.DataFrame | None) -> pd.Series:
    """Account id per group, carried over from the previous run by largest member overlap."""
    ids = assign_customer_ids(members.set_index("member")["group"], previous)
    group_of = members.set_index("member")["group"]
    ids["group"] = ids["record_id"].map(group_of)
    known = set(previous["customer_id"]) if previous is not None and len(previous) else set()
    by_group = ids.drop_duplicates("group").set_index("group")["customer_id"]
    # assign_customer_ids mints customer-style ids for clusters it cannot carry over; accounts get
    # their own prefix so an account id is never mistaken for a customer id.
    return by_group.map(lambda value: value if value in known else "acc_" + value.split("_", 1)[1])


def _previous_members(
    previous_accounts: pd.DataFrame | None, previous_customer_accounts: pd.DataFrame | None
) -> pd.DataFrame | None:
    """The last run's ``member → account_id`` in the ``record_id, customer_id`` shape of id carry-over."""
    parts = []
    if previous_accounts is not None and len(previous_accounts):
        crm_ids = previous_accounts[["account_id", "crm_account_ids"]].dropna()
        exploded = crm_ids.assign(crm_account_id=crm_ids["crm_account_ids"].str.split(",")).explode(
            "crm_account_id"
        )
        parts.append(
            pd.DataFrame(
                {
                    "record_id": "crm:" + exploded["crm_account_id"].str.strip(),
                    "customer_id": exploded["account_id"],
                }
            )
        )
    if previous_customer_accounts is not None and len(previous_customer_accounts):
        parts.append(
            pd.DataFrame(
                {
                    "record_id": "cus:" + previous_customer_accounts["customer_id"].astype("string"),
                    "customer_id": previous_customer_accounts["account_id"],
                }
            )
        )
    return pd.concat(parts, ignore_index=True).astype("string") if parts else None


def resolve_accounts(
    records: pd.DataFrame,
    clusters: pd.DataFrame,
    crm_accounts: pd.DataFrame,
    crm_contacts: pd.DataFrame | None = None,
    previous_accounts: pd.DataFrame | None = None,
    previous_customer_accounts: pd.DataFrame | None = None,
) -> AccountResolution:
    """Resolve companies, give each a persistent account id and attach customers to them.

    Args:
        records: Person records (``intermediate.int_person_records`` layout): ``record_id, email,
            company_name, country`` and, for CRM contacts, ``crm_contact_id``.
        clusters: ``record_id, customer_id`` (``identity.customer_clusters``).
        crm_accounts: ``crm_account_id, account_name, domain, country_code`` (``stg_crm__accounts``).
        crm_contacts: ``crm_contact_id, crm_account_id`` (``stg_crm__contacts``), or None.
        previous_accounts: The last run's ``identity.accounts`` (to carry ids over), or None.
        previous_customer_accounts: The last run's ``identity.customer_accounts``, or None.

    Returns:
        Accounts, customer-to-account attachments and run figures.
    """
    crm = _crm_groups(crm_accounts)
    frame = records.copy()
    for column in ("email", "company_name", "country"):
        if column not in frame:
            frame[column] = pd.NA
    people = pd.DataFrame(
        {
            "record_id": frame["record_id"].astype("string"),
            "email_domain": _on_unique(frame["email"].astype("string"), _email_domain),
            "company_name": frame["company_name"].astype("string"),
            "name_key": _on_unique(frame["company_name"].astype("string"), company_key),
            "country": frame["country"].astype("string").str.upper(),
        }
    )
    if "crm_contact_id" in frame:
        people["crm_contact_id"] = frame["crm_contact_id"].astype("Int64")
    customer_of = clusters[["record_id", "customer_id"]].astype("string")
    people = people.merge(customer_of, on="record_id")

    evidence = _evidence(people, crm, crm_contacts).merge(customer_of, on="record_id")
    evidence["rank"] = evidence["rule"].map({rule: rank for rank, rule in enumerate(RULES)})
    votes = (
        evidence.groupby(["customer_id", "group", "rank", "rule"], as_index=False)
        .size()
        .sort_values(["customer_id", "rank", "size", "group"], ascending=[True, True, False, True])
        .drop_duplicates("customer_id")
    )
    attached = votes[["customer_id", "group", "rule"]]

    unattached = people[~people["customer_id"].isin(attached["customer_id"])].copy()
    # A name that several CRM companies share names none of them, and no new company either.
    unattached.loc[unattached["name_key"].isin(crm["name_key"].dropna()), "name_key"] = pd.NA
    prospects = _prospect_groups(unattached)
    if len(prospects):
        has_domain = unattached.groupby("customer_id")["email_domain"].count() > 0
        first_rule = has_domain.map({True: "email_domain", False: "company_name"})
        prospect_rows = pd.DataFrame(
            {
                "customer_id": prospects.index,
                "group": prospects.to_numpy(),
                "rule": prospects.index.map(first_rule),
            }
        )
        attached = pd.concat([attached, prospect_rows], ignore_index=True)
    attached = attached.astype("string")

    members = pd.concat(
        [
            pd.DataFrame({"member": "crm:" + crm["crm_account_id"].astype("string"), "group": crm["group"]}),
            pd.DataFrame({"member": "cus:" + attached["customer_id"], "group": attached["group"]}),
        ],
        ignore_index=True,
    ).astype("string")
    account_id = _carry_over_ids(members, _previous_members(previous_accounts, previous_customer_accounts))

    member_records = people.merge(attached[["customer_id", "group"]], on="customer_id")
    groups = pd.Index(sorted(members["group"].unique()), name="group")
    crm_by_group = crm.groupby("group")
    record_counts = member_records.groupby("group").size()
    accounts = pd.DataFrame(index=groups)
    accounts["account_id"] = account_id.reindex(groups)
    # The CRM is the system of record for a company's name and domain; prospects use what people wrote.
    accounts["account_name"] = crm_by_group["account_name"].first().reindex(groups)
    accounts["account_name"] = accounts["account_name"].fillna(
        member_records.groupby("group")["company_name"].agg(_most_common).reindex(groups)
    )
    accounts["account_domain"] = crm_by_group["domain"].agg(_most_common).reindex(groups)
    accounts["account_domain"] = accounts["account_domain"].fillna(
        member_records.groupby("group")["email_domain"].agg(_most_common).reindex(groups)
    )
    accounts["crm_account_ids"] = crm_by_group["crm_account_id"].agg(
        lambda ids: ",".join(str(i) for i in sorted(ids))
    )
    accounts["source_record_count"] = (
        record_counts.reindex(groups, fill_value=0) + crm_by_group.size().reindex(groups, fill_value=0)
    ).astype("int64")
    accounts["customer_count"] = (
        attached.groupby("group").size().reindex(groups, fill_value=0).astype("int64")
    )
    accounts["is_in_crm"] = accounts["crm_account_ids"].notna()
    accounts = accounts.reset_index(drop=True)[ACCOUNT_COLUMNS].astype(
        {
            "account_id": "string",
            "account_name": "string",
            "account_domain": "string",
            "crm_account_ids": "string",
        }
    )
    accounts = accounts.sort_values("account_id", ignore_index=True)

    customer_accounts = pd.DataFrame(
        {
            "customer_id": attached["customer_id"],
            "account_id": attached["group"].map(account_id).astype("string"),
            "match_rule": attached["rule"],
        },
        columns=CUSTOMER_ACCOUNT_COLUMNS,
    ).sort_values("customer_id", ignore_index=True)

    previous_ids = set(previous_accounts["account_id"]) if previous_accounts is not None else set()
    stats = {
        "accounts": len(accounts),
        "accounts_in_crm": int(accounts["is_in_crm"].sum()),
        "prospect_accounts": int((~accounts["is_in_crm"]).sum()),
        "crm_accounts": len(crm),
        "crm_accounts_merged": len(crm) - int(crm["group"].nunique()),
        "customers_attached": len(customer_accounts),
        "customers": int(customer_of["customer_id"].nunique()),
        "accounts_keeping_previous_id": int(accounts["account_id"].isin(previous_ids).sum()),
        **{f"attached_by_{rule}": int((customer_accounts["match_rule"] == rule).sum()) for rule in RULES},
    }
    return AccountResolution(accounts=accounts, customer_accounts=customer_accounts, stats=stats)

"""Clustering that honours steward decisions, and the history of customer ids across runs.

Links are accepted strongest first (steward must-links, then deterministic rules, then model links
by falling match probability). A link that would put two records a steward separated into one
customer, or two values a customer can hold only one of (guards), is refused, so the cluster breaks
at its weakest link rather than at a strong one.
"""

from datetime import UTC, datetime

import pandas as pd

from identity._overrides import Override

STEWARD_RULE = "steward_must_link"
# A customer is one person: dozens of records is plausible (one per event source and form), more
# than this through model links alone is a chain of look-alikes.
DEFAULT_MAX_CLUSTER_SIZE = 50
HISTORY_COLUMNS = ["run_id", "changed_at", "event", "customer_id", "related_customer_id", "records", "reason"]


def cluster_with_overrides(
    record_ids: pd.Series,
    links: pd.DataFrame,
    overrides: list[Override],
    exclusive: pd.DataFrame | None = None,
    max_cluster_size: int | None = None,
) -> tuple[pd.Series, pd.DataFrame]:
    """Group records into clusters through accepted links, honouring must-link, cannot-link and split.

    Args:
        record_ids: Every record id.
        links: ``record_id_l, record_id_r, match_probability, match_weight, rule, evidence`` candidate links.
        overrides: Steward decisions (``load_overrides`` output); decisions naming records absent
            from this run are ignored.
        exclusive: ``record_id, key, value`` rows: a customer holds at most one value per key, so a
            link that would join two records with different values under one key is refused
            (``exclusive_values`` builds the guards resolution uses).
        max_cluster_size: A model link that would make a customer larger than this is refused, so
            an over-large cluster splits at its weakest model links (rule and steward links are
            never refused for size). None: no limit.

    Returns:
        The cluster key (a member record id) of each record, indexed by record id, and the accepted
        links, including one ``steward_must_link`` row per must-linked pair.
    """
    present = set(record_ids.astype(str))
    parent = {r: r for r in present}
    # Each root maps a key to the one value its records hold: a cannot-link decision's key holds
    # the member record, so two members never meet; guard keys hold e.g. a mailbox.
    held: dict[str, dict[object, str]] = {r: {} for r in present}
    split_of: dict[str, int] = {}
    for i, override in enumerate(overrides):
        members = [r for r in override.records if r in present]
        if override.kind == "cannot_link":
            for r in members:
                held[r][("cannot_link", i)] = r
        elif override.kind == "split":
            for r in members:
                split_of[r] = i
    if exclusive is not None:
        for record, key, value in exclusive[["record_id", "key", "value"]].itertuples(index=False):
            if str(record) in present:
                held[str(record)][key] = str(value)

    def find(x: str) -> str:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def clash(a: dict[object, str], b: dict[object, str]) -> bool:
        small, large = (a, b) if len(a) <= len(b) else (b, a)
        return any(key in large and large[key] != value for key, value in small.items())

    size = dict.fromkeys(present, 1)

    def union(a: str, b: str, forced: bool, capped: bool = False) -> bool:
        ra, rb = find(a), find(b)
        if ra == rb:
            return True
        if not forced and (clash(held[ra], held[rb]) or split_of.get(a) != split_of.get(b)):
            return False
        if capped and size[ra] + size[rb] > max_cluster_size:
            return False
        parent[rb] = ra
        size[ra] += size.pop(rb)
        kept, absorbed = held[ra], held.pop(rb)
        if len(kept) < len(absorbed):
            kept, absorbed = absorbed, kept
        kept.update(absorbed)
        held[ra] = kept
        return True

    steward_rows = []
    for override in overrides:
        members = [r for r in override.records if r in present]
        if override.kind != "must_link":
            continue
        for other in members[1:]:
            union(members[0], other, forced=True)
            steward_rows.append(
                (min(members[0], other), max(members[0], other), 1.0, None, STEWARD_RULE, None)
            )
    ordered = links.assign(_deterministic=links["rule"] != "model").sort_values(
        ["_deterministic", "match_probability", "record_id_l", "record_id_r"],
        ascending=[False, False, True, True],
    )
    capped = (ordered["rule"] == "model") & (max_cluster_size is not None)
    keep = [
        union(left, right, forced=False, capped=cap)
        for left, right, cap in zip(
            ordered["record_id_l"].astype(str),
            ordered["record_id_r"].astype(str),
            capped,
            strict=True,
        )
    ]
    accepted = ordered.loc[keep].drop(columns="_deterministic")
    steward = pd.DataFrame(steward_rows, columns=accepted.columns).astype(accepted.dtypes.to_dict())
    accepted = pd.concat([accepted, steward], ignore_index=True) if steward_rows else accepted
    accepted = accepted.sort_values(["record_id_l", "record_id_r"]).reset_index(drop=True)
    keys = pd.Series({r: find(r) for r in sorted(present)}, dtype="string").rename_axis("record_id")
    return keys, accepted


# The same family in DuckDB SQL (``{column}`` is a normalised email column).
MAILBOX_FAMILY_SQL = (
    "regexp_replace(split_part({column}, '@', 1), '[0-9]+', '', 'g') || '@' || split_part({column}, '@', 2)"
)


def mailbox_family(emails: pd.Series) -> pd.Series:
    """Return each address without the digits of its local part (``fli2@x.cn`` -> ``fli@x.cn``).

    Args:
        emails: Normalised addresses.

    Returns:
        The family each address belongs to.
    """
    return emails.str.replace(r"[0-9]+(?=[^@]*@)", "", regex=True)


def exclusive_values(normalised: pd.DataFrame) -> pd.DataFrame:
    """The guards every resolution applies, as ``cluster_with_overrides`` exclusive values.

    Numbered mailboxes: addresses at one domain whose local parts differ only in digits
    (``cheng.zhang@`` and ``cheng.zhang2@``, ``laura_tate@`` and ``laura_tate4@``) are issued to
    different people, usually namesakes, so one customer holds at most one of them.

    Args:
        normalised: ``normalise_records`` output.

    Returns:
        ``record_id, key, value`` rows, only for mailbox families with more than one address.
    """
    emails = normalised[["record_id", "email_norm"]].dropna()
    family = mailbox_family(emails["email_norm"])
    counts = emails.groupby(family)["email_norm"].transform("nunique")
    several = emails[counts > 1]
    return pd.DataFrame(
        {
            "record_id": several["record_id"].astype(str),
            "key": "mailbox:" + family[counts > 1],
            "value": several["email_norm"],
        }
    )


def _reason(records: set[str], overrides: list[Override]) -> str:
    touching = [o.describe() for o in overrides if records & set(o.records)]
    return "; ".join(touching) if touching else "matching evidence"


def history_events(assigned: pd.DataFrame, overrides: list[Override], run_id: str) -> pd.DataFrame:
    """Describe how this run changed the customers: ids created, merged, split, records reassigned.

    Args:
        assigned: ``record_id, customer_id, previous_customer_id`` for every record
            (``assign_customer_ids`` output).
        overrides: The steward decisions of this run (named in the reason when they are involved).
        run_id: The run that made the changes.

    Returns:
        One row per change, ``HISTORY_COLUMNS``: ``merged`` (customer_id retired into
        related_customer_id), ``split`` (related_customer_id minted from part of customer_id),
        ``reassigned`` (records moved from customer_id to the existing related_customer_id),
        ``created`` (a new customer from new records).
    """
    changed_at = pd.Timestamp(datetime.now(UTC).replace(tzinfo=None)).floor("s")
    previous_ids = set(assigned["previous_customer_id"].dropna())
    current_ids = set(assigned["customer_id"])
    events = []
    seen = assigned.dropna(subset=["previous_customer_id"])
    moves = seen.groupby(["previous_customer_id", "customer_id"])["record_id"].agg(list).reset_index()
    minted_by_split = set()
    for old, group in moves.groupby("previous_customer_id", sort=True):
        group = group.assign(n=group["record_id"].str.len()).sort_values(
            ["n", "customer_id"], ascending=[False, True]
        )
        for new, records in zip(group["customer_id"], group["record_id"], strict=True):
            if new == old:
                continue
            if old not in current_ids and new == group["customer_id"].iloc[0]:
                event = "merged"
            elif new not in previous_ids:
                event = "split"
                minted_by_split.add(new)
            else:
                event = "reassigned"
            events.append(
                (run_id, changed_at, event, old, new, len(records), _reason(set(records), overrides))
            )
    fresh = assigned[assigned["previous_customer_id"].isna()]
    for new, records in fresh.groupby("customer_id", sort=True)["record_id"]:
        if new not in previous_ids and new not in minted_by_split:
            events.append((run_id, changed_at, "created", new, None, len(records), "new records"))
    return pd.DataFrame(events, columns=HISTORY_COLUMNS).astype(
        {
            "run_id": "string",
            "event": "string",
            "customer_id": "string",
            "related_customer_id": "string",
            "records": "int32",
            "reason": "string",
        }
    )


def trace_customer(
    customer_id: str, history: pd.DataFrame, current_ids: set[str]
) -> tuple[str | None, list[dict]]:
    """Follow an old customer id through merges to the customer that holds its records now.

    Args:
        customer_id: Any id this platform ever issued.
        history: The ``identity.customer_id_history`` table.
        current_ids: The customer ids of the latest run.

    Returns:
        The current customer id (None if the id is unknown or its records left the platform) and
        the history rows about the ids on the way, oldest first.
    """
    path, seen, current = [], set(), customer_id
    while current not in seen:
        seen.add(current)
        rows = history[(history["customer_id"] == current) | (history["related_customer_id"] == current)]
        path.extend(rows.to_dict("records"))
        if current in current_ids:
            break
        merged = rows[(rows["event"] == "merged") & (rows["customer_id"] == current)]
        if merged.empty:
            current = None
            break
        current = merged.sort_values("changed_at")["related_customer_id"].iloc[-1]
    unique = pd.DataFrame(path).drop_duplicates() if path else pd.DataFrame(columns=HISTORY_COLUMNS)
    events = unique.sort_values("changed_at", kind="stable").to_dict("records") if len(unique) else []
    return (current if current in current_ids else None), events


def crm_duplicates(clusters: pd.DataFrame, crm_source: str = "crm_contacts") -> pd.DataFrame:
    """List the CRM contacts that resolved to a customer holding more than one CRM contact.

    A customer should hold one CRM contact. When matching finds two, the CRM itself holds a
    duplicate: the customer stays merged (the evidence says it is one person) and the pair is listed
    here for the CRM's owner to merge in the CRM, or for a steward to cannot-link if it is wrong.

    Args:
        clusters: ``record_id, source, source_record_id, customer_id`` (``Resolution.clusters``).
        crm_source: The source name of CRM contact records.

    Returns:
        One row per such CRM contact: ``customer_id, crm_contact_id, crm_contacts_in_customer``.
    """
    crm = clusters.loc[clusters["source"] == crm_source, ["customer_id", "source_record_id"]]
    crm = crm.rename(columns={"source_record_id": "crm_contact_id"})
    crm["crm_contacts_in_customer"] = (
        crm.groupby("customer_id")["crm_contact_id"].transform("size").astype("int32")
    )
    flagged = crm[crm["crm_contacts_in_customer"] > 1]
    return flagged.sort_values(["customer_id", "crm_contact_id"]).reset_index(drop=True)


def match_explanations(clusters: pd.DataFrame, links: pd.DataFrame) -> pd.DataFrame:
    """Explain each customer's records: the strongest accepted link that joined each record to it.

    Args:
        clusters: ``record_id, source, customer_id`` per record (``Resolution.clusters``).
        links: Accepted links (``Resolution.links``).

    Returns:
        One row per record: ``customer_id, record_id, source, linked_to, rule, match_probability,
        match_weight, evidence``; a record alone in its customer has rule ``alone`` and no partner.
    """
    both_ways = pd.concat(
        [
            links.rename(columns={"record_id_l": "record_id", "record_id_r": "linked_to"}),
            links.rename(columns={"record_id_r": "record_id", "record_id_l": "linked_to"}),
        ],
        ignore_index=True,
    )
    both_ways["_strength"] = (both_ways["rule"] != "model").astype(int)
    strongest = (
        both_ways.sort_values(
            ["record_id", "_strength", "match_probability", "linked_to"], ascending=[True, False, False, True]
        )
        .drop_duplicates("record_id")
        .drop(columns="_strength")
    )
    explained = clusters[["customer_id", "record_id", "source"]].merge(strongest, on="record_id", how="left")
    explained["rule"] = explained["rule"].fillna("alone").astype("string")
    return explained.sort_values(["customer_id", "record_id"]).reset_index(drop=True)[
        [
            "customer_id",
            "record_id",
            "source",
            "linked_to",
            "rule",
            "match_probability",
            "match_weight",
            "evidence",
        ]
    ]

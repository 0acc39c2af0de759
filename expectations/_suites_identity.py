"""Suites of the identity layer. The resolution outputs block, since every mart and sync is keyed by
their customer ids; the explanations, CRM duplicates, match-key cache and run log warn.
"""

from expectations._spec import (
    ACCOUNT_ID_PATTERN,
    CUSTOMER_ID_PATTERN,
    Reference,
    SuiteSpec,
    between,
    not_null,
    one_of,
    pattern,
)

# A customer built from more records than this is almost certainly several people merged.
MAX_CLUSTER_SIZE = 60
_CLUSTERS = ("identity", "customer_clusters")

IDENTITY_SUITES: tuple[SuiteSpec, ...] = (
    SuiteSpec(
        name="customer_clusters_quality",
        table=_CLUSTERS,
        blocking=True,
        columns={
            "record_id": "text",
            "source": "text",
            "source_record_id": "text",
            "customer_id": "text",
            "cluster_size": "integer",
            "match_probability": "number",
            "resolved_at": "timestamp",
        },
        key=("record_id",),
        expectations=(
            *not_null("customer_id", "source", "source_record_id"),
            pattern("customer_id", CUSTOMER_ID_PATTERN),
            (
                "ExpectColumnMaxToBeBetween",
                {"column": "cluster_size", "min_value": 1, "max_value": MAX_CLUSTER_SIZE},
            ),
            between("cluster_size", 1),
            between("match_probability", 0, 1),
            ("ExpectTableRowCountToBeBetween", {"min_value": 1}),
        ),
        timestamps=("resolved_at",),
        description="Identity result: every record resolved once, ids well-formed, no over-merged customer.",
    ),
    SuiteSpec(
        name="customer_links_quality",
        table=("identity", "customer_links"),
        blocking=True,
        columns={
            "record_id_l": "text",
            "record_id_r": "text",
            "match_probability": "number",
            "match_weight": "number",
            "rule": "text",
        },
        key=("record_id_l", "record_id_r"),
        expectations=(*not_null("rule", "match_probability"), between("match_probability", 0, 1)),
        references=(
            Reference("record_id_l", _CLUSTERS, "record_id"),
            Reference("record_id_r", _CLUSTERS, "record_id"),
        ),
        description="Accepted links: one row per pair, a rule and a probability 0-1, between resolved records.",
    ),
    SuiteSpec(
        name="customer_id_history_quality",
        table=("identity", "customer_id_history"),
        blocking=True,
        columns={
            "run_id": "text",
            "changed_at": "timestamp",
            "event": "text",
            "customer_id": "text",
            "related_customer_id": "text",
            "records": "integer",
        },
        expectations=(
            *not_null("run_id", "changed_at", "event", "customer_id"),
            one_of("event", ["created", "merged", "split", "reassigned"]),
            pattern("customer_id", CUSTOMER_ID_PATTERN),
            between("records", 0),
        ),
        timestamps=("changed_at",),
        volume=False,
        description="Customer id history: known events on well-formed ids; it only grows.",
    ),
    SuiteSpec(
        name="identity_accounts_quality",
        table=("identity", "accounts"),
        blocking=True,
        columns={
            "account_id": "text",
            "account_name": "text",
            "account_domain": "text",
            "source_record_count": "integer",
            "customer_count": "integer",
            "is_in_crm": "boolean",
        },
        key=("account_id",),
        expectations=(
            pattern("account_id", ACCOUNT_ID_PATTERN),
            between("source_record_count", 1),
            between("customer_count", 0),
        ),
        description="Resolved accounts: account id unique and well-formed, counts not negative.",
    ),
    SuiteSpec(
        name="customer_accounts_quality",
        table=("identity", "customer_accounts"),
        blocking=True,
        columns={"customer_id": "text", "account_id": "text", "match_rule": "text"},
        key=("customer_id", "account_id"),
        expectations=(
            *not_null("match_rule"),
            one_of("match_rule", ["crm_account", "email_domain", "company_name"]),
        ),
        references=(
            Reference("customer_id", _CLUSTERS, "customer_id"),
            Reference("account_id", ("identity", "accounts"), "account_id"),
        ),
        description="Customer-to-account links: to existing customers and accounts, by a known rule.",
    ),
    SuiteSpec(
        name="customer_match_explanations_quality",
        table=("identity", "customer_match_explanations"),
        blocking=False,
        columns={"customer_id": "text", "record_id": "text", "rule": "text", "match_probability": "number"},
        key=("record_id",),
        expectations=(
            *not_null("customer_id", "rule"),
            one_of(
                "rule",
                ["same_email", "same_phone", "same_crm_contact_id", "steward_must_link", "model", "alone"],
            ),
            between("match_probability", 0, 1),
        ),
        references=(Reference("record_id", _CLUSTERS, "record_id"),),
        description="Explanations: one per resolved record, by a known rule, probabilities 0-1.",
    ),
    SuiteSpec(
        name="crm_duplicate_contacts_quality",
        table=("identity", "crm_duplicate_contacts"),
        blocking=False,
        columns={"customer_id": "text", "crm_contact_id": "text", "crm_contacts_in_customer": "integer"},
        key=("customer_id", "crm_contact_id"),
        expectations=(between("crm_contacts_in_customer", 2),),
        references=(Reference("customer_id", _CLUSTERS, "customer_id"),),
        volume=False,
        description="CRM duplicates for the CRM owner: customers holding two or more CRM contacts.",
    ),
    SuiteSpec(
        name="person_match_keys_quality",
        table=("identity", "person_match_keys"),
        blocking=False,
        columns={
            "record_id": "text",
            "source": "text",
            "email_norm": "text",
            "phone_tail": "text",
            "fingerprint": "text",
        },
        key=("record_id",),
        expectations=(*not_null("source", "fingerprint"), pattern("phone_tail", r"^[0-9]{8}$")),
        references=(Reference("record_id", _CLUSTERS, "record_id"),),
        description="Match keys cache: one row per resolved record, normalised values, a fingerprint.",
    ),
    SuiteSpec(
        name="resolution_runs_quality",
        table=("identity", "resolution_runs"),
        blocking=False,
        columns={"run_id": "text", "finished_at": "timestamp", "mode": "text", "records": "integer"},
        key=("run_id",),
        expectations=(one_of("mode", ["full", "incremental", "unchanged"]), between("records", 0)),
        timestamps=("finished_at",),
        volume=False,
        description="Identity run log: one row per run, a known mode.",
    ),
)

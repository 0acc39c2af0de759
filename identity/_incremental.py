"""Linking new records into the existing customers without re-resolving everything.

Only pairs that involve a new record are scored: new against existing and new against new. The
existing records come already normalised (the last run's ``identity.person_match_keys``), and one
DuckDB query narrows them to the few a new record could link to (sharing a blocking key, a phone
number, a CRM contact id or a mailbox family), so a run's cost grows with the new records, not with
the population. Each group of linked new records joins the one existing customer it links to most
strongly; joining two existing customers together is a merge, and merges are left to the full
reconcile, which re-resolves everything and keeps ids by overlap. The size limit is the full
reconcile's too: an incremental run cannot see a customer's weakest links.
"""

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
from splink import DuckDBAPI, Linker

from identity._ids import new_customer_id
from identity._model import DEFAULT_MODEL_PATH, DETERMINISTIC_RULES, load_model, score_pairs
from identity._normalise import normalise_records, personal_phone_key
from identity._overrides import Override
from identity._steward import MAILBOX_FAMILY_SQL, cluster_with_overrides, exclusive_values, history_events

_CUSTOMER_NODE = "customer::"
LINK_COLUMNS = ["record_id_l", "record_id_r", "match_probability", "match_weight", "rule", "evidence"]


def _relevant_existing(
    con: duckdb.DuckDBPyConnection,
    new: pd.DataFrame,
    existing: pd.DataFrame,
    clusters: pd.DataFrame,
    model: dict,
) -> pd.DataFrame:
    """The existing records a new record could link to or clash with, with their customer ids.

    Those a blocking rule pairs with a new record (the only pairs the model scores), and those
    sharing a phone tail, a CRM contact id or a mailbox family with one (the deterministic rules and
    the guards).
    """
    joins = [rule["blocking_rule"] for rule in model["blocking_rules_to_generate_predictions"]]
    joins += [
        "l.phone_tail = r.phone_tail",
        "l.crm_contact_id = r.crm_contact_id",
        f"{MAILBOX_FAMILY_SQL.format(column='l.email_norm')} = {MAILBOX_FAMILY_SQL.format(column='r.email_norm')}",
    ]
    con.register("_relevant_new", new)
    con.register("_relevant_existing", existing)
    con.register("_relevant_clusters", clusters[["record_id", "customer_id"]])
    try:
        matched = " UNION ".join(
            f"SELECT l.record_id FROM _relevant_existing l JOIN _relevant_new r ON {join}" for join in joins
        )
        return con.execute(
            f"""
            SELECT e.*, c.customer_id FROM _relevant_existing e JOIN _relevant_clusters c USING (record_id)
            WHERE e.record_id IN ({matched}) ORDER BY e.record_id
            """
        ).df()
    finally:
        for name in ("_relevant_new", "_relevant_existing", "_relevant_clusters"):
            con.unregister(name)


def _new_vs_existing(
    con: duckdb.DuckDBPyConnection,
    new: pd.DataFrame,
    relevant: pd.DataFrame,
    existing: pd.DataFrame,
    model: dict,
    threshold: float,
) -> pd.DataFrame:
    db_api = DuckDBAPI(con)
    tf_columns = {
        level["tf_adjustment_column"]
        for comparison in model["comparisons"]
        for level in comparison["comparison_levels"]
        if level.get("tf_adjustment_column")
    }
    relevant_sdf = db_api.register(relevant, dataset_display_name="existing_records")
    new_sdf = db_api.register(new, dataset_display_name="new_records")
    # Name frequencies come from every existing record: the population a new record is scored against.
    population = db_api.register(existing, dataset_display_name="population") if tf_columns else relevant_sdf
    linker = Linker(population, model)
    for column in sorted(tf_columns):
        linker.table_management.compute_tf_table(column)
    predictions = linker.inference.predict_between(
        relevant_sdf, new_sdf, threshold_match_probability=threshold, warning_mode="never"
    )
    con.register("_new_records", new)
    con.register("_existing_records", relevant)
    try:
        rules = " UNION ALL ".join(
            f"SELECT l.record_id AS record_id_l, r.record_id AS record_id_r, '{name}' AS rule "
            f"FROM _existing_records l JOIN _new_records r ON {sql}"
            for name, sql in DETERMINISTIC_RULES.items()
        )
        return con.execute(
            f"""
            SELECT record_id_l, record_id_r, 1.0 AS match_probability, min(rule) AS rule
            FROM ({rules}) GROUP BY ALL
            UNION ALL
            SELECT p.record_id_l, p.record_id_r, p.match_probability, 'model' AS rule
            FROM {predictions.physical_name} p
            ANTI JOIN ({rules}) d ON p.record_id_l = d.record_id_l AND p.record_id_r = d.record_id_r
            """
        ).df()
    finally:
        con.unregister("_new_records")
        con.unregister("_existing_records")


@dataclass
class IncrementalLinking:
    """The outcome of linking new records into the existing customers.

    Attributes:
        clusters: Existing rows (cluster sizes refreshed) plus one row per new record.
        links: The accepted links that involve a new record (``customer_links`` layout).
        history: ``created`` rows for the customers the new records started.
        normalised: The new records' matching columns, to add to ``person_match_keys``.
        stats: Figures for the run metadata.
    """

    clusters: pd.DataFrame
    links: pd.DataFrame
    history: pd.DataFrame
    normalised: pd.DataFrame
    stats: dict


def _with_shared_phones_rechecked(
    new: pd.DataFrame, relevant: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Recompute the personal phone key over the new records and the existing ones on their numbers.

    A number one existing person used becomes a switchboard when a new record gives it another name.
    """
    both = pd.concat([relevant.drop(columns="customer_id"), new], ignore_index=True)
    keys = personal_phone_key(both).to_numpy()
    return new.assign(phone_key=keys[len(relevant) :]), relevant.assign(phone_key=keys[: len(relevant)])


def link_new_records(
    new_records: pd.DataFrame,
    existing: pd.DataFrame,
    clusters: pd.DataFrame,
    model_path: str | Path = DEFAULT_MODEL_PATH,
    threshold: float = 0.95,
    overrides: list[Override] | None = None,
    run_id: str = "incremental",
) -> IncrementalLinking:
    """Attach new person records to the existing customers, or give them new customer ids.

    Args:
        new_records: Records not resolved before (``intermediate.int_person_records`` layout).
        existing: The already resolved records, normalised (``normalise_records`` output, as kept
            in ``identity.person_match_keys``).
        clusters: The current ``identity.customer_clusters`` (one row per existing record).
        model_path: The saved model.
        threshold: Minimum match probability for a model link.
        overrides: Steward decisions; an existing record named in one stands for its customer.
        run_id: Names the run in the history rows.

    Returns:
        Updated clusters, the new links, the history rows and the new records' matching columns.

    Raises:
        ValueError: A new record id is already resolved.
    """
    model = load_model(model_path)
    new = normalise_records(new_records)
    overrides = overrides or []
    named = sorted({r for o in overrides for r in o.records})
    with duckdb.connect() as con:
        con.register("_clusters", clusters[["record_id", "customer_id"]])
        con.register("_new_ids", new[["record_id"]])
        repeated = [
            r
            for (r,) in con.execute(
                "SELECT record_id FROM _new_ids SEMI JOIN _clusters USING (record_id) ORDER BY 1"
            ).fetchall()
        ]
        if repeated:
            raise ValueError(
                f"records already resolved (use the full reconcile for changed records): {repeated[:3]}"
            )
        decided = con.execute(
            "SELECT record_id, customer_id FROM _clusters WHERE list_contains(?::VARCHAR[], record_id)",
            [named],
        ).df()
        relevant = _relevant_existing(con, new, existing, clusters, model)
        new, relevant = _with_shared_phones_rechecked(new, relevant)
        within = score_pairs(con, new, model, threshold)
        between = _new_vs_existing(con, new, relevant.drop(columns="customer_id"), existing, model, threshold)
    customer_of = pd.concat(
        [relevant.set_index("record_id")["customer_id"], decided.set_index("record_id")["customer_id"]]
    ).astype(str)
    customer_of = customer_of[~customer_of.index.duplicated()]
    record_level = between.copy()
    # String-typed so an empty result (no new record near an existing one) still concatenates.
    between["record_id_l"] = _CUSTOMER_NODE + between["record_id_l"].map(customer_of).astype("string")
    between = between.sort_values("match_probability", ascending=False).drop_duplicates(
        ["record_id_l", "record_id_r"]
    )
    links = pd.concat([within[["record_id_l", "record_id_r", "match_probability", "rule"]], between])
    customer_nodes = sorted(set(between["record_id_l"]))
    mapped = [
        replace(
            o,
            records=tuple(
                _CUSTOMER_NODE + customer_of[r] if r in customer_of.index else r for r in o.records
            ),
        )
        for o in overrides
    ]
    # A link between two existing customers would merge them; that is the full reconcile's call.
    apart = (
        [Override("cannot_link", tuple(customer_nodes), "incremental", "", "")]
        if len(customer_nodes) > 1
        else []
    )
    # Guards see each linked customer as one node holding its records' values.
    families = exclusive_values(pd.concat([relevant.drop(columns="customer_id"), new], ignore_index=True))
    families["record_id"] = families["record_id"].map(
        lambda r: _CUSTOMER_NODE + customer_of[r] if r in customer_of.index else r
    )
    nodes = pd.Series([*new["record_id"].astype(str), *customer_nodes], dtype="string")
    keys, _ = cluster_with_overrides(
        nodes, links.assign(match_weight=None, evidence=None), mapped + apart, families
    )
    groups = keys.rename("key").reset_index()
    anchored = groups[groups["record_id"].str.startswith(_CUSTOMER_NODE)]
    key_customer = dict(
        zip(anchored["key"], anchored["record_id"].str.removeprefix(_CUSTOMER_NODE), strict=True)
    )
    fresh = groups[~groups["record_id"].str.startswith(_CUSTOMER_NODE)].copy()
    minted: dict[str, str] = {}
    for key in sorted(set(fresh["key"]) - set(key_customer)):
        minted[key] = new_customer_id()
    fresh["customer_id"] = fresh["key"].map({**key_customer, **minted}).astype("string")
    customer_now = pd.concat([customer_of, fresh.set_index("record_id")["customer_id"].astype(str)])
    accepted = pd.concat([within, record_level], ignore_index=True)
    accepted = accepted.loc[
        accepted["record_id_l"].map(customer_now) == accepted["record_id_r"].map(customer_now), LINK_COLUMNS
    ].reset_index(drop=True)
    strongest = (
        pd.concat(
            [
                accepted[["record_id_l", "match_probability"]].rename(columns={"record_id_l": "record_id"}),
                accepted[["record_id_r", "match_probability"]].rename(columns={"record_id_r": "record_id"}),
            ]
        )
        .groupby("record_id")["match_probability"]
        .max()
    )
    added = (
        new_records[["record_id", "source", "source_record_id"]]
        .astype("string")
        .merge(fresh[["record_id", "customer_id"]], on="record_id")
    )
    added["match_probability"] = added["record_id"].map(strongest).fillna(1.0).astype("float64")
    added["resolved_at"] = pd.Timestamp(datetime.now(UTC).replace(tzinfo=None)).floor("s")
    updated = pd.concat([clusters.drop(columns="cluster_size"), added], ignore_index=True)
    updated["cluster_size"] = updated.groupby("customer_id")["record_id"].transform("size").astype("int32")
    assigned = added[["record_id", "customer_id"]].assign(
        previous_customer_id=pd.Series(pd.NA, index=added.index, dtype="string")
    )
    history = history_events(assigned[assigned["customer_id"].isin(minted.values())], mapped, run_id)
    joined = int((~added["customer_id"].isin(minted.values())).sum())
    stats = {
        "new_records": len(added),
        "new_records_joining_existing_customers": joined,
        "new_customers": len(minted),
        "links_added": len(accepted),
    }
    return IncrementalLinking(updated[clusters.columns], accepted, history, new, stats)

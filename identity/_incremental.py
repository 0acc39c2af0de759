"""Linking new records into the existing customers without re-resolving everything.

Only pairs that involve a new record are scored: new against existing (Splink's ``predict_between``
with the saved model's blocking rules) and new against new. Each group of linked new records joins
the one existing customer it links to most strongly; joining two existing customers together is a
merge, and merges are left to the full reconcile, which re-resolves everything and keeps ids by
overlap.
"""

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
from splink import DuckDBAPI, Linker

from identity._ids import new_customer_id
from identity._model import DEFAULT_MODEL_PATH, DETERMINISTIC_RULES, load_model, score_pairs
from identity._normalise import normalise_records
from identity._overrides import Override
from identity._steward import cluster_with_overrides, history_events

_CUSTOMER_NODE = "customer::"


def _new_vs_existing(
    con: duckdb.DuckDBPyConnection, new: pd.DataFrame, existing: pd.DataFrame, model: dict, threshold: float
) -> pd.DataFrame:
    db_api = DuckDBAPI(con)
    existing_sdf = db_api.register(existing, dataset_display_name="existing_records")
    new_sdf = db_api.register(new, dataset_display_name="new_records")
    linker = Linker(existing_sdf, model)
    # Name frequencies come from the existing records: the population a new record is scored against.
    tf_columns = {
        level["tf_adjustment_column"]
        for comparison in model["comparisons"]
        for level in comparison["comparison_levels"]
        if level.get("tf_adjustment_column")
    }
    for column in sorted(tf_columns):
        linker.table_management.compute_tf_table(column)
    predictions = linker.inference.predict_between(
        existing_sdf, new_sdf, threshold_match_probability=threshold, warning_mode="never"
    )
    con.register("_new_records", new)
    con.register("_existing_records", existing)
    try:
        rules = " UNION ALL ".join(
            f"SELECT l.record_id AS record_id_l, r.record_id AS record_id_r FROM _existing_records l "
            f"JOIN _new_records r ON {sql}"
            for sql in DETERMINISTIC_RULES.values()
        )
        return con.execute(
            f"""
            SELECT record_id_l, record_id_r, 1.0 AS match_probability, 'deterministic' AS rule FROM ({rules})
            UNION ALL
            SELECT record_id_l, record_id_r, match_probability, 'model' AS rule
            FROM {predictions.physical_name}
            """
        ).df()
    finally:
        con.unregister("_new_records")
        con.unregister("_existing_records")


def link_new_records(
    new_records: pd.DataFrame,
    existing_records: pd.DataFrame,
    clusters: pd.DataFrame,
    model_path: str | Path = DEFAULT_MODEL_PATH,
    threshold: float = 0.95,
    overrides: list[Override] | None = None,
    run_id: str = "incremental",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Attach new person records to the existing customers, or give them new customer ids.

    Args:
        new_records: Records not resolved before (``intermediate.int_person_records`` layout).
        existing_records: The records already resolved.
        clusters: The current ``identity.customer_clusters`` (one row per existing record).
        model_path: The saved model.
        threshold: Minimum match probability for a model link.
        overrides: Steward decisions; an existing record named in one stands for its customer.
        run_id: Names the run in the history rows.

    Returns:
        The updated clusters (existing rows with refreshed cluster sizes plus one row per new
        record) and the history rows of this run (``created`` for new customers).

    Raises:
        ValueError: A new record id is already resolved.
    """
    known = set(clusters["record_id"].astype(str))
    repeated = [r for r in new_records["record_id"].astype(str) if r in known]
    if repeated:
        raise ValueError(
            f"records already resolved (use the full reconcile for changed records): {repeated[:3]}"
        )
    model = load_model(model_path)
    new = normalise_records(new_records)
    existing = normalise_records(existing_records)
    customer_of = clusters.set_index("record_id")["customer_id"].astype(str)
    with duckdb.connect() as con:
        within = score_pairs(con, new, model, threshold)
        between = _new_vs_existing(con, new, existing, model, threshold)
    between["record_id_l"] = _CUSTOMER_NODE + between["record_id_l"].map(customer_of)
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
        for o in (overrides or [])
    ]
    # A link between two existing customers would merge them; that is the full reconcile's call.
    apart = (
        [Override("cannot_link", tuple(customer_nodes), "incremental", "", "")]
        if len(customer_nodes) > 1
        else []
    )
    nodes = pd.Series([*new["record_id"].astype(str), *customer_nodes], dtype="string")
    keys, _ = cluster_with_overrides(nodes, links.assign(match_weight=None, evidence=None), mapped + apart)
    groups = keys.rename("key").reset_index()
    anchored = groups[groups["record_id"].str.startswith(_CUSTOMER_NODE)]
    key_customer = dict(
        zip(anchored["key"], anchored["record_id"].str.removeprefix(_CUSTOMER_NODE), strict=True)
    )
    fresh = groups[~groups["record_id"].str.startswith(_CUSTOMER_NODE)].copy()
    minted: dict[str, str] = {}
    taken = set(customer_of)
    for key in sorted(set(fresh["key"]) - set(key_customer)):
        customer_id = new_customer_id()
        while customer_id in taken:
            customer_id = new_customer_id()
        minted[key] = customer_id
        taken.add(customer_id)
    fresh["customer_id"] = fresh["key"].map({**key_customer, **minted}).astype("string")
    strongest = (
        pd.concat(
            [
                links[["record_id_l", "match_probability"]].rename(columns={"record_id_l": "record_id"}),
                links[["record_id_r", "match_probability"]].rename(columns={"record_id_r": "record_id"}),
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
    return updated[clusters.columns], history

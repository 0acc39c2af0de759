"""Clusters of linked records and the persistent customer ids given to them.

Splink names a cluster after its smallest record id, which changes whenever records arrive or
merge. A customer id here is minted once and then carried from run to run: each new cluster takes
the id of the previous customer it overlaps most, so sales and marketing systems keyed on it stay
valid.
"""

import secrets
from collections.abc import Callable

import duckdb
import pandas as pd
from splink import DuckDBAPI
from splink.clustering import cluster_pairwise_predictions_at_threshold


def connected_components(
    con: duckdb.DuckDBPyConnection, record_ids: pd.Series, links: pd.DataFrame
) -> pd.Series:
    """Group records into clusters: records joined by any chain of links share a cluster.

    Args:
        con: DuckDB connection for the work tables.
        record_ids: Every record id (records without links become singletons).
        links: ``record_id_l, record_id_r`` pairs.

    Returns:
        The cluster key of each record, indexed by record id.
    """
    nodes = pd.DataFrame({"record_id": record_ids.astype("string")})
    edges = links[["record_id_l", "record_id_r"]].astype("string")
    clusters = cluster_pairwise_predictions_at_threshold(
        nodes, edges, DuckDBAPI(con), node_id_column_name="record_id"
    ).as_pandas_dataframe()
    return clusters.set_index("record_id")["cluster_id"].astype("string")


def new_customer_id() -> str:
    """Mint a customer id that carries no information about the records behind it.

    Returns:
        Text like ``cus_5f1c0a9e3b7d2461``.
    """
    return f"cus_{secrets.token_hex(8)}"


def assign_customer_ids(
    clusters: pd.Series,
    previous: pd.DataFrame | None,
    mint: Callable[[str, int], str] | None = None,
) -> pd.DataFrame:
    """Give each cluster a customer id, carrying ids over from the previous run by largest overlap.

    Each previous id goes to at most one new cluster: the one sharing most records with it (ties go
    to the cluster holding the smallest record id, so the outcome does not depend on row order).
    Clusters that overlap no unclaimed previous customer get a new id.

    Args:
        clusters: Cluster key per record id (``connected_components`` output).
        previous: The last run's ``record_id, customer_id`` pairs, or None on the first run.
        mint: Makes a new cluster's id from its cluster key and an attempt number (0, then 1, 2 ...
            while the id is taken), for ids derived from the records; None mints random ids
            (``new_customer_id``).

    Returns:
        ``record_id, customer_id, previous_customer_id`` for every record; previous_customer_id is
        null for records seen for the first time.
    """
    current = clusters.rename("cluster_key").rename_axis("record_id").reset_index()
    if previous is None or previous.empty:
        current["previous_customer_id"] = pd.Series(pd.NA, index=current.index, dtype="string")
    else:
        prior = previous[["record_id", "customer_id"]].rename(columns={"customer_id": "previous_customer_id"})
        current = current.merge(prior.astype("string"), on="record_id", how="left")
    overlap = (
        current.dropna(subset=["previous_customer_id"])
        .groupby(["cluster_key", "previous_customer_id"])
        .agg(shared=("record_id", "size"), first_record=("record_id", "min"))
        .reset_index()
        .sort_values(["shared", "first_record", "previous_customer_id"], ascending=[False, True, True])
    )
    assigned: dict[str, str] = {}
    taken: set[str] = set()
    for cluster_key, customer_id in zip(overlap["cluster_key"], overlap["previous_customer_id"], strict=True):
        if cluster_key not in assigned and customer_id not in taken:
            assigned[cluster_key] = customer_id
            taken.add(customer_id)
    make = mint or (lambda _key, _attempt: new_customer_id())
    for cluster_key in sorted(set(current["cluster_key"]) - set(assigned)):
        attempt = 0
        customer_id = make(cluster_key, attempt)
        while customer_id in taken:
            attempt += 1
            customer_id = make(cluster_key, attempt)
        assigned[cluster_key] = customer_id
        taken.add(customer_id)
    current["customer_id"] = current["cluster_key"].map(assigned).astype("string")
    return current[["record_id", "customer_id", "previous_customer_id"]]

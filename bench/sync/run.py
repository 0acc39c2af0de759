"""Sync benchmark: HubSpot batching under a rate limit, and SQL CRM upsert throughput on PostgreSQL.

HubSpot: N changed contacts against the local HubSpot server enforcing LIMIT requests per WINDOW
seconds (HubSpot's is 100 per 10 s; a shorter window keeps the run short, the ratio is the same).
Reports write calls (expected ceil(N/100)), the sustained request rate as a share of the limit,
429s received, and the calls of an unchanged rerun (expected 0). PostgreSQL: N rows upserted into
a side table, then N changed rows, then an unchanged rerun. Prints the figures and writes
``bench/sync/results.json``.

Usage: python bench/sync/run.py [--records 100000] [--limit 100] [--window 10] [--pg-records 100000]
"""

import argparse
import json
import math
import sys
import tempfile
import time
import uuid
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from connectors.hubspot import HubSpotClient, sync_hubspot  # noqa: E402
from connectors.sync import SqlCrmTarget, SyncPolicy, sync_sql_crm  # noqa: E402
from tests.fakes import hubspot_server  # noqa: E402

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def feed(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "email": [f"bench{i}@example.com" for i in range(n)],
            "contact_id": np.arange(1, n + 1),
            "customer_id": [f"cus_{i:07d}" for i in range(n)],
            "health_score": np.round(rng.uniform(0, 100, n), 2),
            "health_tier": rng.choice(["healthy", "watch", "at_risk"], n),
            "health_drivers": rng.choice(["usage up", "tickets open", "no login"], n),
            "health_top_reason": rng.choice(["usage up", "tickets open", "no login"], n),
        }
    )


def bench_hubspot(records: int, limit: int, window: float, workdir: Path) -> dict:
    server, hub, url = hubspot_server.start(rate_limit=limit, window_s=window)
    try:
        client = HubSpotClient(hubspot_server.TOKEN, base_url=url, rate_limit=limit, window_s=window)
        policy = SyncPolicy(max_change_share=None)
        with duckdb.connect(str(workdir / "hubspot.duckdb")) as con:
            sync_hubspot(feed(0, 1), client, con, policy)  # custom properties, outside the timed run
            first_write = len(hub.calls)
            started = time.monotonic()
            result = sync_hubspot(feed(records, 1), client, con, policy)
            elapsed = time.monotonic() - started
            sent = hub.calls[first_write:]
            writes = [c for c in sent if c[1].endswith("/batch/upsert")]
            before_rerun = len(hub.calls)
            rerun_started = time.monotonic()
            rerun = sync_hubspot(feed(records, 1), client, con, policy)
            rerun_s = time.monotonic() - rerun_started
            rerun_calls = len(hub.calls) - before_rerun
        client.close()
    finally:
        server.shutdown()
    rate = len(sent) / elapsed
    return {
        "changed_records": records,
        "rate_limit": f"{limit} per {window} s",
        "synced": result.inserted + result.updated,
        "failed": result.failed,
        "write_calls": len(writes),
        "write_calls_answered_429": sum(1 for c in writes if c[3] == 429),
        "expected_write_calls": math.ceil(records / 100),
        "requests": len(sent),
        "responses_429": sum(1 for c in sent if c[3] == 429),
        "seconds": round(elapsed, 2),
        "sustained_rate_per_s": round(rate, 2),
        "sustained_rate_pct_of_limit": round(100 * rate / (limit / window), 1),
        "records_per_s": round(records / elapsed, 1),
        "unchanged_rerun_calls": rerun_calls,
        "unchanged_rerun_unchanged": rerun.unchanged,
        "unchanged_rerun_seconds": round(rerun_s, 2),
    }


def bench_postgres(records: int, workdir: Path) -> dict:
    admin = sa.create_engine(POSTGRES_URL)
    schema = f"bench_sync_{uuid.uuid4().hex[:8]}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        target = SqlCrmTarget(POSTGRES_URL, table=f"{schema}.cdp_contact_fields", batch_size=5000)
        policy = SyncPolicy(max_change_share=None)
        timings = {}
        with duckdb.connect(str(workdir / "pg.duckdb")) as con:
            for label, frame in (
                ("insert", feed(records, 1)),
                ("update", feed(records, 2)),
                ("unchanged", feed(records, 2)),
            ):
                started = time.monotonic()
                result = sync_sql_crm(frame, target, con, policy=policy)
                seconds = time.monotonic() - started
                timings[label] = {
                    "seconds": round(seconds, 2),
                    "written": result.written,
                    "rows_per_s": round(result.written / seconds, 1) if result.written else None,
                }
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
    return {"records": records, "batch_size": 5000, **timings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000, help="Changed contacts sent to HubSpot.")
    parser.add_argument("--limit", type=int, default=100, help="Requests allowed per window.")
    parser.add_argument(
        "--window",
        type=float,
        default=10.0,
        help="Window in seconds (HubSpot's is 10; shorter for a quick run).",
    )
    parser.add_argument("--pg-records", type=int, default=100_000, help="Rows upserted into PostgreSQL.")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = {
            "hubspot": bench_hubspot(args.records, args.limit, args.window, Path(tmp)),
            "sql_crm_postgresql": bench_postgres(args.pg_records, Path(tmp)),
        }
    text = json.dumps(results, indent=2)
    print(text)
    args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

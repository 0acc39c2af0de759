"""Identity benchmark: resolve generated person records with the saved model and report the figures.

Usage: ``.venv/bin/python bench/identity/run.py --records 100000 [--records 1000000]``. Prints time per
phase (predict, cluster, id assignment), peak memory, pairwise accuracy against the generated truth,
the incremental linking of 1 % new records (against the cached normalised records), how often it
agrees with a full reconcile, and id stability after a rerun, and writes
``bench/identity/results.json``.
"""

import argparse
import json
import random
import resource
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

import identity
from identity._ids import assign_customer_ids
from identity._model import load_model, score_pairs
from identity._normalise import normalise_records
from identity._steward import cluster_with_overrides, exclusive_values

FIRST = [
    "james",
    "mary",
    "john",
    "patricia",
    "robert",
    "jennifer",
    "michael",
    "linda",
    "david",
    "elizabeth",
    "william",
    "barbara",
    "richard",
    "susan",
    "joseph",
    "jessica",
    "thomas",
    "sarah",
    "charles",
    "karen",
    "wei",
    "yuki",
    "olga",
    "ahmed",
    "fatima",
    "lars",
    "ingrid",
    "pedro",
    "lucia",
    "kenji",
    "amara",
    "ravi",
]
LAST = [
    "smith",
    "johnson",
    "williams",
    "brown",
    "jones",
    "garcia",
    "miller",
    "davis",
    "rodriguez",
    "martinez",
    "hernandez",
    "lopez",
    "gonzalez",
    "wilson",
    "anderson",
    "thomas",
    "taylor",
    "moore",
    "jackson",
    "martin",
    "lee",
    "perez",
    "thompson",
    "white",
    "harris",
    "sanchez",
    "clark",
    "ramirez",
    "lewis",
    "robinson",
    "chen",
    "tanaka",
    "petrov",
    "haddad",
    "nilsson",
    "silva",
    "rossi",
    "kowalski",
    "okafor",
    "sharma",
]
SUFFIX = [
    "",
    "ez",
    "ski",
    "son",
    "ova",
    "er",
    "ley",
    "ton",
    "berg",
    "man",
    "stein",
    "ford",
    "wood",
    "field",
    "ridge",
]
SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
RESULTS = Path(__file__).with_name("results.json")


def _typo(rng: random.Random, text: str) -> str:
    i = rng.randrange(len(text) - 1)
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def _company_word(number: int) -> str:
    """A made-up company name per number, letters only, so normalisation keeps companies apart."""
    word = ""
    while True:
        number, rest = divmod(number, len(SYLLABLES))
        word += SYLLABLES[rest]
        if not number:
            return word


def generate(n_records: int, seed: int, start: int = 0) -> pd.DataFrame:
    """Generate about ``n_records`` person records (1-3 per person) with their true person id."""
    rng = random.Random(seed)
    rows, person = [], start
    while len(rows) < n_records:
        person += 1
        # Thousands of surnames, so name blocks stay realistic in size, yet many true look-alikes.
        first = rng.choice(FIRST)
        last = rng.choice(LAST) + rng.choice(SUFFIX) + rng.choice(["", "a", "o", "i", "e"])
        company = f"{_company_word(person // 4)} {rng.choice(['labs', 'logistics', 'health', 'systems'])}"
        work = f"{first}.{last}@{company.replace(' ', '')}.com"
        personal = f"{first[0]}{last}{person}@mail{rng.randrange(5)}.org"
        phone = f"+1{rng.randrange(201, 989)}{rng.randrange(200, 999)}{rng.randrange(1000, 9999)}"
        for k in range(rng.choice([1, 2, 2, 3])):
            f = _typo(rng, first) if rng.random() < 0.05 else first
            email = rng.choice([work, work, personal, None])
            rows.append(
                (
                    f"p{person}:{k}",
                    f"src{k}",
                    f"{person}-{k}",
                    f,
                    last,
                    None,
                    email,
                    phone if rng.random() < 0.5 else None,
                    company if rng.random() < 0.6 else None,
                    "US",
                    f"person{person}",
                )
            )
    frame = pd.DataFrame(
        rows,
        columns=[
            "record_id",
            "source",
            "source_record_id",
            "first_name",
            "last_name",
            "full_name",
            "email",
            "phone",
            "company_name",
            "country",
            "person_id",
        ],
    )
    return frame.astype("string")


def _pairs(a: pd.Series, b: pd.Series | None = None) -> int:
    counts = (pd.DataFrame({"a": a, "b": b}).value_counts() if b is not None else a.value_counts()).to_numpy()
    return int((counts * (counts - 1) // 2).sum())


def _accuracy(customer: pd.Series, person: pd.Series) -> dict:
    both = _pairs(customer.reset_index(drop=True), person.reset_index(drop=True))
    predicted, true = _pairs(customer), _pairs(person)
    return {"precision": both / predicted if predicted else 1.0, "recall": both / true if true else 1.0}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _agreement(
    incremental: pd.Series, reconciled: pd.Series, new_ids: pd.Series, clusters: pd.DataFrame
) -> float:
    """Share of new records placed alike: the same existing customer, or a new customer both times."""
    known = set(clusters["customer_id"])
    a, b = incremental[new_ids], reconciled[new_ids]
    same = (a.to_numpy() == b.to_numpy()) | (~a.isin(known).to_numpy() & ~b.isin(known).to_numpy())
    return same.mean()


def run(n_records: int, threshold: float) -> dict:
    """Resolve, then link 1 % held-back records incrementally and by a full rerun; return the figures.

    The held-back records are a random 1 % of the generated ones, so most belong to people already
    resolved (a new form fill, a new event) and some are new people, as in a daily load.
    """
    generated = generate(n_records, seed=42)
    held_back = generated.sample(frac=0.01, random_state=43)
    records = generated.drop(held_back.index).reset_index(drop=True)
    extra = held_back.reset_index(drop=True)
    model = load_model()
    t0 = time.perf_counter()
    normalised = normalise_records(records)
    with duckdb.connect() as con:
        links = score_pairs(con, normalised, model, threshold)
    t1 = time.perf_counter()
    keys, accepted = cluster_with_overrides(
        normalised["record_id"], links, [], exclusive_values(normalised), identity.DEFAULT_MAX_CLUSTER_SIZE
    )
    t2 = time.perf_counter()
    ids = assign_customer_ids(keys, None)
    t3 = time.perf_counter()
    clusters = records[["record_id", "source", "source_record_id"]].merge(ids[["record_id", "customer_id"]])
    clusters["cluster_size"] = clusters.groupby("customer_id")["record_id"].transform("size").astype("int32")
    clusters["match_probability"] = 1.0
    clusters["resolved_at"] = pd.Timestamp(datetime.now(UTC).replace(tzinfo=None))
    person = records.set_index("record_id")["person_id"]
    accuracy = _accuracy(clusters.set_index("record_id")["customer_id"], person[clusters["record_id"]])

    t4 = time.perf_counter()
    linked = identity.link_new_records(
        extra.drop(columns="person_id"), normalised, clusters, threshold=threshold, overrides=[]
    )
    t5 = time.perf_counter()
    rerun = identity.resolve(
        pd.concat([records, extra]).drop(columns="person_id"),
        previous=clusters,
        threshold=threshold,
        overrides=[],
    )
    kept = clusters.merge(
        rerun.clusters[["record_id", "customer_id"]], on="record_id", suffixes=("", "_rerun")
    )
    by_customer = (kept["customer_id_rerun"] == kept["customer_id"]).groupby(kept["customer_id"]).all()
    incremental = linked.clusters.set_index("record_id")["customer_id"]
    reconciled = rerun.clusters.set_index("record_id")["customer_id"]
    new_ids = extra["record_id"]
    known_people = extra["person_id"].isin(set(records["person_id"]))
    full = t3 - t0
    return {
        "records": len(records),
        "people": int(records["person_id"].nunique()),
        "customers": int(ids["customer_id"].nunique()),
        "links": len(accepted),
        "seconds": {
            "normalise_and_predict": round(t1 - t0, 2),
            "cluster": round(t2 - t1, 2),
            "id_assignment": round(t3 - t2, 2),
            "full": round(full, 2),
            "incremental_1pct": round(t5 - t4, 2),
        },
        "incremental_share_of_full": round((t5 - t4) / full, 3),
        "peak_memory_mb": round(_peak_mb(), 1),
        "pairwise_precision": round(accuracy["precision"], 5),
        "pairwise_recall": round(accuracy["recall"], 5),
        "incremental_new_records": len(extra),
        "incremental_new_records_of_known_people": int(known_people.sum()),
        "incremental_new_records_joining_existing": linked.stats["new_records_joining_existing_customers"],
        "incremental_agrees_with_full_reconcile": round(
            float(_agreement(incremental, reconciled, new_ids, clusters)), 5
        ),
        "stability_customers_keeping_id_after_rerun_with_1pct_new": round(float(by_customer.mean()), 5),
    }


def main() -> None:
    """Run the benchmark for each requested size and write the results file."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, action="append", help="record count (repeatable)")
    parser.add_argument("--threshold", type=float, default=identity.DEFAULT_THRESHOLD)
    args = parser.parse_args()
    results = {"machine": "2 cores shared", "threshold": args.threshold, "runs": []}
    for n in args.records or [100_000]:
        figures = run(n, args.threshold)
        print(json.dumps(figures, indent=2))
        results["runs"].append(figures)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

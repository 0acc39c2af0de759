"""Whole-pipeline benchmark: generate samples, run the pipeline on them, report every stage.

Usage: ``.venv/bin/python bench/pipeline/run.py --sizes 50000,200000 [--engine duckdb]`` (or
``make bench-pipeline SIZES=50000,200000``). Per size it generates the sample once (kept under
``bench/pipeline/.work/<size>``), then runs, each in a fresh process: the full run from an empty
warehouse and run history, then an unchanged rerun on that warehouse. Every phase reports wall
time, CPU time and peak RSS; the runs also report each Dagster step's wall time and rows out, read
from the run's own event log in ``DAGSTER_HOME`` (the figures a data engineer sees in the Dagster
UI), and the CPU seconds and peak RSS of the process and its children (dbt) while that step ran
(sampled every 0.2 s). Prints a table and writes ``bench/pipeline/results.json``. Not part of the
tests."""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
AS_OF = date(2026, 11, 1)
SEED = 42
ENGINES = ("duckdb",)
_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def _stat(pid: str) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def _tree_usage() -> tuple[float, int]:
    """CPU seconds and resident memory (KiB) of this process and its live descendants, from /proc.

    The dbt step runs dbt in a child process: its CPU and memory count while it runs, and through
    this process's reaped-children time once it has ended.
    """
    me = str(os.getpid())
    parent: dict[str, str] = {}
    stats: dict[str, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(entry.name)) is not None:
            parent[entry.name], stats[entry.name] = fields[1], fields
    tree = {me}
    grew = True
    while grew:
        before = len(tree)
        tree |= {pid for pid, ppid in parent.items() if ppid in tree}
        grew = len(tree) > before
    own = stats.get(me) or _stat(me) or ["0"] * 24
    ticks = int(own[13]) + int(own[14])
    ticks += sum(int(stats[pid][11]) + int(stats[pid][12]) for pid in tree if pid in stats)
    rss_pages = sum(int(stats[pid][21]) for pid in tree if pid in stats)
    return ticks / _TICKS, rss_pages * _PAGE_KB


class _Sampler(threading.Thread):
    """Samples this process's CPU time and RSS every ``interval`` seconds, with wall-clock times."""

    def __init__(self, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.samples: list[tuple[float, float, int]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.samples.append((time.time(), *_tree_usage()))
            self._halt.wait(self.interval)

    def stop(self) -> list[tuple[float, float, int]]:
        self._halt.set()
        self.join()
        self.samples.append((time.time(), *_tree_usage()))
        return self.samples


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux; children count for the dbt subprocess.
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) / 1024, 1)


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return round(own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime, 1)


def _step_figures(run_id: str, samples: list[tuple[float, float, int]]) -> list[dict]:
    """Per Dagster step: wall time from the run's event log, rows out, CPU and peak RSS while it ran."""
    import dagster as dg

    starts: dict[str, float] = {}
    ends: dict[str, float] = {}
    rows: dict[str, int] = {}
    status: dict[str, str] = {}
    with dg.DagsterInstance.get() as instance:
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            if event is None or event.step_key is None:
                continue
            kind = event.event_type_value
            if kind == "STEP_START":
                starts[event.step_key] = entry.timestamp
            elif kind in {"STEP_SUCCESS", "STEP_FAILURE"}:
                ends[event.step_key] = entry.timestamp
                status[event.step_key] = "ok" if kind == "STEP_SUCCESS" else "failed"
            elif kind == "ASSET_MATERIALIZATION":
                count = event.event_specific_data.materialization.metadata.get("dagster/row_count")
                if count is not None:
                    rows[event.step_key] = rows.get(event.step_key, 0) + int(count.value)
    figures = []
    for step, start in sorted(starts.items(), key=lambda item: item[1]):
        end = ends.get(step, start)
        inside = [s for s in samples if start <= s[0] <= end]
        before = max((s for s in samples if s[0] <= start), default=samples[0], key=lambda s: s[0])
        after = min((s for s in samples if s[0] >= end), default=samples[-1], key=lambda s: s[0])
        figures.append(
            {
                "step": step,
                "status": status.get(step, "did not finish"),
                "wall_s": round(end - start, 2),
                "cpu_s": round(after[1] - before[1], 2),
                "peak_rss_mb": round(max((s[2] for s in [*inside, after]), default=0) / 1024, 1),
                "rows_out": rows.get(step),
            }
        )
    return figures


def phase_sample(size: int, landing: Path) -> dict:
    """Generate the sample of ``size`` customers into ``landing``."""
    from connectors.sample import generate

    started = time.monotonic()
    manifest = generate(landing, customers=size, seed=SEED, as_of=AS_OF)
    return {
        "wall_s": round(time.monotonic() - started, 1),
        "files": len(manifest.generated_files),
        "source_rows": sum(manifest.generated_files.values()),
        "bytes": sum(p.stat().st_size for p in landing.rglob("*") if p.is_file()),
    }


def phase_run() -> dict:
    """Run the whole pipeline once in this process, with the environment the caller prepared."""
    from orchestration.runner import run_pipeline

    sampler = _Sampler()
    sampler.start()
    started = time.monotonic()
    result = run_pipeline()
    wall = time.monotonic() - started
    samples = sampler.stop()
    return {
        "success": result.success,
        "wall_s": round(wall, 1),
        "steps": _step_figures(result.run_id, samples),
    }


def _in_child(phase: str, env: dict[str, str], *args: str) -> dict:
    """Run one phase in a fresh Python process; its wall, CPU and peak RSS are its own."""
    out = subprocess.run(
        [sys.executable, str(Path(__file__)), "--phase", phase, *args],
        env={**os.environ, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        tail = "\n".join(out.stderr.strip().splitlines()[-15:])
        raise SystemExit(f"phase {phase} failed (exit {out.returncode}):\n{tail}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _child_main(phase: str, args: list[str]) -> None:
    figures = phase_sample(int(args[0]), Path(args[1])) if phase == "sample" else phase_run()
    figures.update(cpu_s=_cpu_seconds(), peak_rss_mb=_peak_rss_mb())
    print(json.dumps(figures, default=str))


def bench_size(size: int, engine: str, work: Path) -> dict:
    """Sample (cached), full run, unchanged rerun for one size; returns the figures."""
    base = work / str(size)
    landing = base / "landing"
    pristine_crm = base / "crm.pristine.sqlite"
    figures: dict = {"customers": size, "engine": engine}
    if not pristine_crm.exists():
        print(f"[{size:,}] generating the sample …", flush=True)
        figures["sample"] = _in_child("sample", {}, str(size), str(landing))
        shutil.copy(landing / "crm.sqlite", pristine_crm)
        (base / "sample.json").write_text(json.dumps(figures["sample"]))
    else:
        figures["sample"] = {**json.loads((base / "sample.json").read_text()), "cached": True}
    run_dir = base / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    (run_dir / "dagster_home").mkdir(parents=True)
    shutil.copy(REPO / "orchestration" / "dagster.yaml", run_dir / "dagster_home" / "dagster.yaml")
    crm = run_dir / "crm.sqlite"
    shutil.copy(pristine_crm, crm)
    env = {
        "CDP_WAREHOUSE_PATH": str(run_dir / "warehouse.duckdb"),
        "CDP_CRM_URL": f"sqlite:///{crm}",
        "CDP_LANDING_DIR": str(landing),
        "CDP_AS_OF_DATE": AS_OF.isoformat(),
        "DAGSTER_HOME": str(run_dir / "dagster_home"),
        "CDP_HUBSPOT_TOKEN": "",
    }
    for phase in ("full", "unchanged"):
        print(f"[{size:,}] {phase} run …", flush=True)
        figures[phase] = _in_child("run", env)
        print(
            f"[{size:,}] {phase}: {figures[phase]['wall_s']} s, peak {figures[phase]['peak_rss_mb']} MB",
            flush=True,
        )
    figures["warehouse_mb"] = round((run_dir / "warehouse.duckdb").stat().st_size / 2**20, 1)
    return figures


def _print_table(results: list[dict]) -> None:
    print(f"\n{'customers':>10} {'phase':<10} {'wall s':>8} {'cpu s':>8} {'peak MB':>8}")
    for r in results:
        for phase in ("sample", "full", "unchanged"):
            p = r[phase]
            print(
                f"{r['customers']:>10,} {phase:<10} {p['wall_s']:>8} {p.get('cpu_s', '-'):>8} "
                f"{p.get('peak_rss_mb', '-'):>8}"
            )
    for r in results:
        print(f"\nslowest steps of the full run at {r['customers']:,} customers:")
        for step in sorted(r["full"]["steps"], key=lambda s: -s["wall_s"])[:12]:
            print(
                f"  {step['step']:<55} {step['wall_s']:>7} s  cpu {step['cpu_s']:>7} s  "
                f"peak {step['peak_rss_mb']:>7} MB  rows {step['rows_out'] or '-'}"
            )


def main() -> None:
    """Parse the arguments, run every size, print the table and write the results file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50000", help="Comma-separated customer counts.")
    parser.add_argument("--engine", default="duckdb", choices=ENGINES, help="Warehouse engine.")
    parser.add_argument("--work", type=Path, default=HERE / ".work", help="Where samples and runs go.")
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.phase:
        _child_main(args.phase, rest)
        return
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    results = [bench_size(size, args.engine, args.work) for size in sizes]
    _print_table(results)
    args.out.write_text(
        json.dumps(
            {
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {"cores": os.cpu_count()},
                "as_of": AS_OF.isoformat(),
                "seed": SEED,
                "results": results,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()

"""``cdp run`` survives kill -9, SIGINT/SIGTERM and a second run at once; ``cdp sync run`` survives kill -9.

Each test drives real ``cdp`` processes against its own DAGSTER_HOME, warehouse, CRM and landing
folder (a copy of one 60-customer sample), sends signals by pid, and kills what it started.
"""

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing, suppress
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration import run_guard
from tests.e2e._environment import pipeline_environment

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
CDP = REPO / ".venv" / "bin" / "cdp"
AS_OF = "2026-11-01"
POOL = "duckdb_warehouse"
# Three CRM tables (their checks refer to each other), then the dbt step over two of them, which
# holds the pool slot for seconds: long enough to kill it in.
WITH_DBT = " or ".join(
    f"key:{key}"
    for key in (
        "raw_crm/contacts",
        "raw_crm/accounts",
        "raw_crm/users",
        "staging/stg_crm__contacts",
        "staging/stg_crm__accounts",
    )
)
# One quick warehouse step.
INGEST_ONLY = "key:raw_crm/users"
# A real Dagster run of another process that holds the pool slot until it is killed.
SLOT_HOLDER = """
import time
import dagster as dg

@dg.op(pool="duckdb_warehouse")
def hold():
    print("holding the slot", flush=True)
    time.sleep(300)

@dg.job
def slot_holder():
    hold()

with dg.DagsterInstance.get() as instance:
    slot_holder.execute_in_process(instance=instance)
"""


class Process:
    """A subprocess whose output a thread collects, so a test can wait for a line with a timeout."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            args, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.pid = self.proc.pid
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self._reader.join(timeout=2)
                if text in self.output:
                    return
                pytest.fail(f"never printed {text!r} (exit {self.proc.poll()}):\n{self.output[-3000:]}")
            time.sleep(0.05)

    def finish(self, timeout: float) -> int:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running after {timeout}s:\n{self.output[-3000:]}")
        self._reader.join(timeout=5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("recovery_sample") / "landing"
    done = subprocess.run(
        [CDP, "sample", "--customers", "60", "--out", out, "--as-of", AS_OF],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


@pytest.fixture
def make_env(sample, tmp_path):
    def make(name: str) -> dict[str, str]:
        root = tmp_path / name
        landing = root / "landing"
        shutil.copytree(sample, landing)
        # Settings of the developer's shell (a .env exported by make) must not reach these runs.
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("CDP_")}
        return {
            **inherited,
            **pipeline_environment(root, landing, landing / "crm.sqlite", AS_OF),
            "DAGSTER_DG_UPDATE_CHECK_ENABLED": "0",
        }

    return make


class Started:
    """The processes a test started (and pids it found), all killed by pid when the test ends."""

    def __init__(self) -> None:
        self.processes: list[Process] = []
        self.pids: list[int] = []

    def __call__(self, args: list, env: dict[str, str]) -> Process:
        process = Process([str(a) for a in args], env)
        self.processes.append(process)
        return process

    def also_kill(self, pid: int) -> None:
        self.pids.append(pid)

    def kill_all(self) -> None:
        for process in self.processes:
            # A test that failed half-way may have left a run with a dbt build under it.
            self.pids.extend(_children(process.pid))
            process.kill()
        for pid in self.pids:
            if _exists(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def started():
    processes = Started()
    yield processes
    processes.kill_all()


def _exists(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _exists(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with suppress(OSError):
            found.extend(int(child) for child in (task / "children").read_text().split())
    return found


def _dbt_child(parent: Process, timeout: float) -> int:
    """The pid of the ``dbt build`` the run started, once it runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in _children(parent.pid):
            with suppress(OSError):
                if b"dbt" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    return pid
        if parent.proc.poll() is not None:
            break
        time.sleep(0.05)
    pytest.fail(f"no dbt process started:\n{parent.output[-3000:]}")


def _wait_for_lock(env: dict[str, str], holder: Process, timeout: float) -> None:
    """Wait until ``holder`` holds the warehouse lock (its pid is in the lock file)."""
    lock = Path(env["CDP_WAREHOUSE_PATH"] + ".lock")
    deadline = time.monotonic() + timeout
    while not (lock.exists() and f"(pid {holder.pid} " in lock.read_text()):
        if holder.proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"never took the warehouse lock:\n{holder.output[-3000:]}")
        time.sleep(0.05)


def _instance(env: dict[str, str]) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(env["DAGSTER_HOME"])


def _slots(env: dict[str, str]) -> tuple[set[str], set[str]]:
    """Run ids holding, and run ids waiting for, a slot of the warehouse pool."""
    with _instance(env) as instance:
        info = instance.event_log_storage.get_concurrency_info(POOL)
    return {s.run_id for s in info.claimed_slots}, {p.run_id for p in info.pending_steps}


def _run_ids(env: dict[str, str], job_name: str = "cdp_selection") -> list[str]:
    """The job's runs in DAGSTER_HOME, newest first."""
    with _instance(env) as instance:
        return [r.run_id for r in instance.get_runs() if r.job_name == job_name]


def _status(env: dict[str, str], run_id: str) -> tuple[dg.DagsterRunStatus, dict[str, str]]:
    with _instance(env) as instance:
        run = instance.get_run_by_id(run_id)
    return run.status, dict(run.tags)


def _flat(text: str) -> str:
    """The output with the console's line wrapping undone."""
    return " ".join(text.split())


def _last_line(process: Process) -> str:
    return [line for line in process.output.splitlines() if line.strip()][-1]


def _no_traceback(output: str) -> None:
    assert "Traceback" not in output, output[-3000:]
    assert "Stack Trace" not in output, output[-3000:]


def _fingerprint(warehouse: str, schemas: tuple[str, ...]) -> dict[str, tuple[int, str]]:
    """Per table or view: its row count and a digest of its rows (load times and run ids left out)."""
    volatile = ("_loaded_at", "run_id", "quarantined_at")
    tables = {}
    with duckdb.connect(warehouse, read_only=True) as con:
        columns = con.execute(
            "SELECT table_schema, table_name, list(column_name ORDER BY ordinal_position) "
            "FROM information_schema.columns WHERE table_schema IN (SELECT unnest(?)) "
            "AND column_name NOT IN (SELECT unnest(?)) GROUP BY ALL ORDER BY 1, 2",
            [list(schemas), list(volatile)],
        ).fetchall()
        for schema, table, names in columns:
            listed = ", ".join(f'"{c}"' for c in names)
            tables[f"{schema}.{table}"] = con.execute(
                "SELECT count(*), md5(coalesce(string_agg(h, ',' ORDER BY h), '')) "
                f'FROM (SELECT md5(CAST(row({listed}) AS VARCHAR)) AS h FROM "{schema}"."{table}")'
            ).fetchone()
    return tables


def test_a_killed_run_is_recovered_and_its_rerun_matches_a_clean_run(make_env, started):
    clean_env, env = make_env("clean"), make_env("killed")
    clean = started([CDP, "run", "--select", WITH_DBT], clean_env)

    first = started([CDP, "run", "--select", WITH_DBT], env)
    _wait_for_lock(env, first, timeout=60)
    second = started([CDP, "run", "--select", WITH_DBT], env)
    dbt = _dbt_child(first, timeout=90)
    started.also_kill(dbt)
    # Stopped, the dbt build outlives its parent however fast this machine is, as a slow one would.
    os.kill(dbt, signal.SIGSTOP)

    assert second.finish(timeout=60) == run_guard.BUSY_EXIT_CODE, second.output
    assert f"is in use by cdp run (pid {first.pid} on" in _flat(second.output)
    _no_traceback(second.output)

    first.kill()
    [killed_id] = _run_ids(env)
    assert _slots(env) == ({killed_id}, {killed_id}), "the killed run should still hold its slot"
    assert _status(env, killed_id)[0] == dg.DagsterRunStatus.STARTED

    rerun = started([CDP, "run", "--select", WITH_DBT], env)
    assert rerun.finish(timeout=120) == 0, rerun.output[-3000:]
    assert (
        f"run {killed_id} (started " in rerun.output
        and f"by pid {first.pid} on {socket.gethostname()}) is no longer alive: stopped its leftover "
        f"process(es) {dbt}, marked it failed and freed its slots in pool {POOL}"
        in rerun.output
    ), rerun.output[-3000:]
    assert "pipeline succeeded" in rerun.output
    assert not _exists(dbt), "the killed run's dbt build should have been stopped"
    assert _status(env, killed_id)[0] == dg.DagsterRunStatus.FAILURE
    assert _slots(env) == (set(), set())
    assert list((Path(env["DAGSTER_HOME"]) / run_guard.LIVE_RUNS_DIR).iterdir()) == []

    assert clean.finish(timeout=120) == 0, clean.output[-3000:]
    schemas = ("raw_crm", "staging", "quarantine")
    expected = _fingerprint(clean_env["CDP_WAREHOUSE_PATH"], schemas)
    assert {"raw_crm.contacts", "raw_crm.accounts", "staging.stg_crm__contacts"} <= expected.keys()
    assert expected["raw_crm.contacts"][0] > 0
    assert _fingerprint(env["CDP_WAREHOUSE_PATH"], schemas) == expected


def test_signals_stop_a_waiting_or_a_working_run_and_a_dead_slot_holder_is_freed(make_env, started):
    env = make_env("signals")
    holder = started([sys.executable, "-c", SLOT_HOLDER], env)
    holder.wait_for("holding the slot", timeout=60)
    [holder_id] = _run_ids(env, "slot_holder")

    # SIGINT while the run waits for the slot that a live run holds.
    waiting = started([CDP, "run", "--select", INGEST_ONLY], env)
    waiting.wait_for("Step blocked by limit for pool duckdb_warehouse", timeout=60)
    assert (
        f"run {holder_id} (started " in waiting.output
        and f"by pid {holder.pid}, still running) holds or waits for slots in pool {POOL}; "
        "this run waits for them"
        in waiting.output
    )
    os.kill(waiting.pid, signal.SIGINT)
    assert waiting.finish(timeout=30) == 128 + signal.SIGINT
    [waiting_id] = _run_ids(env)
    assert (
        _last_line(waiting)
        == f"cdp run stopped by SIGINT: run {waiting_id[:8]} ended as FAILURE, pool slots freed"
    )
    _no_traceback(waiting.output)
    status, tags = _status(env, waiting_id)
    assert (status, tags[run_guard.STOPPED_BY_TAG]) == (dg.DagsterRunStatus.FAILURE, "SIGINT")
    # The live holder keeps its slot; the stopped run no longer waits for it.
    assert _slots(env) == ({holder_id}, {holder_id})

    # Killed, the holder is what wedged every later run before: a run without a liveness lock.
    holder.kill()
    working = started([CDP, "run", "--select", WITH_DBT], env)
    dbt = _dbt_child(working, timeout=90)
    started.also_kill(dbt)
    assert (
        f"run {holder_id} (started " in working.output
        and f"by pid {holder.pid}) is no longer alive: marked it failed and freed its slots in pool {POOL}"
        in working.output
    ), working.output[-3000:]
    assert _status(env, holder_id)[0] == dg.DagsterRunStatus.FAILURE

    # SIGTERM while a step works: dbt is stopped with the run.
    os.kill(working.pid, signal.SIGTERM)
    assert working.finish(timeout=60) == 128 + signal.SIGTERM
    working_id = _run_ids(env)[0]
    assert (
        _last_line(working)
        == f"cdp run stopped by SIGTERM: run {working_id[:8]} ended as FAILURE, pool slots freed"
    )
    _no_traceback(working.output)
    status, tags = _status(env, working_id)
    assert (status, tags[run_guard.STOPPED_BY_TAG]) == (dg.DagsterRunStatus.FAILURE, "SIGTERM")
    assert _slots(env) == (set(), set())
    assert _wait_gone(dbt, timeout=10), "the dbt build should stop with its run"
    assert list((Path(env["DAGSTER_HOME"]) / run_guard.LIVE_RUNS_DIR).iterdir()) == []


def test_the_warehouse_lock_names_its_holder_and_dies_with_it(tmp_path, started):
    warehouse = tmp_path / "warehouse.duckdb"
    hold = (
        "import sys, time; from pathlib import Path; from orchestration import run_guard\n"
        "with run_guard.warehouse_lock(Path(sys.argv[1]), holder='cdp sync run'):\n"
        "    print('locked', flush=True); time.sleep(300)\n"
    )
    holder = started([sys.executable, "-c", hold, warehouse], dict(os.environ))
    holder.wait_for("locked", timeout=60)
    busy = rf"in use by cdp sync run \(pid {holder.pid} on "
    with pytest.raises(run_guard.WarehouseBusy, match=busy), run_guard.warehouse_lock(warehouse):
        pytest.fail("the lock should be refused while another process holds it")
    holder.kill()
    with run_guard.warehouse_lock(warehouse):
        assert f"cdp run (pid {os.getpid()} on" in (tmp_path / "warehouse.duckdb.lock").read_text()


def test_a_pid_reused_by_a_newer_process_does_not_keep_a_dead_run_alive():
    created_now = time.time()
    # This process started before a run created now, so it could be that run's process...
    assert run_guard._pid_alive(os.getpid(), created_now)
    # ...but not the process of a run created before it started: that pid was reused.
    assert not run_guard._pid_alive(os.getpid(), created_now - 365 * 24 * 3600)


def test_a_sync_killed_mid_way_leaves_the_crm_complete_after_a_rerun(make_env, started):
    env = make_env("sync")
    contacts = 20_000
    with duckdb.connect(env["CDP_WAREHOUSE_PATH"]) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute(
            "CREATE TABLE marts.crm_contact_scores AS SELECT i AS crm_contact_id, "
            "'cust-' || i AS customer_id, (i % 97)::DOUBLE AS health_score, "
            "['healthy', 'watch', 'at_risk'][i % 3 + 1] AS health_tier, 'reason ' || (i % 7) AS health_top_reason "
            f"FROM range(1, {contacts} + 1) AS t(i)"
        )
    crm = Path(env["CDP_LANDING_DIR"]) / "crm.sqlite"

    def crm_rows() -> int:
        with closing(sqlite3.connect(f"file:{crm}?mode=ro", uri=True, timeout=5)) as con:
            found = con.execute(
                "SELECT count(*) FROM sqlite_master WHERE name = 'cdp_contact_fields'"
            ).fetchone()[0]
            return con.execute("SELECT count(*) FROM cdp_contact_fields").fetchone()[0] if found else 0

    first = started([CDP, "sync", "run"], env)
    deadline = time.monotonic() + 60
    while crm_rows() == 0 and first.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    first.kill()
    written = crm_rows()
    assert 0 < written < contacts, f"the kill should land mid-way, not at {written} of {contacts} rows"
    with duckdb.connect(env["CDP_WAREHOUSE_PATH"], read_only=True) as con:
        confirmed = con.execute("SELECT count(*) FROM sync.sync_state").fetchone()[0]
    assert confirmed <= written < contacts

    rerun = started([CDP, "sync", "run"], env)
    assert rerun.finish(timeout=60) == 0, rerun.output[-3000:]
    with closing(sqlite3.connect(crm)) as con:
        rows = con.execute(
            "SELECT contact_id, customer_id, health_score, health_tier, health_top_reason FROM cdp_contact_fields"
        ).fetchall()
    with duckdb.connect(env["CDP_WAREHOUSE_PATH"], read_only=True) as con:
        feed = con.execute("SELECT * FROM marts.crm_contact_scores").fetchall()
        state = con.execute("SELECT count(*), count(DISTINCT record_key) FROM sync.sync_state").fetchone()
        runs = con.execute(
            "SELECT considered, unchanged, inserted + updated, failed FROM sync.sync_runs"
        ).fetchall()
    assert len(rows) == contacts
    assert sorted(rows) == sorted(feed)
    assert state == (contacts, contacts)
    # The killed run recorded no summary; the rerun skipped exactly what was confirmed and sent the rest.
    assert runs == [(contacts, confirmed, contacts - confirmed, 0)]

"""The file manifest: which landing files a source was loaded from, so unchanged files are not read again.

Per source the warehouse keeps ``pipeline.file_manifest``: one row per file of the last load
(``source_schema, source_table, source_file, size_bytes, modified_ns, sha256, run_id,
loaded_at``). A file whose size and modification time are unchanged is taken as unchanged without
reading it; otherwise its content hash decides. The load plan is then:

- ``unchanged``: the same files with the same content: nothing is read;
- ``append``: every loaded file unchanged, plus new files (a new daily drop): only the new files
  are read, and their rows are checked against the rows already loaded;
- ``full``: a file changed or disappeared, or the first load: every file is read again.
"""

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import pandas as pd

from connectors import warehouse
from connectors.files import FileSource, LoadResult, duplicate_key_reject

MANIFEST_TYPES = {
    "source_schema": "string",
    "source_table": "string",
    "source_file": "string",
    "size_bytes": "Int64",
    "modified_ns": "Int64",
    "sha256": "string",
    "run_id": "string",
    "loaded_at": "datetime64[us]",
}
_SCHEMA = "pipeline"
_TABLE = "file_manifest"


@dataclass(frozen=True)
class FileEntry:
    """One landing file as the manifest knows it."""

    source_file: str
    size_bytes: int
    modified_ns: int
    sha256: str


@dataclass(frozen=True)
class LoadPlan:
    """What a load has to read.

    Attributes:
        mode: ``unchanged``, ``append`` or ``full``.
        files: The source's files now, in the manifest's layout.
        to_read: Files to read (all for ``full``, the new ones for ``append``, none for ``unchanged``).
        reason: Why this mode, for the log.
    """

    mode: str
    files: tuple[FileEntry, ...]
    to_read: tuple[str, ...]
    reason: str


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def scan(src: FileSource, landing_dir: Path, known: dict[str, FileEntry]) -> tuple[FileEntry, ...]:
    """List a source's files with size, modification time and content hash.

    A file with the size and modification time the manifest has keeps its known hash unread.

    Args:
        src: The file source.
        landing_dir: The landing folder.
        known: The manifest of the last load, by file.

    Returns:
        One entry per file matching the source's pattern, in name order.
    """
    entries = []
    for path in sorted(landing_dir.glob(src.pattern)):
        relative = path.relative_to(landing_dir).as_posix()
        stat = path.stat()
        previous = known.get(relative)
        if previous is not None and (previous.size_bytes, previous.modified_ns) == (
            stat.st_size,
            stat.st_mtime_ns,
        ):
            digest = previous.sha256
        else:
            digest = _sha256(path)
        entries.append(FileEntry(relative, stat.st_size, stat.st_mtime_ns, digest))
    return tuple(entries)


def plan_load(files: tuple[FileEntry, ...], known: dict[str, FileEntry], reusable: bool) -> LoadPlan:
    """Decide what to read.

    Args:
        files: The source's files now (``scan``).
        known: The manifest of the last load.
        reusable: Whether the last load's rows still stand: same rules, limits and steward releases,
            and the raw table is there. When False every file is read.

    Returns:
        The plan.
    """
    everything = tuple(f.source_file for f in files)
    if not known or not reusable:
        return LoadPlan("full", files, everything, "first load" if not known else "rules or releases changed")
    now = {f.source_file: f for f in files}
    changed = sorted(
        name for name, entry in known.items() if name not in now or now[name].sha256 != entry.sha256
    )
    if changed:
        return LoadPlan(
            "full", files, everything, f"{len(changed)} loaded file(s) changed or gone: {changed[:3]}"
        )
    new = tuple(name for name in everything if name not in known)
    if new:
        return LoadPlan("append", files, new, f"{len(new)} new file(s)")
    return LoadPlan("unchanged", files, (), "no file changed")


def read_manifest(con: duckdb.DuckDBPyConnection, src: FileSource) -> dict[str, FileEntry]:
    """Return the manifest of a source's last load.

    Args:
        con: Open warehouse connection.
        src: The file source.

    Returns:
        Entries by file; empty before the first load.
    """
    if not warehouse.table_exists(con, _SCHEMA, _TABLE):
        return {}
    rows = con.execute(
        f"SELECT source_file, size_bytes, modified_ns, sha256 FROM {_SCHEMA}.{_TABLE} "
        "WHERE source_schema = ? AND source_table = ?",
        [src.schema, src.table],
    ).fetchall()
    return {r[0]: FileEntry(*r) for r in rows}


def write_manifest(
    con: duckdb.DuckDBPyConnection, src: FileSource, files: tuple[FileEntry, ...], run_id: str
) -> None:
    """Replace a source's manifest with the files just loaded.

    Args:
        con: Open warehouse connection.
        src: The file source.
        files: Every file of the source now.
        run_id: The pipeline run.
    """
    frame = pd.DataFrame([asdict(f) for f in files]).reindex(columns=list(MANIFEST_TYPES))
    frame["source_schema"] = src.schema
    frame["source_table"] = src.table
    frame["run_id"] = run_id
    frame["loaded_at"] = pd.Timestamp.now("UTC").tz_localize(None).floor("us")
    con.register("_manifest", frame.astype(MANIFEST_TYPES))
    try:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {_SCHEMA}")
        con.execute(f"CREATE TABLE IF NOT EXISTS {_SCHEMA}.{_TABLE} AS SELECT * FROM _manifest LIMIT 0")
        con.execute(
            f"DELETE FROM {_SCHEMA}.{_TABLE} WHERE source_schema = ? AND source_table = ?",
            [src.schema, src.table],
        )
        con.execute(f"INSERT INTO {_SCHEMA}.{_TABLE} SELECT * FROM _manifest")
    finally:
        con.unregister("_manifest")


def drop_loaded_repeats(
    con: duckdb.DuckDBPyConnection, src: FileSource, result: LoadResult, run_id: str
) -> LoadResult:
    """Check rows read from new files against the rows already in the raw table.

    The same rule as within one load (``FileSource.dedupe_key``): a row repeating a loaded one is
    a re-delivery (dropped, counted per file); a different row with a loaded key is quarantined as
    ``duplicate_key``, naming where the loaded one came from.

    Args:
        con: Open warehouse connection.
        src: The file source (its raw table exists).
        result: What ``read_source`` read from the new files.
        run_id: The pipeline run, written into quarantine rows.

    Returns:
        The result with re-deliveries dropped and conflicts quarantined.
    """
    if result.rows.empty:
        return result
    keys = list(src.dedupe_key or tuple(src.columns))
    join = " AND ".join(f'n."{c}" IS NOT DISTINCT FROM o."{c}"' for c in keys)
    same = " AND ".join(f'n."{c}" IS NOT DISTINCT FROM o."{c}"' for c in src.columns)
    raw = warehouse.qualified(src.schema, src.table)
    con.register("_new_rows", result.rows.reset_index(drop=True).assign(new_row=lambda f: range(len(f))))
    try:
        matches = con.execute(
            f"""
            SELECT n.new_row, bool_or({"true" if src.replays_by_key else same}) AS replay,
                   min(o._source_file) AS first_file, min(o._source_line) AS first_line
            FROM _new_rows n JOIN {raw} o ON {join}
            GROUP BY n.new_row
            """
        ).df()
    finally:
        con.unregister("_new_rows")
    if matches.empty:
        return result
    rows = result.rows.reset_index(drop=True)
    replays = matches[matches["replay"]]
    conflicts = matches[~matches["replay"]]
    dropped = rows.loc[replays["new_row"], "_source_file"].value_counts().to_dict()
    rejects = [
        duplicate_key_reject(
            rows.at[r.new_row, "_source_file"],
            int(rows.at[r.new_row, "_source_line"]),
            keys,
            [rows.at[r.new_row, c] for c in keys],
            (r.first_file, r.first_line),
        )
        for r in conflicts.itertuples()
    ]
    kept = rows.drop(index=matches["new_row"]).reset_index(drop=True)
    rejected = pd.DataFrame(rejects)
    if not rejected.empty:
        rejected["run_id"] = run_id
        rejected["quarantined_at"] = rows["_loaded_at"].iloc[0]
    stats = [
        {
            **stat,
            "rows_loaded": int((kept["_source_file"] == stat["source_file"]).sum()),
            "rows_quarantined": stat["rows_quarantined"]
            + sum(1 for r in rejects if r["source_file"] == stat["source_file"]),
            "duplicates_dropped": stat["duplicates_dropped"] + int(dropped.get(stat["source_file"], 0)),
        }
        for stat in result.file_stats
    ]
    return LoadResult(
        rows=kept,
        rejects=pd.concat([result.rejects, rejected], ignore_index=True) if rejects else result.rejects,
        files=result.files,
        unexpected_columns=result.unexpected_columns,
        drift=result.drift,
        releases_applied=result.releases_applied,
        file_stats=stats,
    )

"""Export a built folder as JSON lines for fine-tuning tools (see docs/export.md).

    alpaca             {"instruction": inputs, "input": "", "output": targets[, "system": S]}
    sharegpt           {"conversations": [[{"from": "system", "value": S},]
                                          {"from": "human", "value": inputs}, {"from": "gpt", "value": targets}]}
    messages           {"messages": [[{"role": "system", "content": S},]
                                     {"role": "user", "content": inputs}, {"role": "assistant", "content": targets}]}
    prompt-completion  {"prompt": inputs, "completion": targets}
    jsonl              the records as they are, every column

``S`` is the optional system prompt of the export (``--system``). Tasks without records are
skipped: no file, not counted.

Reads the shards the manifest lists, batch by batch, so memory stays flat however large the
corpus; writes one file (or one per task) through a temporary file that replaces the target only
when complete.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..build import MANIFEST
from ..build.writer import disk_full_error
from ..errors import BuildError

FORMATS = ("alpaca", "sharegpt", "messages", "prompt-completion", "jsonl")
WITH_SYSTEM = ("alpaca", "sharegpt", "messages")     # the layouts with a place for a system prompt
BATCH_ROWS = 10_000


def alpaca(record: dict, system: str | None = None) -> dict:
    line = {"instruction": record["inputs"], "input": "", "output": record["targets"]}
    if system is not None:
        line["system"] = system
    return line


def sharegpt(record: dict, system: str | None = None) -> dict:
    turns = [] if system is None else [{"from": "system", "value": system}]
    return {"conversations": turns + [{"from": "human", "value": record["inputs"]},
                                      {"from": "gpt", "value": record["targets"]}]}


def messages(record: dict, system: str | None = None) -> dict:
    """OpenAI roles, the conversational layout trl's SFTTrainer and most chat templates take."""
    turns = [] if system is None else [{"role": "system", "content": system}]
    return {"messages": turns + [{"role": "user", "content": record["inputs"]},
                                 {"role": "assistant", "content": record["targets"]}]}


def prompt_completion(record: dict, system: str | None = None) -> dict:
    return {"prompt": record["inputs"], "completion": record["targets"]}


def as_is(record: dict, system: str | None = None) -> dict:
    return record


CONVERTERS: dict[str, tuple[Callable[[dict, str | None], dict], list[str] | None]] = {
    "alpaca": (alpaca, ["inputs", "targets"]),
    "sharegpt": (sharegpt, ["inputs", "targets"]),
    "messages": (messages, ["inputs", "targets"]),
    "prompt-completion": (prompt_completion, ["inputs", "targets"]),
    "jsonl": (as_is, None),                       # None: every column
}


@dataclass
class ExportResult:
    files: list[Path] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)     # per task with records
    skipped: list[str] = field(default_factory=list)       # tasks without records

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def default_output(folder: Path, fmt: str, per_task: bool) -> Path:
    """``<folder>-<fmt>.jsonl`` beside the folder, or the folder ``<folder>-<fmt>/`` per task."""
    folder = Path(folder).resolve()
    return folder.parent / (f"{folder.name}-{fmt}" if per_task else f"{folder.name}-{fmt}.jsonl")


def _read_manifest(folder: Path) -> dict:
    """The folder's manifest, checked for what export relies on: every task's shards a list of
    paths inside the folder and its row count a count."""
    path = folder / MANIFEST
    if not path.is_file():
        raise BuildError(f"{folder}: no {MANIFEST}; is it a folder flanzh built?")
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except json.JSONDecodeError as exc:
        raise BuildError(f"{path}: is not valid JSON (line {exc.lineno}, column {exc.colno}); "
                         "rebuild the folder") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BuildError(f"{path}: cannot be read ({exc}); rebuild the folder") from None

    def invalid(why: str) -> BuildError:
        return BuildError(f"{path}: is not a flanzh manifest ({why}); rebuild the folder")

    if not isinstance(manifest, dict) or not isinstance(manifest.get("tasks"), dict):
        raise invalid("no 'tasks' table")
    for task_id, entry in manifest["tasks"].items():
        where = f"$.tasks.{task_id}"
        if not isinstance(entry, dict):
            raise invalid(f"{where} is not a table")
        shards = entry.get("shards")
        if not isinstance(shards, list) or not all(isinstance(s, str) for s in shards):
            raise invalid(f"{where}.shards is not a list of paths")
        for shard in shards:
            if Path(shard).is_absolute() or ".." in Path(shard).parts:
                raise invalid(f"{where}.shards names '{shard}', outside the folder")
        rows = entry.get("rows_written")
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
            raise invalid(f"{where}.rows_written is not a count")
    return manifest


def iter_records(folder: Path, shards: list[str], columns: list[str] | None,
                 batch_rows: int = BATCH_ROWS) -> Iterator[dict]:
    """The records of ``shards``, batch by batch; a missing or unreadable shard is a BuildError
    naming it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for shard in shards:
        path = folder / shard
        if not path.exists():
            raise BuildError(f"{path}: is listed in {MANIFEST} but missing; rebuild the folder")
        if not path.is_file():
            raise BuildError(f"{path}: is listed in {MANIFEST} but is not a file; rebuild the "
                             "folder")
        try:
            batches = iter(pq.ParquetFile(path).iter_batches(batch_size=batch_rows,
                                                              columns=columns))
            while True:
                try:
                    batch = next(batches)
                except StopIteration:
                    break
                rows = batch.to_pylist()
                yield from rows
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise BuildError(f"{path}: is not a readable parquet file ({' '.join(str(exc).split())}"
                             "); rebuild the folder") from None


class _AtomicLines:
    """Write lines to ``path`` through ``.<name>.tmp``, renamed over ``path`` on close."""

    def __init__(self, path: Path):
        self.path = path
        self.tmp = path.parent / f".{path.name}.tmp-{os.getpid()}"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.tmp, "w", encoding="utf-8", newline="\n")

    def write(self, obj: dict) -> None:
        self.handle.write(json.dumps(obj, ensure_ascii=False) + "\n")

    def commit(self) -> None:
        self.handle.close()
        os.replace(self.tmp, self.path)

    def discard(self) -> None:
        self.handle.close()
        self.tmp.unlink(missing_ok=True)


def _inside(path: Path, folder: Path) -> bool:
    path, folder = path.resolve(), folder.resolve()
    return path == folder or path.is_relative_to(folder)


def export(folder: Path, fmt: str, out: Path | None = None, *, per_task: bool = False,
           tasks: list[str] | None = None, batch_rows: int = BATCH_ROWS,
           system: str | None = None) -> ExportResult:
    """Write the records of ``folder`` (every task, or ``tasks``) in ``fmt`` to ``out`` (a file;
    a folder of ``<task>.jsonl`` with ``per_task``), with ``system`` as every record's system
    prompt. Tasks without records are skipped. Checks each task's row count against the
    manifest."""
    if fmt not in CONVERTERS:
        raise BuildError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if system is not None and fmt not in WITH_SYSTEM:
        raise BuildError(f"--system: the {fmt} layout has no place for a system prompt; use "
                         f"{', '.join(WITH_SYSTEM)}")
    folder = Path(folder)
    if out is not None and _inside(Path(out), folder):
        raise BuildError(f"{out} is inside the built folder {folder}; write the export "
                         "elsewhere (by default it goes beside the folder)")
    manifest = _read_manifest(folder)
    known = sorted(manifest["tasks"])
    chosen = tasks or known
    unknown = [t for t in chosen if t not in manifest["tasks"]]
    if unknown:
        raise BuildError(f"{folder}: no task {', '.join(unknown)} in {MANIFEST}; it has: "
                         f"{', '.join(known)}")
    convert, columns = CONVERTERS[fmt]
    out = Path(out) if out is not None else default_output(folder, fmt, per_task)
    if per_task and out.exists() and not out.is_dir():
        raise BuildError(f"{out} exists and is not a folder; --per-task writes a folder")
    if not per_task and out.is_dir():
        raise BuildError(f"{out} is a folder; give a file name, or use --per-task")
    result = ExportResult()
    writer = None if per_task else _AtomicLines(out)
    try:
        for task_id in chosen:
            entry = manifest["tasks"][task_id]
            if not entry["rows_written"]:       # no 0-byte file: datasets fails on one
                result.skipped.append(task_id)
                continue
            task_writer = _AtomicLines(out / f"{task_id}.jsonl") if per_task else writer
            try:
                rows = 0
                for record in iter_records(folder, entry["shards"], columns, batch_rows):
                    task_writer.write(convert(record, system))
                    rows += 1
                if rows != entry["rows_written"]:
                    raise BuildError(f"{folder}: {task_id} has {rows} records in its shards but "
                                     f"{MANIFEST} says {entry['rows_written']}; rebuild it")
            except BaseException:
                if per_task:
                    task_writer.discard()
                raise
            if per_task:
                task_writer.commit()
                result.files.append(task_writer.path)
            result.rows[task_id] = rows
        if writer is not None:
            writer.commit()
            result.files.append(out)
    except BaseException as exc:
        if writer is not None:
            writer.discard()
        full = (disk_full_error(exc, out.parent, elsewhere="export to another --out")
                if isinstance(exc, OSError) else None)
        if full is not None:
            raise full from exc
        raise
    return result

"""Write a built corpus in the hub layout, atomically: everything goes into a temporary sibling
folder, which replaces the output folder only once complete."""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections import Counter
from pathlib import Path

from . import MANIFEST
from .card import render_card
from .unit import TaskResult
from ..errors import BuildError

DEFAULT_SHARD_ROWS = 200_000
PARQUET_OPTIONS = {"compression": "zstd", "compression_level": 3, "statistics": False}


ROW_GROUP_ROWS = 65_536     # a row group's text stays far below arrow `string`'s 2 GiB per array
# in cache keys: parts cached in another layout are redone
RECORDS_LAYOUT = "parquet/arrow-string/dictionary-few"


def _plain_text(dtype):
    """Arrow ``string`` for polars' ``large_string`` (and lists of it)."""
    import pyarrow as pa

    if pa.types.is_large_string(dtype) or pa.types.is_string_view(dtype):
        return pa.string()
    if pa.types.is_large_list(dtype) or pa.types.is_list(dtype):
        return pa.list_(_plain_text(dtype.value_type))
    return dtype


# Dictionary encoding for the columns of few distinct values only: arrow tries it on every column
# by default and gives up on the texts and ids after a page, which cost 7% of the write and left
# the files 4% larger (500k tnews records: 0.44 -> 0.41 s, 24.9 -> 24.0 MB). (Parquet never
# dictionary-encodes booleans.)
DICTIONARY_COLUMNS = ["task", "category", "source", "template_id", "format", "exemplars",
                      "source_split", "license"]
PARQUET_WRITER = {"compression": "zstd", "compression_level": 3, "write_statistics": False,
                  "use_dictionary": DICTIONARY_COLUMNS}


def _plain_table(frame):
    """A frame of records as an arrow table whose text columns are arrow ``string``."""
    import pyarrow as pa

    # one chunk a row group: the file's bytes then depend on the records, not on how the
    # batches that made them were cut (parquet's encoder fallbacks follow the chunks it is fed)
    table = frame.rechunk().to_arrow()
    schema = pa.schema([field.with_type(_plain_text(field.type)) for field in table.schema])
    batches = [batch.cast(schema) for batch in table.to_batches(max_chunksize=ROW_GROUP_ROWS)]
    return pa.Table.from_batches(batches, schema=schema)


def write_records(frame, path: Path) -> None:
    """Write a frame of records as a zstd parquet file whose text columns are arrow ``string``,
    not the ``large_string`` polars writes: ``datasets`` then reads them as ``Value('string')``,
    so ``concatenate_datasets``/``interleave_datasets`` take them with any ordinary dataset."""
    import pyarrow.parquet as pq

    pq.write_table(_plain_table(frame), path, row_group_size=ROW_GROUP_ROWS, **PARQUET_WRITER)


class RecordsFile:
    """One file of records written a row group at a time: the same bytes as write_records gives
    for all of them at once, when every row group but the last has ROW_GROUP_ROWS rows."""

    def __init__(self, path: Path):
        self.path, self._writer = path, None

    def write(self, frame) -> None:
        import pyarrow.parquet as pq

        table = _plain_table(frame)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, table.schema, **PARQUET_WRITER)
        self._writer.write_table(table, row_group_size=ROW_GROUP_ROWS)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def shard_names(rows: int, shard_rows: int) -> list[str]:
    count = max(1, -(-rows // shard_rows))
    return [f"train-{i:05d}-of-{count:05d}.parquet" for i in range(count)]


def output_target(out: Path) -> Path:
    """Where ``--out`` really is: a symlink is followed, so the build replaces the folder it points
    to (the link stays as it is) and stages beside that folder, on the same filesystem."""
    out = Path(out)
    return out.resolve() if out.is_symlink() else out


def _unexpected_files(out: Path, manifest: dict) -> list[str]:
    """Files and folders in ``out`` that the manifest does not account for (topmost only)."""
    expected = {MANIFEST, "README.md"}
    if isinstance(manifest.get("rejects_file"), str):
        expected.add(manifest["rejects_file"])
    expected.update(f for f in manifest.get("report") or [] if isinstance(f, str))
    for task in (manifest.get("tasks") or {}).values():
        if isinstance(task, dict):
            expected.update(s for s in task.get("shards") or [] if isinstance(s, str))
    folders = {parent.as_posix() for name in expected for parent in Path(name).parents} - {"."}
    found = []

    def walk(folder: Path) -> None:
        for entry in sorted(folder.iterdir()):
            name = entry.relative_to(out).as_posix()
            if entry.is_dir() and not entry.is_symlink() and name in folders:
                walk(entry)
            elif not (entry.is_file() and not entry.is_symlink() and name in expected):
                found.append(name)

    walk(out)
    return found


def check_output_folder(out: Path) -> None:
    """Refuse to replace anything but a folder flanzh built: its manifest says flanzh wrote it,
    and it holds nothing the manifest does not list (a user's file in it would be deleted)."""
    if not out.exists():
        return
    if not out.is_dir():
        raise BuildError(f"{out} exists and is not a flanzh output folder (not a folder); "
                         "choose another --out or remove it")
    if not any(out.iterdir()):
        return
    if not (out / MANIFEST).is_file():
        raise BuildError(f"{out} exists and is not a flanzh output folder (no {MANIFEST}); "
                         "choose another --out or remove it")
    try:
        manifest = json.loads((out / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        manifest = None
    if not isinstance(manifest, dict) or "flanzh_version" not in manifest:
        raise BuildError(f"{out} exists and is not a flanzh output folder (its {MANIFEST} was not "
                         "written by flanzh); choose another --out or remove it")
    unexpected = _unexpected_files(out, manifest)
    if unexpected:
        shown = ", ".join(unexpected[:5]) + (f" and {len(unexpected) - 5} more"
                                             if len(unexpected) > 5 else "")
        raise BuildError(f"{out} holds files flanzh did not write ({shown}); move them out of "
                         "it, or choose another --out")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class OutputLock:
    """``<out>.lock``: held by an OS lock (flock) on the open file for as long as the build runs,
    so it is released the moment its process ends, however it ends, and a lock file that exists
    but is still empty belongs to whoever holds the OS lock, not to the next comer. The file also
    names the holder's pid, for the message."""

    def __init__(self, out: Path):
        self.path = out.parent / f"{out.name}.lock"
        self.fd: int | None = None

    def _busy(self, pid: int | None) -> BuildError:
        who = f"another flanzh build (pid {pid})" if pid else "another flanzh build"
        return BuildError(f"{who} is writing {self.path.parent / self.path.name[:-5]}; wait for "
                          f"it to finish, or delete {self.path} if no build is running")

    def acquire(self) -> None:
        import fcntl

        while True:
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = _read_pid(fd)
                os.close(fd)
                raise self._busy(pid) from None
            except OSError:                 # no locks on this filesystem, ...
                os.close(fd)
                raise
            try:                        # released and deleted by its holder meanwhile: retry
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            pid = _read_pid(fd)
            if pid and pid != os.getpid() and _alive(pid):
                # a live process named in the file that does not take the OS lock (a build of an
                # older flanzh): still a build in progress
                os.close(fd)
                raise self._busy(pid)
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            self.fd = fd
            return

    def release(self) -> None:
        if self.fd is None:
            return
        self.path.unlink(missing_ok=True)
        os.close(self.fd)
        self.fd = None


def _read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).decode().strip() or 0) or None
    except (OSError, ValueError):
        return None


# renameat2(2) flag: swap two paths in one step, so the output folder is never absent.
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap ``a`` and ``b`` (Linux renameat2); False where the system or filesystem
    cannot, and the caller falls back to two renames."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EPERM):
        return False
    raise OSError(code, os.strerror(code), str(a), None, str(b))


NEARLY_FULL = 16 * 1024 * 1024     # bytes free below which a failed write is blamed on the disk


def _size(n: int) -> str:
    for unit in ("KiB", "MiB", "GiB"):
        n /= 1024
        if n < 1024:
            return f"{n:.1f} {unit}"
    return f"{n / 1024:.1f} TiB"


def _folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _causes(exc: BaseException) -> list[BaseException]:
    chain, seen = [], set()
    while exc is not None and id(exc) not in seen:
        chain.append(exc)
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return chain


def _no_space(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc)
    return "No space left on device" in text or "os error 28" in text


def disk_full_error(exc: BaseException, folder: Path, previous: Path | None = None,
                    elsewhere: str = "build into another --out") -> BuildError | None:
    """The error to report when ``exc`` (raised while writing into ``folder``) means the disk is
    full, else None. A full disk shows up as ENOSPC, or, in writers that lose the errno (polars
    reports a parquet file cut short as "Invalid thrift"), as any failure while the disk is
    (nearly) full; then the original error is quoted too."""
    chain = _causes(exc)
    full = next((e for e in chain if _no_space(e)), None)
    if full is not None and getattr(full, "filename", None):
        named = Path(full.filename).parent
        if not named.is_relative_to(folder):
            folder = named                   # full elsewhere (a temporary folder, ...)
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = None
    quoted = ""
    if full is None:
        if free is None or free >= NEARLY_FULL:
            return None
        root = chain[-1]
        quoted = f" (the write failed with: {type(root).__name__}: {root})"
    room = f"{_size(free)} free" if free is not None else "free space unknown"
    if previous is not None and previous.is_dir():
        room += f"; the previous build there takes {_size(_folder_size(previous))}"
    return BuildError(f"the disk is full: no space left on the device holding {folder} ({room}); "
                      f"free some space there, or {elsewhere}{quoted}")


class StagedOutput:
    """A temporary folder beside ``out`` that becomes ``out`` on commit, or vanishes on failure.
    Holds the output lock from creation to commit or discard."""

    def __init__(self, out: Path):
        self.out = output_target(out)
        check_output_folder(self.out)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.lock = OutputLock(self.out)
        self.lock.acquire()
        for stale in self.out.parent.glob(f".{self.out.name}.tmp-*"):   # left by killed builds
            shutil.rmtree(stale, ignore_errors=True)
        for old in self.out.parent.glob(f".{self.out.name}.old-*"):
            # killed between the two renames of commit(): the previous output is here
            if self.out.exists():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.rename(self.out)
        self.path = self.out.parent / f".{self.out.name}.tmp-{os.getpid()}"
        self.path.mkdir()

    def commit(self, manifest: dict) -> None:
        (self.path / MANIFEST).write_text(
            json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n", "utf-8")
        (self.path / "README.md").write_text(render_card(manifest), "utf-8")
        if self.out.exists() and _exchange(self.path, self.out):
            shutil.rmtree(self.path, ignore_errors=True)      # now the previous output
        else:
            # no atomic swap here: for a moment there is no output; a build killed in that
            # moment leaves the previous one as .<out>.old-PID, restored by the next build
            old = self.out.parent / f".{self.out.name}.old-{os.getpid()}"
            if self.out.exists():
                self.out.rename(old)
            self.path.rename(self.out)
            shutil.rmtree(old, ignore_errors=True)
        self.lock.release()

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        self.lock.release()


def task_manifest(result: TaskResult, shards: list[str], share: float | None,
                  total_written: int, splits: list[str] | None = None,
                  benchmark: dict | None = None) -> dict:
    task, records = result.task, result.records
    return {
        "category": task.category,
        "name_zh": task.name_zh,
        "source": task.source["dataset"],
        "license": task.source["license"],
        "citation": task.source["citation"],
        "splits": splits if splits is not None else task.train_splits,
        "benchmark_splits": benchmark,
        "rows_read": result.rows_read,
        "rows_repeated": result.rows_repeated,
        "dropped": dict(sorted(result.dropped.items())),
        "rows_written": result.rows_written,
        "truncated": {k: v for k, v in sorted(result.truncated.items())
                      if not k.startswith("cleaned:")},
        "cleaned": {k.removeprefix("cleaned:"): v for k, v in sorted(result.truncated.items())
                    if k.startswith("cleaned:") and v},
        "quota": result.quota,
        "target_share": None if share is None else round(share, 6),
        "openba_share": task.spec.get("mixture", {}).get("openba_share"),
        "realised_share": round(result.rows_written / total_written, 6) if total_written else 0.0,
        "templates": len(task.templates),
        "templates_used": (records["template_id"].n_unique() if result.templates_used is None
                           else result.templates_used),
        "formats": dict(sorted((Counter(records["format"].to_list()) if result.formats is None
                                else result.formats).items())),
        "answers": dict(sorted(result.answers.items())) if task.choices is not None else None,
        "shards": shards,
        "spec_file": task.spec_label,
        "spec_sha256": task.spec_sha256,
        "templates_file": task.templates_label,
        "templates_sha256": task.templates_sha256,
    }

"""Write a built corpus in the hub layout, atomically: everything goes into a temporary sibling
folder, which replaces the output folder only once complete."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path


from .card import render_card
from .errors import BuildError

MANIFEST = "manifest.json"
DEFAULT_SHARD_ROWS = 200_000
PARQUET_OPTIONS = {"compression": "zstd", "compression_level": 3, "statistics": False}


ROW_GROUP_ROWS = 65_536     # a row group's text stays far below arrow `string`'s 2 GiB per array


def _plain_text(dtype):
    """Arrow ``string`` for polars' ``large_string`` (and lists of it)."""
    import pyarrow as pa

    if pa.types.is_large_string(dtype) or pa.types.is_string_view(dtype):
        return pa.string()
    if pa.types.is_large_list(dtype) or pa.types.is_list(dtype):
        return pa.list_(_plain_text(dtype.value_type))
    return dtype


def write_records(frame, path: Path) -> None:
    """Write a frame of records as a zstd parquet file whose text columns are arrow ``string``,
    not the ``large_string`` polars writes: ``datasets`` then reads them as ``Value('string')``,
    so ``concatenate_datasets``/``interleave_datasets`` take them with any ordinary dataset."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = frame.to_arrow()
    schema = pa.schema([field.with_type(_plain_text(field.type)) for field in table.schema])
    batches = [batch.cast(schema) for batch in table.to_batches(max_chunksize=ROW_GROUP_ROWS)]
    pq.write_table(pa.Table.from_batches(batches, schema=schema), path,
                   row_group_size=ROW_GROUP_ROWS, compression="zstd", compression_level=3,
                   write_statistics=False)


def shard_names(rows: int, shard_rows: int) -> list[str]:
    count = max(1, -(-rows // shard_rows))
    return [f"train-{i:05d}-of-{count:05d}.parquet" for i in range(count)]


def check_output_folder(out: Path) -> None:
    """Refuse to replace a non-empty folder that flanzh did not build."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MANIFEST).is_file())):
        raise BuildError(f"{out} exists and is not a flanzh output folder (no {MANIFEST}); "
                         "choose another --out or remove it")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class OutputLock:
    """``<out>.lock`` holds the pid of the build writing ``out``; a second build is refused
    while that process lives, and a lock left by a killed build is taken over."""

    def __init__(self, out: Path):
        self.path = out.parent / f"{out.name}.lock"

    def acquire(self) -> None:
        while True:
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                try:
                    pid = int(self.path.read_text().strip() or 0)
                except (OSError, ValueError):
                    pid = 0
                if pid and pid != os.getpid() and _alive(pid):
                    raise BuildError(f"another flanzh build (pid {pid}) is writing "
                                     f"{self.path.parent / self.path.name[:-5]}; wait for it to "
                                     f"finish, or delete {self.path} if no build is running")
                self.path.unlink(missing_ok=True)        # stale: its build was killed
                continue
            with os.fdopen(fd, "w") as handle:
                handle.write(str(os.getpid()))
            return

    def release(self) -> None:
        self.path.unlink(missing_ok=True)


class StagedOutput:
    """A temporary folder beside ``out`` that becomes ``out`` on commit, or vanishes on failure.
    Holds the output lock from creation to commit or discard."""

    def __init__(self, out: Path):
        self.out = Path(out)
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
        old = self.out.parent / f".{self.out.name}.old-{os.getpid()}"
        if self.out.exists():
            self.out.rename(old)
        self.path.rename(self.out)
        shutil.rmtree(old, ignore_errors=True)
        self.lock.release()

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        self.lock.release()

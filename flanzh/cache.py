"""Per-task results kept beside the output folder, so a build that was interrupted resumes from
the tasks it had finished, and a rebuild redoes only the tasks whose inputs changed.

Entries are keyed by a fingerprint of everything that decides them (spec and template hashes,
source files' sizes and mtimes, seed, policy, ...) and written atomically (temp file + rename), so
a killed build leaves either a whole entry or none.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from functools import cache
from pathlib import Path

import polars as pl

from . import __version__


@cache
def code_digest() -> str:
    """A digest of flanzh's own source files, so a cached result never outlives the code that
    made it (a development checkout changes code without changing the version)."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".json") and path.is_file():
            digest.update(path.relative_to(package).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def fingerprint(*parts) -> str:
    payload = json.dumps([__version__, code_digest(), *parts], sort_keys=True,
                         ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


def file_stamps(paths) -> list:
    """(path, size, mtime) of each file: cheap to get for multi-GB sources."""
    stamps = []
    for path in paths:
        stat = Path(path).stat()
        stamps.append([str(path), stat.st_size, stat.st_mtime_ns])
    return stamps


class TaskCache:
    """``<out parent>/.<out name>.cache/<stage>/<task>-<fingerprint>.{parquet,json}``."""

    def __init__(self, out: Path, enabled: bool = True):
        self.out = Path(out)
        self.root = self.out.parent / f".{self.out.name}.cache"
        self.enabled = enabled
        self.hits: list[str] = []

    def _paths(self, stage: str, task_id: str, key: str) -> tuple[Path, Path]:
        base = self.root / stage / f"{task_id}-{key}"
        return base.with_suffix(".parquet"), base.with_suffix(".json")

    def load(self, stage: str, task_id: str, key: str) -> tuple[pl.DataFrame, dict] | None:
        if not self.enabled:
            return None
        frame_path, meta_path = self._paths(stage, task_id, key)
        if not (frame_path.is_file() and meta_path.is_file()):
            return None
        self.hits.append(f"{stage}:{task_id}")
        return pl.read_parquet(frame_path), json.loads(meta_path.read_text("utf-8"))

    def store(self, stage: str, task_id: str, key: str, frame: pl.DataFrame, meta: dict) -> None:
        if not self.enabled:
            return
        frame_path, meta_path = self._paths(stage, task_id, key)
        frame_path.parent.mkdir(parents=True, exist_ok=True)
        for old in frame_path.parent.glob(f"{task_id}-*"):     # one entry per task and stage
            if old.stem != f"{task_id}-{key}":
                old.unlink(missing_ok=True)
        tmp = frame_path.with_name(frame_path.name + f".tmp-{os.getpid()}")
        frame.write_parquet(tmp)
        os.replace(tmp, frame_path)
        tmp = meta_path.with_name(meta_path.name + f".tmp-{os.getpid()}")
        tmp.write_text(json.dumps(meta, ensure_ascii=False, sort_keys=True), "utf-8")
        os.replace(tmp, meta_path)     # the .json last: an entry counts only once it exists

    # Entries that are folders of files (a rendered task's parquet parts): built in a temporary
    # folder, renamed into place, then the .json written last, as for single-file entries.
    def load_folder(self, stage: str, task_id: str, key: str) -> tuple[Path, dict] | None:
        if not self.enabled:
            return None
        folder, meta_path = self.root / stage / f"{task_id}-{key}", self._paths(stage, task_id, key)[1]
        if not (folder.is_dir() and meta_path.is_file()):
            return None
        meta = json.loads(meta_path.read_text("utf-8"))
        if not all((folder / name).is_file() for name in meta.get("parts", [])):
            return None
        self.hits.append(f"{stage}:{task_id}")
        return folder, meta

    def new_folder(self, stage: str, task_id: str, key: str) -> Path:
        folder = self.root / stage / f"{task_id}-{key}.tmp-{os.getpid()}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        return folder

    def store_folder(self, stage: str, task_id: str, key: str, built: Path, meta: dict) -> Path:
        final, meta_path = self.root / stage / f"{task_id}-{key}", self._paths(stage, task_id, key)[1]
        for old in final.parent.glob(f"{task_id}-*"):          # one entry per task and stage
            if old.name != built.name:
                (shutil.rmtree(old, ignore_errors=True) if old.is_dir()
                 else old.unlink(missing_ok=True))
        os.replace(built, final)
        tmp = meta_path.with_name(meta_path.name + f".tmp-{os.getpid()}")
        tmp.write_text(json.dumps(meta, ensure_ascii=False, sort_keys=True), "utf-8")
        os.replace(tmp, meta_path)
        return final

    # The fingerprint of the last complete build into this output (kept here, not in the
    # manifest, which must not depend on where files live or when they were touched).
    def last_build(self) -> dict | None:
        path = self.root / "build.json"
        if not self.enabled or not path.is_file():
            return None
        try:
            return json.loads(path.read_text("utf-8"))
        except (OSError, json.JSONDecodeError):
            return None

    def record_build(self, whole: str) -> None:
        if not self.enabled:
            return
        manifest = self.out / "manifest.json"
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f"build.json.tmp-{os.getpid()}"
        tmp.write_text(json.dumps({"fingerprint": whole, "manifest_sha256": hashlib.sha256(
            manifest.read_bytes()).hexdigest()}), "utf-8")
        os.replace(tmp, self.root / "build.json")

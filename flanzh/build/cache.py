"""Per-task results kept beside the output folder, so a build that was interrupted resumes from
the tasks it had finished, and a rebuild redoes only the tasks whose inputs changed.

Entries are keyed by a fingerprint of everything that decides them (spec and template hashes,
a hash of every source file's content, seed, policy, ...) and written atomically (temp file +
rename), so a killed build leaves either a whole entry or none. Each entry's .json records a hash
of every file of the entry; an entry whose files do not match it (truncated, emptied, edited) is
deleted and rebuilt, never used. Files leave the cache as copies (or reflinks), never as hard
links, so editing the output can never change the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from functools import cache
from importlib import metadata
from pathlib import Path

import polars as pl

from . import MANIFEST
from .. import __version__
from ..digests import file_digest
from ..project import Project
from ..read.sources import SourceMode
from ..spec.mixture import Mixture
from ..spec.specs import Task


@cache
def code_digest() -> str:
    """A digest of flanzh's own source files, so a cached result never outlives the code that
    made it (a development checkout changes code without changing the version)."""
    package = Path(__file__).resolve().parents[1]
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
    """(path, size, content digest) of each file: what was read, not when it was touched (a file
    edited with the same size and mtime still changes its stamp)."""
    return [[str(path), Path(path).stat().st_size, file_digest(path)] for path in paths]


def copy_file(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target``: a reflink where the filesystem can (btrfs, xfs: instant,
    no extra space, and still an independent file), a plain copy elsewhere. Never a hard link."""
    try:
        import fcntl

        with open(source, "rb") as src, open(target, "wb") as dst:
            fcntl.ioctl(dst.fileno(), 0x40049409, src.fileno())      # FICLONE
        return
    except (ImportError, OSError):
        pass
    shutil.copyfile(source, target)


def _digests(folder: Path, names) -> dict[str, str]:
    return {name: file_digest(folder / name) for name in names}


def _intact(folder: Path, digests: dict | None) -> bool:
    """Every file of an entry is there with the content it was stored with."""
    if not isinstance(digests, dict) or not digests:
        return False
    try:
        return all(file_digest(folder / name) == digest for name, digest in digests.items())
    except OSError:
        return False


def _read_meta(path: Path) -> dict | None:
    try:
        meta = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


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
        meta = _read_meta(meta_path)
        if meta is None or not _intact(frame_path.parent, meta.pop("_files", None)):
            self._drop(stage, task_id)                         # damaged: rebuilt, never used
            return None
        try:
            frame = pl.read_parquet(frame_path)
        except Exception:  # noqa: BLE001 - a damaged entry of any kind is rebuilt
            self._drop(stage, task_id)
            return None
        self.hits.append(f"{stage}:{task_id}")
        return frame, meta

    def entry(self, stage: str, task_id: str, key: str) -> Path | None:
        """The parquet file of a stored single-file entry, if there is one."""
        if not self.enabled:
            return None
        frame_path, meta_path = self._paths(stage, task_id, key)
        return frame_path if frame_path.is_file() and meta_path.is_file() else None

    def _drop(self, stage: str, task_id: str) -> None:
        for old in (self.root / stage).glob(f"{task_id}-*"):
            (shutil.rmtree(old, ignore_errors=True) if old.is_dir()
             else old.unlink(missing_ok=True))

    def store(self, stage: str, task_id: str, key: str, frame: pl.DataFrame, meta: dict) -> None:
        if not self.enabled:
            return
        frame_path, meta_path = self._paths(stage, task_id, key)
        frame_path.parent.mkdir(parents=True, exist_ok=True)
        for old in frame_path.parent.glob(f"{task_id}-*"):     # one entry per task and stage
            if old.stem != f"{task_id}-{key}":
                old.unlink(missing_ok=True)
        tmp = frame_path.with_name(frame_path.name + f".tmp-{os.getpid()}")
        frame.write_parquet(tmp, statistics=False)       # read whole, never filtered by them
        os.replace(tmp, frame_path)
        meta = {**meta, "_files": _digests(frame_path.parent, [frame_path.name])}
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
        meta = _read_meta(meta_path)
        if meta is None or not _intact(folder, meta.pop("_files", None)):
            self._drop(stage, task_id)                         # damaged: rebuilt, never used
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
        meta = {**meta, "_files": _digests(final, sorted(
            p.name for p in final.iterdir() if p.is_file()))}
        tmp = meta_path.with_name(meta_path.name + f".tmp-{os.getpid()}")
        tmp.write_text(json.dumps(meta, ensure_ascii=False, sort_keys=True), "utf-8")
        os.replace(tmp, meta_path)
        return final

    # The fingerprint of the last complete build into this output (kept here, not in the
    # manifest, which must not depend on where files live or when they were touched).
    # With it, a hash of every file the build wrote: an output edited since (a shard truncated or
    # copied over) is not up to date.
    def last_build(self) -> dict | None:
        path = self.root / "build.json"
        if not self.enabled or not path.is_file():
            return None
        return _read_meta(path)

    def up_to_date(self, whole: str) -> bool:
        """The output holds exactly what the last build with fingerprint ``whole`` wrote."""
        last = self.last_build()
        return (last is not None and last.get("fingerprint") == whole
                and _intact(self.out, last.get("files")))

    def record_build(self, whole: str) -> None:
        if not self.enabled:
            return
        files = sorted(p.relative_to(self.out).as_posix() for p in self.out.rglob("*")
                       if p.is_file())
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f"build.json.tmp-{os.getpid()}"
        tmp.write_text(json.dumps({"fingerprint": whole, "files": _digests(self.out, files)}),
                       "utf-8")
        os.replace(tmp, self.root / "build.json")


def source_stamps(project: Project, task: Task, splits: list[str], mode: SourceMode) -> list:
    """Size and content hash of every file in the task's source folder, not only those named in the
    spec: some readers also read files the split points to (XQA's evidence documents)."""
    if mode.kind == "hub":
        return [task.source.get("hub"), splits]
    from ..read.sources import source_dir

    folder = source_dir(project, task, mode)
    return file_stamps(sorted(p for p in folder.rglob("*") if p.is_file()))


def build_fingerprint(project: Project, tasks: list[Task], seed: int, mode: SourceMode,
                      mixture: Mixture, shard_rows: int, max_reject_rate: float | None) -> str:
    """Everything that decides a build's output: specs, templates, every source file's content
    hash, extra evaluation files, policy, seed, shard size, package versions."""
    extra = [Path(e) if Path(e).is_absolute() else project.root / e
             for e in mixture.decontamination["extra"]]
    return fingerprint(
        "build", seed, mode.kind, str(mode.data_dir), mixture.policy, shard_rows, max_reject_rate,
        package_versions(), file_stamps(p for p in extra if p.is_file()),
        [[t.id, t.spec_sha256, t.templates_sha256,
          source_stamps(project, t, t.train_splits + t.eval_splits, mode)] for t in tasks])


def output_up_to_date(out: Path, cache: TaskCache, whole: str) -> dict | None:
    """The manifest of ``out`` if it was built from exactly these inputs and every file it wrote
    is unchanged since (checked by content, so a shard edited in place is rebuilt)."""
    if not cache.up_to_date(whole):
        return None
    try:
        return json.loads((out / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        return None


def package_versions() -> dict[str, str]:
    names = ("datasets", "jinja2", "jsonschema", "polars", "pyarrow", "rensa", "typer")
    versions = {"python": ".".join(map(str, sys.version_info[:3])), "flanzh": __version__}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions

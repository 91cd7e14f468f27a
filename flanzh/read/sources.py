"""Where a task's rows come from: the bundled samples (default, offline), a folder of downloaded
raw files (``--data-dir``), or the pinned hub copy (``--from-hub``). Every mode goes through the
same reader for the spec's format."""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import SourceError
from ..project import Project
from .readers import ReadResult, reader_for
from ..spec.specs import Task


@dataclass(frozen=True)
class SourceMode:
    """``kind`` is ``samples``, ``data_dir`` or ``hub``; ``data_dir`` is set for ``data_dir``."""

    kind: str = "samples"
    data_dir: Path | None = None

    @property
    def description(self) -> str:
        return {"samples": "bundled samples", "hub": "pinned hub copies"}.get(
            self.kind, f"raw files under {self.data_dir}")


def source_dir(project: Project, task: Task, mode: SourceMode) -> Path:
    root = project.samples_dir if mode.kind == "samples" else mode.data_dir
    return Path(root) / task.id


def split_files(project: Project, task: Task, split: str, mode: SourceMode):
    """The split's files as the reader takes them: a list of paths, or a dict of named parts."""
    base = source_dir(project, task, mode)
    entry = task.source["files"][split]
    if isinstance(entry, str):
        return [inside(base, entry, task)]
    if isinstance(entry, list):
        return [inside(base, name, task) for name in entry]
    return {part: inside(base, name, task) for part, name in entry.items()}


def inside(base: Path, name: str, task: Task) -> Path:
    """``base / name``, refused when it resolves (symlinks followed) outside ``base``: nothing
    outside the task's data folder is ever read."""
    path = base / name
    root, target = base.resolve(), path.resolve()
    if not target.is_relative_to(root):
        raise SourceError(f"task {task.id}: {path} resolves to {target}, outside the task's data "
                          f"folder {root}/; source files (and symlinks among them) must stay "
                          f"inside it; fix source.files in {task.spec_label} or the link")
    return path


def _paths(files) -> list[Path]:
    return list(files.values()) if isinstance(files, dict) else list(files)


def missing_files(project: Project, task: Task, splits: list[str], mode: SourceMode) -> list[Path]:
    return [p for split in splits for p in _paths(split_files(project, task, split, mode))
            if not p.is_file()]


def source_bytes(project: Project, task: Task, splits: list[str], mode: SourceMode) -> int:
    """The size on disk of ``splits``' files (0 for the hub, whose copies are not local yet, and
    for files that are missing): what reading the task costs, roughly."""
    if mode.kind == "hub":
        return 0
    return sum(p.stat().st_size for split in splits
               for p in _paths(split_files(project, task, split, mode)) if p.is_file())


def missing_message(project: Project, task: Task, splits: list[str], mode: SourceMode) -> str | None:
    """What is missing for ``splits`` of ``task`` and where to get it, or None."""
    missing = missing_files(project, task, splits, mode)
    if not missing:
        return None
    base = source_dir(project, task, mode)
    names = ", ".join(p.relative_to(base).as_posix() for p in missing)
    if mode.kind == "samples":
        return (f"task {task.id}: bundled sample missing: {names} under "
                f"{project.relative(base)}/; add the sample or fix source.files in {task.spec_label}")
    return (f"task {task.id}: missing source file(s) under {base}/: {names}; download "
            f"{task.source['dataset']} from {task.source['download']} and put them "
            "there, or build from the bundled samples by leaving out --data-dir")


def require_files(project: Project, task: Task, splits: list[str], mode: SourceMode) -> None:
    """Raise SourceError listing every missing file of ``splits`` and where to download them."""
    message = missing_message(project, task, splits, mode)
    if message:
        raise SourceError(message)


def require_all_files(project: Project, tasks: list[Task], mode: SourceMode,
                      with_eval: bool = True) -> None:
    """Before a build from downloaded files: one error listing what every task still needs
    (evaluation splits too when they feed decontamination)."""
    if mode.kind == "hub":
        return
    messages = [m for t in tasks if (m := missing_message(
        project, t, t.train_splits + (t.eval_splits if with_eval else []), mode))]
    if messages:
        raise SourceError("\n".join(messages))


def needed_splits(task: Task, mode: SourceMode, with_eval: bool = True) -> list[str]:
    """The splits a build reads from ``mode``: the train splits, and the evaluation splits when
    they feed decontamination (the bundled samples may leave evaluation splits out)."""
    return task.train_splits + (task.eval_splits if with_eval and mode.kind != "samples" else [])


def available_tasks(project: Project, tasks: list[Task], mode: SourceMode, with_eval: bool = True
                    ) -> tuple[list[Task], dict[str, str]]:
    """The tasks whose files are all present, and for each other task one line saying what is
    missing and where to get it (``--tasks available``)."""
    ready, skipped = [], {}
    for task in tasks:
        missing = missing_files(project, task, needed_splits(task, mode, with_eval), mode)
        if not missing:
            ready.append(task)
            continue
        base = source_dir(project, task, mode)
        names = ", ".join(p.relative_to(base).as_posix() for p in missing)
        skipped[task.id] = (f"missing {names} under {base}/; download {task.source['dataset']} "
                            f"from {task.source['download']}")
    return ready, skipped


def read_split(project: Project, task: Task, split: str, mode: SourceMode) -> ReadResult:
    """Read one split of ``task`` in ``mode`` through the spec's reader."""
    source = task.source
    fmt = source["format"]
    reader = reader_for(fmt)
    options = source.get("reader_options", {})
    if mode.kind == "hub":
        return _read_hub(project, task, split, reader, options)
    require_files(project, task, [split], mode)
    # A reader that types columns by the fields that read them (flat) is given them.
    typed = {"fields": task.fields} if "fields" in inspect.signature(reader.read).parameters else {}
    return reader.read(split_files(project, task, split, mode), fmt=fmt,
                       encoding=source.get("encoding", "utf-8"), options=options,
                       label=task.spec_label, **typed)


def hub_revision(project: Project, task: Task) -> str:
    """The commit a task's hub copy is read at: the spec's revision when it is a commit sha, else
    the commit sources.lock resolved it to, else resolved now and recorded in the lock (so the
    next build reads the same bytes)."""
    from .download import load_lock, locked_hub_revision, resolve_hub_revision, save_lock

    hub = task.source["hub"]
    if re.fullmatch(r"[0-9a-f]{40}", hub["revision"]):
        return hub["revision"]
    locked = locked_hub_revision(project, task)
    if locked:
        return locked
    try:
        sha = resolve_hub_revision(hub)
    except SourceError as exc:
        raise SourceError(
            f"{task.spec_label}: $.source.hub.revision: '{hub['revision']}' is not a commit sha "
            f"and sources.lock has no commit for it, and resolving it failed ({exc}); run "
            f"`flanzh lock --tasks {task.id}` where the hub is reachable, or pin the revision to "
            "a commit") from None
    lock = load_lock(project)
    lock["sources"].setdefault(task.id, {})["hub"] = {
        "path": hub["path"], "name": hub.get("name"), "requested": hub["revision"],
        "revision": sha}
    save_lock(project, lock)
    return sha


def _read_hub(project: Project, task: Task, split: str, reader, options: dict) -> ReadResult:
    hub = task.source.get("hub")
    if hub is None:
        raise SourceError(f"task {task.id}: has no hub copy (no source.hub in {task.spec_label}); "
                          f"download it from {task.source['download']} and use --data-dir")
    if not hasattr(reader, "from_hub"):
        raise SourceError(f"task {task.id}: the '{task.source['format']}' reader cannot read the "
                          "hub copy's shape; use --data-dir with the raw files")
    revision = hub_revision(project, task)
    from datasets import load_dataset

    hub_split = hub.get("splits", {}).get(split, split)
    try:
        dataset = load_dataset(hub["path"], hub.get("name"), revision=revision,
                               split=hub_split)
    except Exception as exc:  # datasets raises many types; all mean "could not load"
        raise SourceError(f"task {task.id}: cannot load {hub['path']}"
                          f"{'/' + hub['name'] if hub.get('name') else ''} split {hub_split} at "
                          f"revision {revision}: {exc}") from None
    return reader.from_hub(dataset, options=options, label=task.spec_label)

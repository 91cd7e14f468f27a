"""``flanzh download`` and ``flanzh lock``: fetch each task's raw files into the layout its spec
reads, and pin what was fetched.

A spec says where its files come from in ``source.downloads`` (a URL, and either the file it
becomes in the task's data folder, ``to``, or the archive members to take out of it, ``extract``)
and, for sources behind a login, ``source.manual`` (the page and the exact files to place by
hand). ``sources.lock`` beside the specs records, per source, every URL's size and sha256 (and
each extracted file's), and the commit a hub revision resolved to. The same lock gives the same
bytes: a file whose checksum changed upstream is an error that names it and shows both sums.

Transfers go to ``<name>.part`` and are resumed with an HTTP range request; a file appears under
its final name only once complete and verified. Nothing is written outside the data folder.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..digests import file_digest
from ..errors import SourceError
from ..project import Project
from ..spec.specs import Task, load_tasks

LOCK_FILE = "sources.lock"
CHUNK = 1 << 20
TIMEOUT = 60
PARTIAL = ".part"
ARCHIVES = ".downloads"          # archives kept in the task's folder, so extraction can resume


def lock_path(project: Project) -> Path:
    return project.root / LOCK_FILE


def load_lock(project: Project) -> dict:
    path = lock_path(project)
    if not path.is_file():
        return {"version": 1, "sources": {}}
    try:
        lock = json.loads(path.read_text("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise SourceError(f"{LOCK_FILE}: not valid JSON ({exc}); restore it from git or run "
                          "`flanzh lock` to write it again") from None
    if not isinstance(lock, dict) or not isinstance(lock.get("sources"), dict):
        raise SourceError(f"{LOCK_FILE}: expected {{\"version\": 1, \"sources\": {{...}}}}; "
                          "restore it from git or run `flanzh lock`")
    return lock


def save_lock(project: Project, lock: dict) -> None:
    path = lock_path(project)
    text = json.dumps(lock, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, "utf-8")
    os.replace(tmp, path)


def _inside(base: Path, relative: str, where: str) -> Path:
    """``base / relative``, refusing a path that leaves ``base`` (absolute, ``..``, drive)."""
    pure = PurePosixPath(relative)
    if pure.is_absolute() or ".." in pure.parts or "\\" in relative or relative.startswith("~") \
            or not relative.strip():
        raise SourceError(f"{where}: '{relative}' must be a relative path inside the task's data "
                          "folder (no '..', no absolute path)")
    return base / Path(*pure.parts)


@dataclass
class Outcome:
    """What ``download`` did for one task."""

    task: str
    fetched: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)
    manual: dict | None = None
    missing_manual: list[str] = field(default_factory=list)


def _entry(lock: dict, task: Task) -> dict:
    return lock["sources"].setdefault(task.id, {})


def _open(url: str, start: int):
    # imported here: the build imports this module for read_record, and urllib.request brings
    # http.client and ssl into every pool worker
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": "flanzh"})
    if start:
        request.add_header("Range", f"bytes={start}-")
    try:
        return urllib.request.urlopen(request, timeout=TIMEOUT)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and start:        # the partial file is already whole
            return None
        raise SourceError(f"{url}: the server answered {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SourceError(f"{url}: cannot download ({reason}); check the network and run "
                          "`flanzh download` again: it resumes where it stopped") from None


def fetch(url: str, dest: Path, expected: dict | None = None, progress=None) -> dict:
    """Download ``url`` to ``dest`` through ``dest.part`` (resumed when present); verify it
    against ``expected`` ({size, sha256}) when given; return {size, sha256}."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + PARTIAL)
    start = part.stat().st_size if part.is_file() else 0
    response = _open(url, start)
    digest = hashlib.sha256()
    if response is not None and start and response.status != 206:
        start = 0                           # the server ignored the range: start over
    if start:
        with open(part, "rb") as handle:
            for block in iter(lambda: handle.read(CHUNK), b""):
                digest.update(block)
    if response is not None:
        total = response.headers.get("Content-Length")
        total = int(total) + start if total and total.isdigit() else None
        if progress is not None:
            progress(dest.name, start, total)
        with response, open(part, "ab" if start else "wb") as handle:
            done = start
            while True:
                try:
                    block = response.read(CHUNK)
                except OSError as exc:
                    raise SourceError(f"{url}: the transfer broke after {done} bytes ({exc}); "
                                      "run `flanzh download` again to resume") from None
                if not block:
                    break
                handle.write(block)
                digest.update(block)
                done += len(block)
                if progress is not None:
                    progress(dest.name, done, total)
            if total is not None and done < total:
                raise SourceError(f"{url}: the transfer stopped at {done} of {total} bytes; run "
                                  "`flanzh download` again to resume")
    got = {"size": part.stat().st_size, "sha256": digest.hexdigest()}
    if expected and expected.get("sha256") and expected["sha256"] != got["sha256"]:
        part.unlink()
        raise SourceError(
            f"{url}: checksum changed upstream: {LOCK_FILE} has sha256 {expected['sha256']} "
            f"({expected.get('size')} bytes), the download has sha256 {got['sha256']} "
            f"({got['size']} bytes); if the new file is the one you want, run `flanzh lock` "
            "and review the change, else report it to the dataset's maintainers")
    os.replace(part, dest)
    return got


def _members(archive: Path):
    """(name, opener) for every file in a zip, tar(.gz) or single-file .gz archive."""
    name = archive.name
    if zipfile.is_zipfile(archive):
        handle = zipfile.ZipFile(archive)
        return handle, {i.filename: (lambda i=i: handle.open(i)) for i in handle.infolist()
                        if not i.is_dir()}
    if tarfile.is_tarfile(archive):
        handle = tarfile.open(archive)
        return handle, {m.name: (lambda m=m: handle.extractfile(m)) for m in handle.getmembers()
                        if m.isfile()}
    if name.endswith(".gz"):
        inner = name[:-3]
        return None, {inner: lambda: gzip.open(archive)}
    raise SourceError(f"{archive}: not a zip, tar or gzip archive; delete it and run "
                      "`flanzh download` again")


def extract(archive: Path, members: dict[str, str], base: Path, where: str) -> dict[str, str]:
    """Copy ``members`` (archive path -> path in ``base``) out of ``archive``, each through a
    temporary name; return {path in base: sha256}."""
    handle, found = _members(archive)
    out = {}
    try:
        for member, target in members.items():
            if member not in found:
                close = [n for n in found if n.endswith(PurePosixPath(member).name)][:3]
                hint = f"; it has {', '.join(close)}" if close else ""
                raise SourceError(f"{archive}: no member '{member}' ({where}){hint}; the archive "
                                  "layout changed upstream or the spec names the wrong member")
            dest = _inside(base, target, where)
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(dest.name + PARTIAL)
            digest = hashlib.sha256()
            with found[member]() as source, open(tmp, "wb") as sink:
                for block in iter(lambda: source.read(CHUNK), b""):
                    sink.write(block)
                    digest.update(block)
            os.replace(tmp, dest)
            out[target] = digest.hexdigest()
    finally:
        if handle is not None:
            handle.close()
    return out


def _archive_name(url: str) -> str:
    name = PurePosixPath(url.split("?", 1)[0]).name
    return name or "download"


def _targets(item: dict) -> list[str]:
    return list(item["extract"].values()) if "extract" in item else [item["to"]]


def _present_and_verified(base: Path, item: dict, locked: dict) -> bool | None:
    """True when every target is there and matches the lock, None when there but the lock has
    no sums for it, False when something is missing or differs."""
    sums = locked.get("files") or {}        # a placeholder entry may have "files": null
    verdict: bool | None = True
    for target in _targets(item):
        path = base / target
        if not path.is_file():
            return False
        want = sums.get(target) or (locked.get("sha256") if "to" in item else None)
        if want is None:
            verdict = None
        elif file_digest(path, "sha256") != want:
            return False
    return verdict


def download_task(project: Project, task: Task, data_dir: Path, lock: dict,
                  progress=None) -> Outcome:
    """Fetch what ``task`` lets us fetch into ``data_dir/<task>/``; list what it does not."""
    base = Path(data_dir) / task.id
    outcome = Outcome(task.id)
    entry = _entry(lock, task).setdefault("downloads", {})
    for i, item in enumerate(task.source.get("downloads", [])):
        where = f"{task.spec_label}: $.source.downloads[{i}]"
        for target in _targets(item):
            _inside(base, target, where)
        url = item["url"]
        locked = entry.get(url, {})
        state = _present_and_verified(base, item, locked)
        if state is not False:
            outcome.skipped.append(url)
            if state is None:
                outcome.unverified.append(url)
            continue
        expected = locked if locked.get("sha256") else None
        if "extract" in item:
            archive = base / ARCHIVES / _archive_name(url)
            if not (archive.is_file() and expected
                    and file_digest(archive, "sha256") == expected["sha256"]):
                fetch(url, archive, expected, progress)
            files = extract(archive, item["extract"], base, where)
            if locked.get("files"):
                for target, digest in files.items():
                    want = locked["files"].get(target)
                    if want and want != digest:
                        raise SourceError(
                            f"{base / target}: checksum changed upstream: {LOCK_FILE} has sha256 "
                            f"{want}, the extracted file has {digest}; run `flanzh lock` if the "
                            "new file is the one you want")
        else:
            fetch(url, _inside(base, item["to"], where), expected, progress)
        if expected is None:
            outcome.unverified.append(url)
        outcome.fetched.append(url)
    _check_manual(task, base, outcome)
    return outcome


def _check_manual(task: Task, base: Path, outcome: Outcome) -> None:
    """Record the task's login-only files, and which of them are not in place yet."""
    manual = task.source.get("manual")
    if manual:
        outcome.manual = manual
        outcome.missing_manual = [f for f in manual.get("files", [])
                                  if not _inside(base, f, f"{task.spec_label}: $.source.manual"
                                                 ).is_file()]


def lock_task(project: Project, task: Task, lock: dict, workdir: Path, progress=None,
              resolve_hub=None) -> dict:
    """(Re)resolve ``task``'s sources: download each URL once into ``workdir``, record its size
    and sha256 (and each extracted file's), and the commit its hub revision points at."""
    entry = _entry(lock, task)
    downloads = {}
    for i, item in enumerate(task.source.get("downloads", [])):
        where = f"{task.spec_label}: $.source.downloads[{i}]"
        dest = workdir / task.id / f"{i}-{_archive_name(item['url'])}"
        got = fetch(item["url"], dest, None, progress)
        record = {"size": got["size"], "sha256": got["sha256"], "verified": True}
        if "extract" in item:
            record["files"] = extract(dest, item["extract"], workdir / task.id / f"{i}-out", where)
        downloads[item["url"]] = record
    entry["downloads"] = downloads
    hub = task.source.get("hub")
    if hub is not None and resolve_hub is not None:
        entry["hub"] = {"path": hub["path"], "name": hub.get("name"),
                        "requested": hub["revision"], "revision": resolve_hub(hub)}
    return entry


def stub_task(task: Task, lock: dict) -> dict:
    """Record ``task``'s download URLs in ``lock`` without fetching them: a URL already there
    keeps its sums, a new one gets ``{"size": null, "sha256": null, "verified": false}`` (so
    ``download`` fetches it and reports it unverified until ``flanzh lock`` runs), and a URL the
    spec no longer names is dropped."""
    entry = _entry(lock, task)
    old = entry.get("downloads") or {}
    entry["downloads"] = {item["url"]: old.get(item["url"]) or
                          {"size": None, "sha256": None, "verified": False}
                          for item in task.source.get("downloads", [])}
    return entry


def resolve_hub_revision(hub: dict, endpoint: str | None = None) -> str:
    """The commit sha ``hub['revision']`` points at now, asked of the hub."""
    from huggingface_hub import HfApi

    try:
        info = HfApi(endpoint=endpoint).dataset_info(hub["path"], revision=hub["revision"])
    except Exception as exc:  # huggingface_hub raises many types; all mean "could not resolve"
        raise SourceError(f"cannot resolve {hub['path']}@{hub['revision']} on the hub: "
                          f"{type(exc).__name__}: {exc}") from None
    return info.sha


def locked_hub_revision(project: Project, task: Task) -> str | None:
    entry = load_lock(project)["sources"].get(task.id, {}).get("hub")
    hub = task.source.get("hub") or {}
    if entry and entry.get("path") == hub.get("path") and entry.get("name") == hub.get("name") \
            and entry.get("requested") == hub.get("revision"):
        return entry.get("revision")
    return None


def read_record(project: Project, task: Task, mode) -> dict:
    """What a build of ``task`` read, for the manifest and the card: every file in its source
    folder (the files its readers may read; archives kept for ``download`` and partial
    transfers left out) with path relative to that folder, size and sha256; or, from the hub,
    the repository, config and the commit its revision resolved to."""
    if mode.kind == "hub":
        from .sources import hub_revision

        hub = task.source.get("hub")
        if hub is None:
            return {"hub": None}
        return {"hub": {"path": hub["path"], "name": hub.get("name"),
                        "revision": hub_revision(project, task)}}
    from .sources import source_dir

    folder = source_dir(project, task, mode)
    files = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        if relative.startswith(ARCHIVES + "/") or relative.endswith(PARTIAL):
            continue
        files.append({"path": relative, "size": path.stat().st_size,
                      "sha256": file_digest(path, "sha256")})
    return {"files": files}


def scratch() -> Path:
    return Path(tempfile.mkdtemp(prefix="flanzh-lock-"))


def remove_scratch(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _progress_bar():
    from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn,
                               TransferSpeedColumn)

    bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                   TransferSpeedColumn(), transient=True)
    tasks: dict[str, int] = {}

    def update(name: str, done: int, total: int | None) -> None:
        if name not in tasks:
            tasks[name] = bar.add_task(name, total=total)
        bar.update(tasks[name], completed=done, total=total)
    return bar, update


def run_download(project: Project, tasks: list[Task], data_dir: Path, echo) -> bool:
    """Download every task's files; print one line per task and, for login-only sources, the
    page and the files to place. True when nothing is left to place by hand. A task whose
    download fails is reported on its line and the others go on; then a SourceError names the
    failed tasks."""
    lock = load_lock(project)
    bar, update = _progress_bar()
    complete = True
    failed: list[str] = []
    with bar:
        for task in tasks:
            parts = []
            try:
                outcome = download_task(project, task, data_dir, lock, update)
            except SourceError as exc:
                failed.append(task.id)
                parts.append(f"FAILED: {exc}")
                outcome = Outcome(task.id)
                _check_manual(task, Path(data_dir) / task.id, outcome)
            if outcome.fetched:
                parts.append(f"{len(outcome.fetched)} downloaded")
            if outcome.skipped:
                parts.append(f"{len(outcome.skipped)} already there")
            if outcome.unverified:
                parts.append(f"{len(outcome.unverified)} unverified (no checksum in {LOCK_FILE} "
                             "yet; `flanzh lock` records one)")
            if outcome.manual:
                page = outcome.manual["page"]
                if outcome.missing_manual:
                    complete = False
                    note = outcome.manual.get("note")
                    parts.append(f"get by hand from {page} and place under "
                                 f"{Path(data_dir) / task.id}/: "
                                 + ", ".join(outcome.missing_manual)
                                 + (f" ({note})" if note else ""))
                else:
                    parts.append("login-only files in place")
            if not parts:
                complete = False
                parts.append(f"no machine-readable download; get it from "
                             f"{task.source['download']}")
            bar.console.print(f"{task.id}: " + "; ".join(parts), soft_wrap=True, markup=False,
                              highlight=False)
    if failed:
        raise SourceError(f"{len(failed)} task(s) could not be downloaded: {', '.join(failed)} "
                          "(reasons above); run `flanzh download` again: it resumes where it "
                          "stopped")
    return complete


def run_lock(project: Project, tasks: list[Task], echo, endpoint: str | None = None,
             fetch_files: bool = True) -> None:
    """Re-resolve every task's URLs and hub revision into ``sources.lock``; with
    ``fetch_files=False``, only record new URLs as unverified placeholders (no network)."""
    lock = load_lock(project)
    if not fetch_files:
        for task in tasks:
            entry = stub_task(task, lock)
            todo = sum(1 for r in entry["downloads"].values() if not r.get("sha256"))
            echo(f"{task.id}: {len(entry['downloads'])} URL(s) recorded, {todo} without a checksum")
        known = {task.id for task in load_tasks(project)}
        for stale in sorted(set(lock["sources"]) - known):
            del lock["sources"][stale]
            echo(f"{stale}: no such task any more, dropped")
        save_lock(project, lock)
        return
    work = scratch()
    bar, update = _progress_bar()
    try:
        with bar:
            for task in tasks:
                hub = task.source.get("hub")
                resolver = (lambda h: resolve_hub_revision(h, endpoint)) if hub else None
                entry = lock_task(project, task, lock, work, update, resolver)
                hub_text = f", hub {entry['hub']['revision'][:12]}" if entry.get("hub") else ""
                bar.console.print(f"{task.id}: {len(entry.get('downloads', {}))} file(s) "
                                  f"locked{hub_text}", soft_wrap=True, markup=False,
                                  highlight=False)
                save_lock(project, lock)
    finally:
        remove_scratch(work)

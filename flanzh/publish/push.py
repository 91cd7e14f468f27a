"""Publish a built folder to a dataset repo on the Hugging Face Hub, in one commit.

    read the remote (repo, branch, file hashes, README.md)
      -> plan: upload what is new or changed, skip what the hub already has, keep (or, when asked,
         delete) remote files the build did not produce, merge the card into the remote one
      -> create the repo / branch when missing -> upload LFS objects -> one commit

The commit names the remote head it was planned against (``parent_commit``), so if someone else
commits in between, the hub refuses it and nothing changes. The hub applies a commit entirely or
not at all. The token comes from huggingface_hub's usual sources (``HF_TOKEN``, ``hf auth login``)
and never appears in anything flanzh prints: every hub or network error becomes a ``PushError``
whose text is scrubbed of it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from ..build.card import for_repo, merge_card
from ..build import MANIFEST
from ..errors import PushError

CARD = "README.md"
PROTECTED = frozenset({".gitattributes"})     # never deleted, even with delete_stale
REPO_TYPE = "dataset"
NOTHING_CHANGED = "nothing was committed; the remote repo is unchanged"


@dataclass
class LocalFile:
    path: str                   # path in the repo (posix)
    source: Path | bytes        # the file, or the content to upload (the merged card)
    size: int
    sha256: str
    git_oid: str                # git blob sha1, what the hub lists for small (non-LFS) files


@dataclass
class Step:
    action: str                 # create-repo, create-branch, add, skip, keep, delete
    path: str
    detail: str = ""

    def line(self) -> str:
        return f"  {self.action:<13} {self.path}" + (f"  ({self.detail})" if self.detail else "")


@dataclass
class PushResult:
    repo_id: str
    revision: str
    steps: list[Step] = field(default_factory=list)
    dry_run: bool = False
    commit_oid: str | None = None
    commit_url: str | None = None

    def count(self, action: str) -> int:
        return sum(1 for s in self.steps if s.action == action)

    @property
    def changes(self) -> bool:
        return any(s.action in ("add", "delete") for s in self.steps)


def _inside(folder: Path, value, where: str) -> str:
    """``value``, a repo path from the manifest, checked to name a file inside ``folder``
    (symlinks resolved): push never uploads anything else."""
    from ..spec.specs import unsafe_path

    manifest = folder / MANIFEST
    if not isinstance(value, str) or not value:
        raise PushError(f"{manifest}: {where}: {value!r} is not a file path; rebuild the folder; "
                        "nothing was uploaded")
    why = unsafe_path(value)
    if why:
        raise PushError(f"{manifest}: {where}: '{value}' {why}; push only uploads files inside "
                        f"{folder}; rebuild the folder; nothing was uploaded")
    target = (folder / value).resolve()
    if not target.is_relative_to(folder.resolve()):
        raise PushError(f"{manifest}: {where}: '{value}' resolves to {target}, outside {folder}; "
                        "push only uploads files inside the folder; rebuild the folder; "
                        "nothing was uploaded")
    return value


def _listed(folder: Path, manifest: dict) -> list[str]:
    """The manifest's own file list, every entry checked by _inside."""
    where_manifest = folder / MANIFEST
    paths = [CARD, MANIFEST]
    if manifest.get("rejects_file"):
        paths.append(_inside(folder, manifest["rejects_file"], "$.rejects_file"))
    report = manifest.get("report") or []
    if not isinstance(report, list):
        raise PushError(f"{where_manifest}: $.report: not a list of files; rebuild the folder; "
                        "nothing was uploaded")
    paths += [_inside(folder, p, f"$.report[{i}]") for i, p in enumerate(report)]
    tasks = manifest.get("tasks")
    if not isinstance(tasks, dict):
        raise PushError(f"{where_manifest}: $.tasks: missing or not a mapping; rebuild the folder; "
                        "nothing was uploaded")
    for task_id in sorted(tasks):
        shards = tasks[task_id].get("shards") if isinstance(tasks[task_id], dict) else None
        if not isinstance(shards, list):
            raise PushError(f"{where_manifest}: $.tasks.{task_id}.shards: missing or not a list; "
                            "rebuild the folder; nothing was uploaded")
        paths += [_inside(folder, p, f"$.tasks.{task_id}.shards[{i}]")
                  for i, p in enumerate(shards)]
    return paths


def build_files(folder: Path, manifest: dict) -> list[str]:
    """Every file the build produced, as repo paths: the card, the manifest, the rejects, the
    report and the shards. Each must lie inside ``folder``."""
    paths = _listed(folder, manifest)
    missing = [p for p in paths if not (folder / p).is_file()]
    if missing:
        raise PushError(f"{folder}: {', '.join(missing)} listed in {MANIFEST} but missing; "
                        "rebuild the folder")
    return list(dict.fromkeys(paths))


def verify_shards(folder: Path, manifest: dict) -> None:
    """Before anything is uploaded: every shard is a parquet file that reads whole, and each
    task's shards hold the rows the manifest says were written."""
    import pyarrow.parquet as pq

    for task_id in sorted(manifest["tasks"]):
        entry, rows = manifest["tasks"][task_id], 0
        for shard in entry["shards"]:
            path = folder / shard
            try:
                with pq.ParquetFile(path) as parquet:
                    for group in range(parquet.num_row_groups):
                        rows += parquet.read_row_group(group).num_rows
            except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ... for a bad file
                raise PushError(f"{path}: not a readable parquet file ({' '.join(str(exc).split())}"
                                f"); rebuild the folder; nothing was uploaded") from None
        written = entry.get("rows_written")
        if rows != written:
            raise PushError(f"{folder}: task {task_id}: its shards hold {rows} rows but "
                            f"{MANIFEST} says {written} were written; rebuild the folder; "
                            "nothing was uploaded")


def _hashes(data: bytes | None = None, path: Path | None = None) -> tuple[int, str, str]:
    size = len(data) if data is not None else path.stat().st_size
    sha256, sha1 = hashlib.sha256(), hashlib.sha1(b"blob %d\0" % size)
    if data is not None:
        sha256.update(data)
        sha1.update(data)
    else:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                sha256.update(block)
                sha1.update(block)
    return size, sha256.hexdigest(), sha1.hexdigest()


def local_file(path: str, source: Path | bytes) -> LocalFile:
    size, sha256, oid = (_hashes(data=source) if isinstance(source, bytes) else _hashes(path=source))
    return LocalFile(path, source, size, sha256, oid)


def unchanged(local: LocalFile, remote) -> bool:
    """Whether a remote ``RepoFile`` has ``local``'s content: LFS files are compared by sha256,
    regular files by git blob sha1 (what the hub lists for each)."""
    if remote is None:
        return False
    if getattr(remote, "lfs", None):
        return remote.lfs.sha256 == local.sha256
    return remote.blob_id == local.git_oid


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"  # pragma: no cover


# errors ------------------------------------------------------------------------------------

def scrub(text: str, token: str | None) -> str:
    """``text`` without the token (nor anything shaped like a hub token); see redact.py."""
    from .redact import scrub as scrub_text

    return scrub_text(text, token)


def _transport_error(exc: BaseException) -> bool:
    """A network failure (no answer), as opposed to the hub answering with an error."""
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    if isinstance(exc, (HfHubHTTPError, OfflineModeIsEnabled)):
        return False
    return isinstance(exc, (ConnectionError, TimeoutError)) or any(
        cls.__module__.split(".")[0] in ("httpx", "httpx2", "httpcore", "requests", "urllib3")
        for cls in type(exc).__mro__)


def _describe(exc: BaseException) -> str:
    from huggingface_hub.errors import (HfHubHTTPError, OfflineModeIsEnabled,
                                        RepositoryNotFoundError)

    if isinstance(exc, OfflineModeIsEnabled):
        return "offline mode is on (HF_HUB_OFFLINE=1); unset it to push"
    if isinstance(exc, RepositoryNotFoundError):
        return ("the repo does not exist or your token cannot see it (check the repo id and "
                "that the token has write access)")
    if isinstance(exc, HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else None
        reason = exc.server_message or str(exc).strip().splitlines()[0]
        if status == 401:
            return "the hub refused the token (HTTP 401): log in again or set HF_TOKEN"
        if status == 412:
            return ("the remote branch changed while pushing (someone else committed); "
                    "run the push again")
        return f"HTTP {status}: {' '.join(reason.split())}"
    if isinstance(exc, RuntimeError) and exc.__cause__ is not None:
        return f"{exc} {_describe(exc.__cause__)}"
    text = " ".join(str(exc).split())
    if _transport_error(exc):
        return f"network error: {type(exc).__name__}: {text}".rstrip(": ")
    return f"{type(exc).__name__}: {text}".rstrip(": ")


def _after_commit(exc: BaseException) -> str:
    if _transport_error(exc):
        return ("the connection broke during the commit; the hub applies a commit entirely or "
                "not at all, so run the same push again: it uploads only what is missing")
    return NOTHING_CHANGED


def _with_created(after: str, created: list[str]) -> str:
    """What to say after a failure, once this push has created a repo or branch."""
    if not created:
        return after
    what = " and ".join(created)
    if after == NOTHING_CHANGED:
        return (f"nothing was committed, but this push created {what}; run the same push again "
                "to fill it")
    return f"{after} (this push created {what})"


@contextlib.contextmanager
def _stage(what: str, token: str | None,
           after: Callable[[BaseException], str] = lambda exc: NOTHING_CHANGED) -> Iterator[None]:
    """Turn any hub or network error raised while doing ``what`` into a PushError."""
    try:
        yield
    except PushError:
        raise
    except Exception as exc:  # huggingface_hub raises HTTP, OS, value and runtime errors
        raise PushError(scrub(f"{what} failed: {_describe(exc)}; {after(exc)}", token)) from exc


# the remote ----------------------------------------------------------------------------------

@dataclass
class Remote:
    exists: bool
    branch_exists: bool = False
    head: str | None = None          # commit the plan is made against
    private: bool | None = None
    files: dict = field(default_factory=dict)     # path -> RepoFile
    card: str | None = None


def read_remote(api, repo_id: str, revision: str) -> Remote:
    from huggingface_hub import RepoFile
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    try:
        info = api.repo_info(repo_id, repo_type=REPO_TYPE, revision=revision)
        branch_exists = True
    except RepositoryNotFoundError:
        return Remote(exists=False)
    except RevisionNotFoundError:        # a new branch starts from main
        info = api.repo_info(repo_id, repo_type=REPO_TYPE)
        branch_exists = False
    files = {entry.path: entry for entry in api.list_repo_tree(
        repo_id, repo_type=REPO_TYPE, revision=info.sha, recursive=True)
        if isinstance(entry, RepoFile)}
    card = None
    if CARD in files:
        with tempfile.TemporaryDirectory() as cache:
            card = Path(api.hf_hub_download(repo_id, CARD, repo_type=REPO_TYPE,
                                            revision=info.sha, cache_dir=cache)
                        ).read_text("utf-8")
    return Remote(True, branch_exists, info.sha, info.private, files, card)


# the push ------------------------------------------------------------------------------------

def plan(folder: Path, manifest: dict, remote: Remote, *, delete_stale: bool,
         repo_id: str | None = None) -> tuple[list[Step], list[LocalFile], list[str]]:
    """(steps to print, files to upload, remote paths to delete). With ``repo_id``, the card's
    load snippet names that repo."""
    steps, uploads, deletes = [], [], []
    produced = build_files(folder, manifest)
    for path in produced:
        source: Path | bytes = folder / path
        note = ""
        if path == CARD and repo_id is not None:
            card = source.read_text("utf-8")
            if for_repo(card, repo_id) != card:
                source = for_repo(card, repo_id).encode("utf-8")
        if path == CARD and remote.card is not None:
            card = source.decode("utf-8") if isinstance(source, bytes) else source.read_text("utf-8")
            try:
                merged = merge_card(remote.card, card)
            except ValueError as exc:
                raise PushError(f"cannot merge into the hub's {CARD}: {exc}; fix it on the hub "
                                f"and push again; {NOTHING_CHANGED}") from None
            source, note = merged.encode("utf-8"), "merged into the hub's card"
        local = local_file(path, source)
        remote_file = remote.files.get(path)
        if unchanged(local, remote_file):
            steps.append(Step("skip", path, "unchanged"))
            continue
        state = "new" if remote_file is None else "changed"
        steps.append(Step("add", path, ", ".join(filter(None, [_size(local.size), state, note]))))
        uploads.append(local)
    for path in sorted(set(remote.files) - set(produced)):
        if path in PROTECTED:
            continue
        if delete_stale:
            steps.append(Step("delete", path, "not produced by this build"))
            deletes.append(path)
        else:
            steps.append(Step("keep", path, "only on the hub; --delete-stale would delete it"))
    return steps, uploads, deletes


def commit_message(manifest: dict) -> str:
    totals = manifest["totals"]
    return (f"flanzh {manifest['flanzh_version']}: {totals['tasks']} tasks, "
            f"{totals['rows_written']} records (seed {manifest['seed']})")


def push(folder: Path, repo_id: str, *, private: bool = False, revision: str | None = None,
         dry_run: bool = False, delete_stale: bool = False, token: str | None = None,
         endpoint: str | None = None, message: str | None = None,
         echo: Callable[[str], None] = print) -> PushResult:
    """Push the built ``folder`` to the dataset repo ``repo_id`` (``ORG/NAME``) in one commit.
    ``token`` and ``endpoint`` default to huggingface_hub's configuration (``HF_TOKEN`` or the
    saved login; ``HF_ENDPOINT``). With ``dry_run`` nothing is sent that changes the hub.
    Log records made meanwhile are scrubbed of the token."""
    from .redact import scrubbed_logs

    with scrubbed_logs(token):
        return _push(folder, repo_id, private=private, revision=revision, dry_run=dry_run,
                     delete_stale=delete_stale, token=token, endpoint=endpoint,
                     message=message, echo=echo)


def _push(folder: Path, repo_id: str, *, private: bool, revision: str | None, dry_run: bool,
          delete_stale: bool, token: str | None, endpoint: str | None, message: str | None,
          echo: Callable[[str], None]) -> PushResult:
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, constants
    from huggingface_hub.utils import get_token

    from .redact import remember

    folder = Path(folder)
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise PushError(f"{folder}: no {MANIFEST}; is it a folder flanzh built?")
    try:
        manifest = json.loads(manifest_path.read_text("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise PushError(f"{manifest_path}: not valid JSON ({exc}); rebuild the folder; "
                        "nothing was uploaded") from None
    if not isinstance(manifest, dict):
        raise PushError(f"{manifest_path}: $: expected a mapping; rebuild the folder; "
                        "nothing was uploaded")
    build_files(folder, manifest)       # every listed file present and inside the folder
    verify_shards(folder, manifest)
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise PushError(f"--repo-id must be ORG/NAME, not {repo_id!r}")
    revision = revision or constants.DEFAULT_REVISION
    token = token or get_token()
    remember(token)
    if constants.is_offline_mode():
        raise PushError("offline mode is on (HF_HUB_OFFLINE=1); unset it (or set "
                        "HF_HUB_OFFLINE=0) to push")
    if token is None and not dry_run:
        raise PushError("no Hugging Face token: set HF_TOKEN or log in with `hf auth login`")
    endpoint = (endpoint or constants.ENDPOINT).rstrip("/")
    api = HfApi(endpoint=endpoint, token=token, library_name="flanzh",
                library_version=__version__)
    result = PushResult(repo_id, revision, dry_run=dry_run)

    with _stage(f"reading {repo_id} on {endpoint}", token):
        remote = read_remote(api, repo_id, revision)
    created: list[str] = []           # said when a later step fails: the hub is not unchanged
    if not remote.exists:
        result.steps.append(Step("create-repo", repo_id, "private" if private else "public"))
        if not dry_run:
            with _stage(f"creating the dataset repo {repo_id}", token):
                api.create_repo(repo_id, repo_type=REPO_TYPE, private=private or None,
                                exist_ok=True)
                created.append(f"the dataset repo {repo_id} "
                               f"({'private' if private else 'public'}, empty)")
                remote = read_remote(api, repo_id, revision)
    elif private and remote.private is False:
        echo(f"note: {repo_id} exists and is public; --private only applies when creating it")
    if not remote.branch_exists and revision != constants.DEFAULT_REVISION:
        result.steps.append(Step("create-branch", revision, "from main"))
        if not dry_run and remote.exists:
            with _stage(f"creating the branch {revision}", token):
                api.create_branch(repo_id, branch=revision, repo_type=REPO_TYPE, exist_ok=True)
                created.append(f"the branch {revision} (a copy of main)")
                remote = read_remote(api, repo_id, revision)

    steps, uploads, deletes = plan(folder, manifest, remote, delete_stale=delete_stale,
                                   repo_id=repo_id)
    result.steps += steps
    title = message or commit_message(manifest)
    echo(f"{'dry run: ' if dry_run else ''}push {folder} -> {endpoint}/datasets/{repo_id} "
         f"(revision {revision})")
    for step in result.steps:
        echo(step.line())
    stale_data = [s.path for s in steps if s.action == "keep" and s.path.startswith("data/")]
    if stale_data:
        echo(f"note: {len(stale_data)} shard(s) under data/ are only on the hub; the card's "
             "configs list exact shard paths, so they are not loaded")
    summary = f"{len(uploads)} to upload, {len(deletes)} to delete, {result.count('skip')} unchanged"
    if dry_run:
        echo(f"dry run: would commit \"{title}\": {summary}" if uploads or deletes else
             "dry run: nothing to commit: the hub already has this build")
        return result
    if not uploads and not deletes:
        echo(f"nothing to commit: the hub already has this build ({summary})")
        return result

    additions = [CommitOperationAdd(path_in_repo=f.path, path_or_fileobj=(
        f.source if isinstance(f.source, bytes) else str(f.source))) for f in uploads]
    operations = additions + [CommitOperationDelete(path_in_repo=p, is_folder=False)
                              for p in deletes]
    with _stage("uploading files", token,
                after=lambda exc: _with_created(NOTHING_CHANGED, created)):
        api.preupload_lfs_files(repo_id, additions=additions, repo_type=REPO_TYPE,
                                revision=revision, free_memory=False)
    with _stage("the commit", token, after=lambda exc: _with_created(_after_commit(exc), created)):
        info = api.create_commit(repo_id, operations, commit_message=title,
                                 commit_description=summary, repo_type=REPO_TYPE,
                                 revision=revision, parent_commit=remote.head)
    result.commit_oid, result.commit_url = info.oid, info.commit_url
    echo(f"committed {info.oid[:12]} to {repo_id}@{revision}: {summary}")
    echo(info.commit_url)
    return result

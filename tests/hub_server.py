"""A local stand-in for the Hugging Face Hub: the subset of its HTTP API that huggingface_hub's
``HfApi`` calls when flanzh pushes a dataset, so tests exercise the real client code without the
network. State lives in memory; a threaded ``http.server`` on 127.0.0.1 serves it.

Routes (``{repo}`` is ``namespace/name``; only dataset repos):

    POST /api/repos/create                                    create_repo (409 when it exists)
    GET  /api/datasets/{repo}[/revision/{rev}]                repo_info / dataset_info
    GET  /api/datasets/{repo}/tree/{rev}[/{path}]             list_repo_tree (recursive or not)
    POST /api/datasets/{repo}/paths-info/{rev}                get_paths_info
    POST /api/datasets/{repo}/branch/{branch}                 create_branch
    POST /api/validate-yaml                                   README.md metadata check (commit)
    POST /api/datasets/{repo}/preupload/{rev}                 upload mode (regular / lfs) + oid
    POST /datasets/{repo}.git/info/lfs/objects/batch          LFS batch API ("basic" transfer)
    PUT  /lfs/upload/{sha256}                                 LFS object upload (the "S3" URL)
    POST /lfs/verify                                          LFS verify action
    POST /api/datasets/{repo}/commit/{rev}                    create_commit (NDJSON), atomic
    HEAD|GET /datasets/{repo}/resolve/{rev}/{path}            hf_hub_download

Uploads go through plain LFS: the client picks Xet whenever ``hf_xet`` is importable, so tests
switch it off with huggingface_hub's own switch (``constants.HF_HUB_DISABLE_XET``); this server
implements no Xet route and would answer 404 to one.

Test hooks: ``HubServer.fail(route, status=500, times=1)`` makes the next call(s) of a route
fail, ``drop=True`` closes the connection without answering; ``requests`` logs every call as
``(method, route, path)``; ``files(repo_id)`` and ``head(repo_id)`` read the state.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

GITATTRIBUTES = ("*.parquet filter=lfs diff=lfs merge=lfs -text\n"
                 "*.png filter=lfs diff=lfs merge=lfs -text\n"
                 "*.arrow filter=lfs diff=lfs merge=lfs -text\n").encode()
LFS_PATTERNS = [line.split()[0] for line in GITATTRIBUTES.decode().splitlines()]
LFS_MIN_SIZE = 10 * 1024 * 1024


def git_blob_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(data: bytes) -> bytes:
    return (f"version https://git-lfs.github.com/spec/v1\noid sha256:"
            f"{hashlib.sha256(data).hexdigest()}\nsize {len(data)}\n").encode()


@dataclass
class Blob:
    data: bytes
    lfs: bool

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def oid(self) -> str:
        return git_blob_oid(lfs_pointer(self.data) if self.lfs else self.data)

    def entry(self, path: str) -> dict:
        entry = {"type": "file", "oid": self.oid, "size": len(self.data), "path": path}
        if self.lfs:
            entry["lfs"] = {"oid": self.sha256, "size": len(self.data),
                            "pointerSize": len(lfs_pointer(self.data))}
        return entry


@dataclass
class Commit:
    oid: str
    parent: str | None
    message: str
    files: dict[str, Blob]


@dataclass
class Repo:
    repo_id: str
    private: bool
    branches: dict[str, str] = field(default_factory=dict)
    commits: dict[str, Commit] = field(default_factory=dict)

    def resolve(self, revision: str) -> Commit | None:
        oid = self.branches.get(revision, revision)
        return self.commits.get(oid)


class HttpError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


class Drop(Exception):
    """Close the connection without an answer (a network failure)."""


class HubState:
    def __init__(self, token: str | None):
        self.token = token
        self.repos: dict[str, Repo] = {}
        self.lfs: dict[str, bytes] = {}
        self.requests: list[tuple[str, str, str]] = []
        self.failures: dict[str, list[dict]] = {}
        self.lock = threading.RLock()
        self._counter = 0

    def new_commit(self, repo: Repo, parent: str | None, message: str,
                   files: dict[str, Blob]) -> Commit:
        self._counter += 1
        digest = hashlib.sha1(json.dumps(
            [self._counter, repo.repo_id, parent, message,
             sorted((p, b.oid) for p, b in files.items())]).encode()).hexdigest()
        commit = Commit(digest, parent, message, dict(files))
        repo.commits[digest] = commit
        return commit


class HubServer:
    """Start with ``start()``, stop with ``stop()``; ``endpoint`` is its base URL."""

    def __init__(self, token: str | None = None):
        self.state = HubState(token)
        state = self.state

        class Handler(_Handler):
            hub = state

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        Handler.endpoint = self.endpoint
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> HubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # test hooks
    def fail(self, route: str, *, status: int = 500, times: int = 1, drop: bool = False,
             echo_auth: bool = False) -> None:
        """The next ``times`` calls of ``route`` fail; with ``echo_auth`` the error text repeats
        the request's Authorization header, as some servers and proxies do."""
        with self.state.lock:
            self.state.failures.setdefault(route, []).extend(
                [{"status": status, "drop": drop, "echo_auth": echo_auth}] * times)

    @property
    def requests(self) -> list[tuple[str, str, str]]:
        return list(self.state.requests)

    def calls(self, route: str) -> list[str]:
        return [path for _, r, path in self.state.requests if r == route]

    def files(self, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        with self.state.lock:
            commit = self.state.repos[repo_id].resolve(revision)
            return {path: blob.data for path, blob in commit.files.items()}

    def lfs_paths(self, repo_id: str, revision: str = "main") -> set[str]:
        with self.state.lock:
            commit = self.state.repos[repo_id].resolve(revision)
            return {path for path, blob in commit.files.items() if blob.lfs}

    def head(self, repo_id: str, revision: str = "main") -> str:
        with self.state.lock:
            return self.state.repos[repo_id].branches[revision]

    def history(self, repo_id: str, revision: str = "main") -> list[str]:
        """Commit messages, newest first."""
        with self.state.lock:
            repo = self.state.repos[repo_id]
            commit, messages = repo.resolve(revision), []
            while commit is not None:
                messages.append(commit.message)
                commit = repo.commits.get(commit.parent) if commit.parent else None
            return messages

    def seed(self, repo_id: str, files: dict[str, bytes], *, message: str = "hand-made",
             private: bool = False) -> str:
        """Create ``repo_id`` (if needed) and commit ``files`` to main directly."""
        with self.state.lock:
            repo = self.state.repos.get(repo_id) or _create(self.state, repo_id, private)
            head = repo.resolve("main")
            merged = dict(head.files)
            for path, data in files.items():
                merged[path] = Blob(data, _is_lfs(path, data))
            commit = self.state.new_commit(repo, head.oid, message, merged)
            repo.branches["main"] = commit.oid
            return commit.oid


def _is_lfs(path: str, data: bytes) -> bool:
    name = path.rsplit("/", 1)[-1]
    return (len(data) >= LFS_MIN_SIZE or b"\0" in data[:512]
            or any(fnmatch.fnmatch(name, pattern) for pattern in LFS_PATTERNS))


def _create(state: HubState, repo_id: str, private: bool) -> Repo:
    repo = Repo(repo_id, private)
    state.repos[repo_id] = repo
    commit = state.new_commit(repo, None, "initial commit", {".gitattributes": Blob(GITATTRIBUTES, False)})
    repo.branches["main"] = commit.oid
    return repo


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hub: HubState
    endpoint: str

    def log_message(self, format, *args):   # quiet
        pass

    # plumbing
    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None,
              content_type: str = "application/json", head: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _json(self, status: int, data, headers: dict | None = None) -> None:
        self._send(status, json.dumps(data).encode(), headers)

    def _authorised(self) -> bool | None:
        """True: the right token; False: a wrong one; None: none sent."""
        header = self.headers.get("Authorization")
        if not header:
            return None
        return self.hub.token is None or header == f"Bearer {self.hub.token}"

    def _require_write(self) -> None:
        if self.hub.token is not None and not self._authorised():
            raise HttpError(401, "Invalid credentials in Authorization header")

    def _repo(self, repo_id: str, write: bool = False) -> Repo:
        if write:
            self._require_write()
        elif self._authorised() is False:
            raise HttpError(401, "Invalid credentials in Authorization header")
        repo = self.hub.repos.get(repo_id)
        if repo is None or (repo.private and not self._authorised()):
            raise HttpError(404, "Repository not found", "RepoNotFound")
        return repo

    def _commit(self, repo: Repo, revision: str) -> Commit:
        commit = repo.resolve(unquote(revision))
        if commit is None:
            raise HttpError(404, f"Invalid rev id: {unquote(revision)}", "RevisionNotFound")
        return commit

    # dispatch
    def do_GET(self):
        self._dispatch("GET")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        query = parse_qs(url.query)
        body = self._body() if method in ("POST", "PUT") else b""
        route, handler, args = self._route(method, parts)
        with self.hub.lock:
            self.hub.requests.append((method, route, url.path))
            pending = self.hub.failures.get(route)
            failure = pending.pop(0) if pending else None
        try:
            if failure is not None:
                if failure["drop"]:
                    raise Drop()
                echoed = (f" (request had Authorization: {self.headers.get('Authorization')})"
                          if failure.get("echo_auth") else "")
                raise HttpError(failure["status"], f"injected failure of {route}{echoed}")
            if handler is None:
                raise HttpError(404, f"no route for {method} {url.path}")
            with self.hub.lock:
                handler(*args, body=body, query=query, head=method == "HEAD")
        except Drop:
            self.close_connection = True
        except HttpError as error:
            headers = {"X-Error-Message": error.message}
            if error.code:
                headers["X-Error-Code"] = error.code
            self._send(error.status, json.dumps({"error": error.message}).encode(), headers,
                       head=method == "HEAD")

    def _route(self, method: str, parts: list[str]):
        if parts[:1] == ["api"]:
            if method == "POST" and parts[1:] == ["repos", "create"]:
                return "create", self.create_repo, ()
            if method == "POST" and parts[1:] == ["validate-yaml"]:
                return "validate_yaml", self.validate_yaml, ()
            if len(parts) >= 4 and parts[1] == "datasets":
                repo_id, rest = f"{parts[2]}/{parts[3]}", parts[4:]
                if method == "GET" and not rest:
                    return "repo_info", self.repo_info, (repo_id, "main")
                if method == "GET" and len(rest) == 2 and rest[0] == "revision":
                    return "repo_info", self.repo_info, (repo_id, rest[1])
                if method == "GET" and len(rest) >= 2 and rest[0] == "tree":
                    return "tree", self.tree, (repo_id, rest[1], "/".join(rest[2:]))
                if method == "POST" and len(rest) == 2:
                    name = {"paths-info": "paths_info", "preupload": "preupload",
                            "commit": "commit", "branch": "branch"}.get(rest[0])
                    if name:
                        return name, getattr(self, name), (repo_id, rest[1])
        elif parts[:2] == ["lfs", "upload"] and method == "PUT" and len(parts) == 3:
            return "lfs_upload", self.lfs_upload, (parts[2],)
        elif parts == ["lfs", "verify"] and method == "POST":
            return "lfs_verify", self.lfs_verify, ()
        elif parts[:1] == ["datasets"] and len(parts) >= 3:
            if (method == "POST" and parts[3:] == ["info", "lfs", "objects", "batch"]
                    and parts[2].endswith(".git")):
                return "lfs_batch", self.lfs_batch, (f"{parts[1]}/{parts[2][:-4]}",)
            if method in ("GET", "HEAD") and len(parts) >= 6 and parts[3] == "resolve":
                return "resolve", self.resolve, (f"{parts[1]}/{parts[2]}", parts[4],
                                                 "/".join(parts[5:]))
        return "unknown", None, ()

    # routes
    def create_repo(self, *, body, query, head):
        self._require_write()
        payload = json.loads(body)
        if payload.get("type") != "dataset":
            raise HttpError(400, "this test hub only has dataset repos")
        repo_id = f"{payload['organization']}/{payload['name']}"
        if repo_id in self.hub.repos:
            raise HttpError(409, "You already created this dataset repo")
        _create(self.hub, repo_id, payload.get("visibility") == "private"
                or payload.get("private") is True)
        self._json(200, {"url": f"{self.endpoint}/datasets/{repo_id}", "name": repo_id})

    def repo_info(self, repo_id, revision, *, body, query, head):
        repo = self._repo(repo_id)
        commit = self._commit(repo, revision)
        self._json(200, {"id": repo_id, "author": repo_id.split("/")[0], "sha": commit.oid,
                         "private": repo.private, "disabled": False, "gated": False,
                         "downloads": 0, "likes": 0, "tags": [],
                         "siblings": [{"rfilename": p} for p in sorted(commit.files)]})

    def _entries(self, commit: Commit, prefix: str, recursive: bool) -> list[dict]:
        files = {p: b for p, b in commit.files.items() if not prefix or p.startswith(prefix + "/")}
        if prefix and not files:
            if prefix in commit.files:
                return [commit.files[prefix].entry(prefix)]
            raise HttpError(404, f"{prefix} does not exist", "EntryNotFound")
        depth = prefix.count("/") + 1 if prefix else 0
        entries, folders = [], set()
        for path, blob in sorted(files.items()):
            segments = path.split("/")
            for i in range(depth + 1, len(segments)):
                if recursive or i == depth + 1:
                    folders.add("/".join(segments[:i]))
            if recursive or len(segments) == depth + 1:
                entries.append(blob.entry(path))
        entries += [{"type": "directory", "path": f, "size": 0,
                     "oid": hashlib.sha1(f.encode()).hexdigest()} for f in sorted(folders)]
        return entries

    def tree(self, repo_id, revision, path, *, body, query, head):
        commit = self._commit(self._repo(repo_id), revision)
        recursive = query.get("recursive", ["False"])[0].lower() in ("true", "1")
        self._json(200, self._entries(commit, path.strip("/"), recursive))

    def paths_info(self, repo_id, revision, *, body, query, head):
        commit = self._commit(self._repo(repo_id), revision)
        form = parse_qs(body.decode())
        result = []
        for path in form.get("paths", []):
            if path in commit.files:
                result.append(commit.files[path].entry(path))
            elif any(p.startswith(path.rstrip("/") + "/") for p in commit.files):
                result.append({"type": "directory", "path": path, "size": 0,
                               "oid": hashlib.sha1(path.encode()).hexdigest()})
        self._json(200, result)

    def branch(self, repo_id, branch, *, body, query, head):
        repo = self._repo(repo_id, write=True)
        if branch in repo.branches:
            raise HttpError(409, f"Reference already exists: refs/heads/{branch}")
        payload = json.loads(body or b"{}")
        start = self._commit(repo, payload.get("startingPoint") or "main")
        repo.branches[branch] = start.oid
        self._json(200, {})

    def validate_yaml(self, *, body, query, head):
        content = json.loads(body)["content"]
        if content.startswith("---"):
            header = content.split("\n---", 1)[0].removeprefix("---")
            try:
                meta = yaml.safe_load(header)
            except yaml.YAMLError as exc:
                self._json(400, {"errors": [{"message": f"invalid YAML: {exc}"}]})
                return
            if meta is not None and not isinstance(meta, dict):
                self._json(400, {"errors": [{"message": "metadata is not a mapping"}]})
                return
        self._json(200, {"errors": [], "warnings": []})

    def preupload(self, repo_id, revision, *, body, query, head):
        repo = self._repo(repo_id, write=True)
        commit = self._commit(repo, revision)
        files = []
        for item in json.loads(body)["files"]:
            sample = base64.b64decode(item["sample"])
            lfs = item["size"] >= LFS_MIN_SIZE or _is_lfs(item["path"], sample)
            remote = commit.files.get(item["path"])
            oid = None
            if remote is not None:
                oid = remote.sha256 if remote.lfs else git_blob_oid(remote.data)
            files.append({"path": item["path"], "uploadMode": "lfs" if lfs else "regular",
                          "shouldIgnore": False, "oid": oid})
        self._json(200, {"files": files, "commitOid": commit.oid})

    def lfs_batch(self, repo_id, *, body, query, head):
        self._repo(repo_id, write=True)
        payload = json.loads(body)
        objects = []
        for obj in payload["objects"]:
            entry = {"oid": obj["oid"], "size": obj["size"]}
            if obj["oid"] not in self.hub.lfs:
                entry["authenticated"] = True
                entry["actions"] = {
                    "upload": {"href": f"{self.endpoint}/lfs/upload/{obj['oid']}"},
                    "verify": {"href": f"{self.endpoint}/lfs/verify"},
                }
            objects.append(entry)
        self._send(200, json.dumps({"transfer": "basic", "objects": objects}).encode(),
                   content_type="application/vnd.git-lfs+json")

    def lfs_upload(self, oid, *, body, query, head):
        if hashlib.sha256(body).hexdigest() != oid:
            raise HttpError(400, "uploaded content does not match its sha256")
        self.hub.lfs[oid] = body
        self._send(200, b"", headers={"ETag": f'"{oid}"'})

    def lfs_verify(self, *, body, query, head):
        payload = json.loads(body)
        if payload["oid"] not in self.hub.lfs:
            raise HttpError(404, f"LFS object {payload['oid']} was not uploaded")
        self._json(200, {})

    def commit(self, repo_id, revision, *, body, query, head):
        repo = self._repo(repo_id, write=True)
        branch = unquote(revision)
        parent = self._commit(repo, branch)
        if branch not in repo.branches:
            raise HttpError(400, "commits go to a branch")
        lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        if not lines or lines[0]["key"] != "header":
            raise HttpError(400, "the first NDJSON line must be the header")
        header = lines[0]["value"]
        if header.get("parentCommit") and header["parentCommit"] != parent.oid:
            raise HttpError(412, "A commit has happened since. Please refresh and try again.")
        files = dict(parent.files)           # applied to a copy: all or nothing
        for line in lines[1:]:
            key, value = line["key"], line["value"]
            if key == "file":
                files[value["path"]] = Blob(base64.b64decode(value["content"]), False)
            elif key == "lfsFile":
                data = self.hub.lfs.get(value["oid"])
                if data is None:
                    raise HttpError(422, f"LFS object {value['oid']} of {value['path']} was "
                                         "never uploaded")
                files[value["path"]] = Blob(data, True)
            elif key == "deletedFile":
                if value["path"] not in files:
                    raise HttpError(404, "A file with this name doesn't exist", "EntryNotFound")
                del files[value["path"]]
            elif key == "deletedFolder":
                prefix = value["path"].rstrip("/") + "/"
                files = {p: b for p, b in files.items() if not p.startswith(prefix)}
            else:
                raise HttpError(400, f"unknown operation {key}")
        commit = self.hub.new_commit(repo, parent.oid, header["summary"], files)
        repo.branches[branch] = commit.oid
        self._json(200, {"success": True, "commitOid": commit.oid,
                         "commitUrl": f"{self.endpoint}/datasets/{repo_id}/commit/{commit.oid}",
                         "hookOutput": ""})

    def resolve(self, repo_id, revision, path, *, body, query, head):
        commit = self._commit(self._repo(repo_id), revision)
        blob = commit.files.get(path)
        headers = {"X-Repo-Commit": commit.oid}
        if blob is None:
            self._send(404, json.dumps({"error": "Entry not found"}).encode(),
                       {**headers, "X-Error-Code": "EntryNotFound"}, head=head)
            return
        headers["ETag"] = f'"{blob.oid}"'
        if blob.lfs:
            headers["X-Linked-Etag"] = f'"{blob.sha256}"'
            headers["X-Linked-Size"] = str(len(blob.data))
        self._send(200, blob.data, headers, content_type="application/octet-stream", head=head)

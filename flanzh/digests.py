"""Content digests of files: xxh3-128 for cache keys, sha256 for the manifest's record of what
was read. Each is remembered by the file's stat (path, size, mtime, ctime, inode, device): any
write changes ctime, and ctime cannot be set back, so a file with the same stat has the same
content. Within ``remembered(store)`` they are also kept in a JSON file across runs, so a
rebuild in which nothing changed does not read every source file again."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import xxhash

CHUNK = 1 << 22
ALGORITHMS = {"xxh3": xxhash.xxh3_128, "sha256": hashlib.sha256}

_memo: dict[str, str] = {}          # key -> digest, for this process
_used: set[str] = set()             # keys looked up inside remembered(), saved at its end


def _key(algorithm: str, path: Path) -> str:
    stat = path.stat()
    return "\0".join(map(str, (algorithm, path, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns,
                               stat.st_ino, stat.st_dev)))


def file_digest(path, algorithm: str = "xxh3") -> str:
    """The hex digest of the file's content, read only when its stat is new."""
    path = Path(path).absolute()
    key = _key(algorithm, path)
    if key not in _memo:
        digest = ALGORITHMS[algorithm]()
        # read into one buffer, not a new CHUNK-sized bytes object a read
        buffer = bytearray(CHUNK)
        view = memoryview(buffer)
        with open(path, "rb", buffering=0) as handle:
            while size := handle.readinto(buffer):
                digest.update(view[:size])
        _memo[key] = digest.hexdigest()
    _used.add(key)
    return _memo[key]


@contextlib.contextmanager
def remembered(store: Path | None) -> Iterator[None]:
    """Digests from ``store`` (a JSON file; missing or damaged: none) are known inside; the ones
    looked up inside are written back to it at the end (atomically), the others forgotten."""
    if store is None:
        yield
        return
    try:
        saved = json.loads(Path(store).read_text("utf-8"))
        if isinstance(saved, dict):
            _memo.update({k: v for k, v in saved.items()
                          if isinstance(k, str) and isinstance(v, str)})
    except (OSError, ValueError):
        pass
    _used.clear()
    try:
        yield
    finally:
        keep = {key: _memo[key] for key in sorted(_used) if key in _memo}
        _used.clear()
        try:
            Path(store).parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(f"{store}.tmp-{os.getpid()}")
            tmp.write_text(json.dumps(keep), "utf-8")
            os.replace(tmp, store)
        except OSError:
            pass                    # only a later rebuild's speed depends on it

"""Files' content digests are remembered by stat across runs: a rebuild with nothing changed
reads no source file again, and a changed file (same size and mtime included) is read again."""

import hashlib
import os

import xxhash

from flanzh import digests
from flanzh.digests import file_digest, remembered


def test_digests_are_the_files_content_digests(tmp_path):
    path = tmp_path / "train.json"
    path.write_bytes(b'{"a": 1}\n' * 1000)
    assert file_digest(path) == xxhash.xxh3_128(path.read_bytes()).hexdigest()
    assert file_digest(path, "sha256") == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_second_run_reads_no_unchanged_file_and_rereads_a_changed_one(tmp_path, monkeypatch):
    path, store = tmp_path / "train.json", tmp_path / "cache" / "digests.json"
    path.write_bytes(b"x" * 100)
    with remembered(store):
        first = file_digest(path)
    assert store.is_file()

    monkeypatch.setattr(digests, "_memo", {})                 # a new process
    opened = []
    real_open = open
    monkeypatch.setattr("builtins.open", lambda p, *a, **k: opened.append(str(p)) or
                        real_open(p, *a, **k))
    with remembered(store):
        assert file_digest(path) == first
    assert str(path) not in opened                            # known from the store

    stat = path.stat()
    path.write_bytes(b"y" * 100)                              # same size, and the same mtime:
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))   # only ctime tells it changed
    monkeypatch.setattr(digests, "_memo", {})
    with remembered(store):
        assert file_digest(path) != first
    assert str(path.absolute()) in opened


def test_a_damaged_store_is_ignored_and_rewritten(tmp_path):
    path, store = tmp_path / "train.json", tmp_path / "digests.json"
    path.write_bytes(b"z")
    store.write_text("{not json", "utf-8")
    with remembered(store):
        digest = file_digest(path)
    assert list(__import__("json").loads(store.read_text("utf-8")).values()) == [digest]

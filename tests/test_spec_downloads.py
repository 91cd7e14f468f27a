"""Every spec says how its raw files are had: `source.downloads` (fetched by `flanzh download`)
or `source.manual` (placed by hand after a login), covering exactly the files `source.files`
names; and sources.lock has an entry for every download URL and nothing else. One test per task,
so a failure names the task."""

import json
import re
from urllib.parse import urlparse

import pytest
from typer.testing import CliRunner

from conftest import PROJECT
from file_server import FileServer
from flanzh.cli import app
from flanzh.read.download import download_task, load_lock, save_lock
from flanzh.spec.specs import load_task, load_tasks

TASKS = sorted(t.id for t in load_tasks(PROJECT))
HTTP_ONLY_HOSTS = {"data.statmt.org"}          # statmt.org serves no https
RAW_GITHUB = re.compile(r"^https://raw\.githubusercontent\.com/[^/]+/[^/]+/[0-9a-f]{40}/.+")


def _split_files(source: dict) -> set[str]:
    out = set()
    for value in source["files"].values():
        if isinstance(value, str):
            out.add(value)
        elif isinstance(value, list):
            out.update(value)
        else:
            out.update(value.values())
    return out


def _targets(source: dict) -> list[str]:
    out = []
    for item in source.get("downloads", []):
        out.extend(item["extract"].values() if "extract" in item else [item["to"]])
    return out + list(source.get("manual", {}).get("files", []))


def test_there_are_44_tasks():
    assert len(TASKS) == 44


@pytest.mark.parametrize("task_id", TASKS)
def test_spec_says_how_every_file_is_had(task_id):
    source = load_task(PROJECT, task_id).source
    assert source.get("downloads") or source.get("manual"), \
        f"{task_id}: no source.downloads and no source.manual"
    targets = _targets(source)
    files = _split_files(source)
    assert len(targets) == len(set(targets)), f"{task_id}: a file is named twice: {targets}"
    assert set(targets) - files == set(), f"{task_id}: lands on paths source.files does not name"
    assert files - set(targets) == set(), f"{task_id}: split files nobody downloads or places"


@pytest.mark.parametrize("task_id", TASKS)
def test_download_urls_are_https_and_github_files_pinned(task_id):
    for item in load_task(PROJECT, task_id).source.get("downloads", []):
        url = urlparse(item["url"])
        plain_ok = url.scheme == "http" and url.hostname in HTTP_ONLY_HOSTS
        assert url.scheme == "https" or plain_ok, f"{task_id}: {item['url']} is not https"
        if url.hostname == "raw.githubusercontent.com":
            assert RAW_GITHUB.match(item["url"]), \
                f"{task_id}: {item['url']} is not pinned to a commit"


@pytest.mark.parametrize("task_id", TASKS)
def test_lock_has_every_download_url_and_nothing_stale(task_id):
    urls = {i["url"] for i in load_task(PROJECT, task_id).source.get("downloads", [])}
    entry = load_lock(PROJECT)["sources"].get(task_id)
    assert entry is not None, f"{task_id}: no entry in sources.lock; run `flanzh lock --no-fetch`"
    locked = entry.get("downloads", {})
    assert set(locked) == urls, f"{task_id}: sources.lock and the spec name different URLs"
    for url, record in locked.items():
        if record.get("verified"):
            assert re.fullmatch(r"[0-9a-f]{64}", record["sha256"] or "") and record["size"] > 0, url
        else:
            # nobody here could fetch the real hosts: no made-up checksum stands in for one
            assert record["sha256"] is None and record["size"] is None, url


def test_lock_names_no_task_that_does_not_exist():
    assert set(load_lock(PROJECT)["sources"]) - set(TASKS) == set()


def test_lock_is_what_save_lock_writes():
    text = (PROJECT.root / "sources.lock").read_text("utf-8")
    assert text == json.dumps(json.loads(text), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def _mini_downloads(project, downloads):
    import yaml

    path = project.specs_dir / "sim_afqmc.yaml"
    spec = yaml.safe_load(path.read_text("utf-8"))
    spec["source"]["downloads"] = downloads
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), "utf-8")
    return load_task(project, "sim_afqmc")


def test_null_sums_in_the_lock_download_then_skip_as_unverified(mini_project, tmp_path):
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("train.json", '{"sentence1": "a", "sentence2": "b", "label": "0"}\n')
    with FileServer() as server:
        server.files["/a.zip"] = buffer.getvalue()
        server.files["/dev.json"] = b'{"sentence1": "c", "sentence2": "d", "label": "1"}\n'
        zipped, plain = f"{server.url}/a.zip", f"{server.url}/dev.json"
        task = _mini_downloads(mini_project, [
            {"url": zipped, "extract": {"train.json": "train.json"}},
            {"url": plain, "to": "dev.json"}])
        unverified = {"size": None, "sha256": None, "verified": False}
        save_lock(mini_project, {"version": 1, "sources": {"sim_afqmc": {"downloads": {
            zipped: dict(unverified, files=None), plain: dict(unverified)}}}})
        data = tmp_path / "raw"
        first = download_task(mini_project, task, data, load_lock(mini_project))
        assert first.fetched == first.unverified == [zipped, plain]
        asked = len(server.requests)
        second = download_task(mini_project, task, data, load_lock(mini_project))
        assert second.skipped == second.unverified == [zipped, plain] and not second.fetched
        assert len(server.requests) == asked


def test_lock_no_fetch_records_new_urls_keeps_sums_and_drops_stale(mini_project):
    kept = {"size": 3, "sha256": "a" * 64, "verified": True}
    _mini_downloads(mini_project, [{"url": "https://example.org/kept.json", "to": "train.json"},
                                   {"url": "https://example.org/new.json", "to": "dev.json"}])
    save_lock(mini_project, {"version": 1, "sources": {
        "sim_afqmc": {"downloads": {"https://example.org/kept.json": kept,
                                    "https://example.org/gone.json": kept}},
        "old_task": {"downloads": {}}}})
    result = CliRunner().invoke(app, ["--root", str(mini_project.root), "lock", "--no-fetch"])
    assert result.exit_code == 0, result.output
    assert result.output == ("sim_afqmc: 2 URL(s) recorded, 1 without a checksum\n"
                             "old_task: no such task any more, dropped\n")
    assert load_lock(mini_project)["sources"] == {"sim_afqmc": {"downloads": {
        "https://example.org/kept.json": kept,
        "https://example.org/new.json": {"size": None, "sha256": None, "verified": False}}}}


def test_manifest_and_card_record_every_file_read_with_size_and_sha256(mini_project, tmp_path):
    import hashlib

    from flanzh.build.pipeline import build
    from flanzh.read.sources import SourceMode

    data = tmp_path / "raw" / "sim_afqmc"
    (data / ".downloads").mkdir(parents=True)
    for name in ("train.json", "dev.json"):
        (data / name).write_bytes((mini_project.samples_dir / "sim_afqmc" / name).read_bytes())
    (data / ".downloads" / "afqmc_public.zip").write_bytes(b"archive kept for resuming")
    (data / "train.json.part").write_bytes(b"half a transfer")
    manifest = build(mini_project, tmp_path / "out", mode=SourceMode("data_dir", tmp_path / "raw"))
    expected = [{"path": name, "size": (data / name).stat().st_size,
                 "sha256": hashlib.sha256((data / name).read_bytes()).hexdigest()}
                for name in ("dev.json", "train.json")]
    assert manifest["tasks"]["sim_afqmc"]["read"] == {"files": expected}
    card = (tmp_path / "out" / "README.md").read_text("utf-8")
    for f in expected:
        assert f"| sim_afqmc | `{f['path']}` | {f['size']} | `{f['sha256']}` |" in card


def test_a_hub_build_records_the_commit_it_read(mini_project):
    from flanzh.read.download import read_record
    from flanzh.read.sources import SourceMode

    commit = "0123456789abcdef0123456789abcdef01234567"
    save_lock(mini_project, {"version": 1, "sources": {"sim_afqmc": {"hub": {
        "path": "clue/clue", "name": "afqmc", "requested": "main", "revision": commit}}}})
    task = load_task(mini_project, "sim_afqmc")
    assert read_record(mini_project, task, SourceMode("hub")) == {
        "hub": {"path": "clue/clue", "name": "afqmc", "revision": commit}}


def test_a_failed_download_does_not_stop_the_others_and_notes_are_shown(mini_project, tmp_path,
                                                                         capsys):
    from flanzh.read.download import run_download
    from flanzh.errors import SourceError

    with FileServer() as server:
        server.files["/dev.json"] = b'{"sentence1": "c", "sentence2": "d", "label": "1"}\n'
        task = _mini_downloads(mini_project, [{"url": f"{server.url}/missing.json",
                                               "to": "train.json"}])
        import yaml

        path = mini_project.specs_dir / "sim_afqmc.yaml"
        spec = yaml.safe_load(path.read_text("utf-8"))
        spec["source"]["manual"] = {"page": "https://www.luge.ai/#/luge/dataDetail?id=38",
                                    "files": ["dev.json"], "note": "log in, then unpack"}
        path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), "utf-8")
        task = load_task(mini_project, "sim_afqmc")
        data = tmp_path / "raw"
        with pytest.raises(SourceError) as error:
            run_download(mini_project, [task, task], data, print)
    assert str(error.value) == ("2 task(s) could not be downloaded: sim_afqmc, sim_afqmc (reasons "
                                "above); run `flanzh download` again: it resumes where it stopped")
    printed = capsys.readouterr().out
    line = (f"sim_afqmc: FAILED: {server.url}/missing.json: the server answered 404 Not Found; "
            "get by hand from https://www.luge.ai/#/luge/dataDetail?id=38 and place under "
            f"{data / 'sim_afqmc'}/: dev.json (log in, then unpack)\n")
    assert printed.count(line) == 2

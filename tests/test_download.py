"""flanzh download and flanzh lock end to end against loopback servers: an HTTP file server (an
archive, a resumed transfer, a checksum that changed upstream, a login-only source) and the
loopback hub (a revision resolved to a commit and recorded)."""

import hashlib
import io
import json
import zipfile

import pytest
import yaml
from typer.testing import CliRunner

from file_server import FileServer
from flanzh.cli import app
from flanzh.errors import SourceError
from flanzh.read.download import (LOCK_FILE, download_task, load_lock, lock_task, run_download,
                                  save_lock)
from flanzh.read.sources import hub_revision
from flanzh.spec.specs import load_task

TRAIN = "".join(json.dumps({"sentence1": f"花呗怎么还款{i}", "sentence2": f"怎么还花呗{i}",
                            "label": str(i % 2)}, ensure_ascii=False) + "\n" for i in range(300))
DEV = TRAIN[:400]


def archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("afqmc_public/train.json", TRAIN)
        z.writestr("afqmc_public/dev.json", DEV)
    return buffer.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def set_source(project, **source):
    path = project.specs_dir / "sim_afqmc.yaml"
    spec = yaml.safe_load(path.read_text("utf-8"))
    spec["source"].update(source)
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), "utf-8")
    return load_task(project, "sim_afqmc")


@pytest.fixture
def server():
    with FileServer() as s:
        yield s


def test_archive_is_fetched_extracted_and_skipped_the_second_time(mini_project, server, tmp_path):
    server.files["/afqmc_public.zip"] = archive()
    task = set_source(mini_project, downloads=[{
        "url": f"{server.url}/afqmc_public.zip",
        "extract": {"afqmc_public/train.json": "train.json", "afqmc_public/dev.json": "dev.json"}}])
    data = tmp_path / "raw"
    first = download_task(mini_project, task, data, load_lock(mini_project))
    assert (data / "sim_afqmc" / "train.json").read_text("utf-8") == TRAIN
    assert (data / "sim_afqmc" / "dev.json").read_text("utf-8") == DEV
    assert first.fetched == first.unverified == [f"{server.url}/afqmc_public.zip"]
    assert not list(data.rglob("*.part"))
    requests = len(server.requests)
    second = download_task(mini_project, task, data, load_lock(mini_project))
    assert second.skipped == [f"{server.url}/afqmc_public.zip"] and not second.fetched
    assert len(server.requests) == requests               # nothing asked of the server


def test_a_broken_transfer_leaves_no_file_and_resumes_with_a_range(mini_project, server, tmp_path):
    body = TRAIN.encode()
    server.files["/train.json"] = body
    server.cut["/train.json"] = 1000
    task = set_source(mini_project, downloads=[{"url": f"{server.url}/train.json",
                                                "to": "train.json"}])
    data = tmp_path / "raw"
    with pytest.raises(SourceError) as error:
        download_task(mini_project, task, data, load_lock(mini_project))
    assert "run `flanzh download` again to resume" in str(error.value)
    target = data / "sim_afqmc" / "train.json"
    assert not target.exists()                            # never a partial file under the name
    assert (data / "sim_afqmc" / "train.json.part").stat().st_size == 1000
    download_task(mini_project, task, data, load_lock(mini_project))
    assert target.read_bytes() == body
    assert server.requests[-1] == ("/train.json", "bytes=1000-")


def test_a_checksum_changed_upstream_is_an_error_with_both_sums(mini_project, server, tmp_path):
    server.files["/train.json"] = b"changed upstream\n"
    url = f"{server.url}/train.json"
    task = set_source(mini_project, downloads=[{"url": url, "to": "train.json"}])
    save_lock(mini_project, {"version": 1, "sources": {"sim_afqmc": {"downloads": {
        url: {"size": len(TRAIN.encode()), "sha256": sha(TRAIN.encode()), "verified": True}}}}})
    data = tmp_path / "raw"
    with pytest.raises(SourceError) as error:
        download_task(mini_project, task, data, load_lock(mini_project))
    assert str(error.value) == (
        f"{url}: checksum changed upstream: {LOCK_FILE} has sha256 {sha(TRAIN.encode())} "
        f"({len(TRAIN.encode())} bytes), the download has sha256 {sha(b'changed upstream' + bytes([10]))} "
        "(17 bytes); if the new file is the one you want, run `flanzh lock` and review the "
        "change, else report it to the dataset's maintainers")
    assert not list((data / "sim_afqmc").iterdir())


def test_lock_records_sums_that_download_then_verifies(mini_project, server, tmp_path):
    server.files["/afqmc_public.zip"] = archive()
    url = f"{server.url}/afqmc_public.zip"
    task = set_source(mini_project, downloads=[{
        "url": url, "extract": {"afqmc_public/train.json": "train.json"}}])
    lock = load_lock(mini_project)
    lock_task(mini_project, task, lock, tmp_path / "work")
    save_lock(mini_project, lock)
    recorded = load_lock(mini_project)["sources"]["sim_afqmc"]["downloads"][url]
    assert recorded == {"size": len(archive()), "sha256": sha(archive()), "verified": True,
                        "files": {"train.json": sha(TRAIN.encode())}}
    outcome = download_task(mini_project, task, tmp_path / "raw", load_lock(mini_project))
    assert outcome.fetched == [url] and outcome.unverified == []


def test_login_only_source_lists_the_page_and_files(mini_project, tmp_path, capsys):
    task = set_source(mini_project, downloads=[], manual={
        "page": "https://www.luge.ai/#/luge/dataDetail?id=40",
        "files": ["doctor_dataset/doctor_train.json", "train.json"]})
    data = tmp_path / "raw"
    (data / "sim_afqmc").mkdir(parents=True)
    (data / "sim_afqmc" / "train.json").write_text(TRAIN, "utf-8")
    lines = []
    assert run_download(mini_project, [task], data, lines.append) is False
    printed = capsys.readouterr().out
    assert ("sim_afqmc: get by hand from https://www.luge.ai/#/luge/dataDetail?id=40 and place under "
            f"{data / 'sim_afqmc'}/: doctor_dataset/doctor_train.json\n") in printed


def test_download_targets_must_stay_inside_the_data_folder(mini_project, tmp_path):
    task = set_source(mini_project, downloads=[{"url": "http://127.0.0.1:9/x", "to": "../x"}])
    with pytest.raises(SourceError) as error:
        download_task(mini_project, task, tmp_path / "raw", load_lock(mini_project))
    assert str(error.value) == ("task_specs/sim_afqmc.yaml: $.source.downloads[0]: '../x' must be a "
                                "relative path inside the task's data folder (no '..', no absolute "
                                "path)")


def test_cli_download_then_build_from_the_data_dir(mini_project, server, tmp_path):
    server.files["/afqmc_public.zip"] = archive()
    set_source(mini_project, downloads=[{
        "url": f"{server.url}/afqmc_public.zip",
        "extract": {"afqmc_public/train.json": "train.json", "afqmc_public/dev.json": "dev.json"}}])
    data = tmp_path / "raw"
    runner = CliRunner()
    result = runner.invoke(app, ["--root", str(mini_project.root), "download",
                                 "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    assert "sim_afqmc: 1 downloaded" in result.output
    result = runner.invoke(app, ["--root", str(mini_project.root), "build", "--data-dir",
                                 str(data), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "records written" in result.output


def test_a_hub_revision_is_resolved_and_recorded(mini_project, monkeypatch):
    from huggingface_hub import constants

    from conftest import refuse_non_loopback

    from hub_server import HubServer

    hub = HubServer().start()
    try:
        commit = hub.seed("clue/clue", {"afqmc/train.parquet": b"x"})
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
        monkeypatch.setattr(constants, "ENDPOINT", hub.endpoint)
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        refuse_non_loopback(monkeypatch)
        task = load_task(mini_project, "sim_afqmc")
        assert task.source["hub"]["revision"] == "main"
        assert hub_revision(mini_project, task) == commit
        assert load_lock(mini_project)["sources"]["sim_afqmc"]["hub"] == {
            "path": "clue/clue", "name": "afqmc", "requested": "main", "revision": commit}
        hub.seed("clue/clue", {"afqmc/train.parquet": b"y"})      # main moves on upstream
        assert hub_revision(mini_project, task) == commit         # the lock keeps the build put
    finally:
        hub.stop()

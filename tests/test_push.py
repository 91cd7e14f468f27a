"""`flanzh push` against a local stand-in for the hub (tests/hub_server.py): the real
huggingface_hub client code runs, only the server is fake. Nothing here touches the network."""

from pathlib import Path

import polars as pl
import pytest

from flanzh.build.card import BEGIN, END, LOAD_PLACEHOLDER, for_repo, merge_card
from flanzh.build.pipeline import build
from flanzh.errors import PushError
from flanzh.publish.push import push
from conftest import refuse_non_loopback, run_main
from hub_server import HubServer

TOKEN = "hf_FlanzhTestTokenDoNotLeak0123456789"
REPO = "flanzh-org/chinese-flan"


@pytest.fixture
def hub(monkeypatch, tmp_path, request):
    """The test hub, with huggingface_hub pointed at it: online (conftest sets offline mode for
    every other test), Xet off (its own switch, so uploads take the plain LFS route the server
    implements), no telemetry (it would fetch a registry from huggingface.co), a token in
    HF_TOKEN, and any connection that is not to 127.0.0.1 refused."""
    from huggingface_hub import constants

    token = getattr(request, "param", TOKEN)      # parametrize indirectly for another token
    server = HubServer(token=token).start()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setenv("HF_TOKEN", token)
    refuse_non_loopback(monkeypatch)
    ENDPOINT["url"] = server.endpoint
    yield server
    server.stop()
    assert "unknown" not in {route for _, route, _ in server.requests}, server.requests


@pytest.fixture
def folder(mini_project, tmp_path):
    """A built sim_afqmc in three shards."""
    out = tmp_path / "out"
    build(mini_project, out, shard_rows=10)
    return out


def local_files(folder: Path) -> dict[str, bytes]:
    """The build's files as a push to REPO uploads them (the card's load snippet names REPO)."""
    files = {p.relative_to(folder).as_posix(): p.read_bytes()
             for p in folder.rglob("*") if p.is_file()}
    files["README.md"] = for_repo(files["README.md"].decode("utf-8"), REPO).encode("utf-8")
    return files


ENDPOINT = {}


def run(folder, **kwargs):
    """push() with the endpoint passed explicitly, as a caller would; returns what it printed."""
    lines = []
    result = push(folder, REPO, endpoint=ENDPOINT["url"], echo=lines.append, **kwargs)
    return result, lines


def test_creates_a_missing_repo_and_uploads_the_build_in_one_commit(hub, folder):
    result, lines = run(folder)
    assert result.steps[0].action == "create-repo"
    assert REPO in hub.state.repos and not hub.state.repos[REPO].private
    assert hub.files(REPO) == {".gitattributes": hub.files(REPO)[".gitattributes"],
                               **local_files(folder)}
    assert hub.history(REPO) == ["flanzh 0.1.0: 1 tasks, 30 records (seed 20230918)",
                                 "initial commit"]
    assert len(hub.calls("commit")) == 1
    shards = sorted(p for p in local_files(folder) if p.endswith(".parquet"))
    assert len(shards) == 3 and set(shards) <= hub.lfs_paths(REPO)    # parquet goes through LFS
    assert "README.md" not in hub.lfs_paths(REPO)
    card = hub.files(REPO)["README.md"].decode("utf-8")
    assert f'everything = load_dataset("{REPO}", split="train")' in card
    assert LOAD_PLACEHOLDER not in card and LOAD_PLACEHOLDER in (folder / "README.md").read_text()
    assert lines[-1] == result.commit_url and result.commit_oid == hub.head(REPO)


def test_private_repo(hub, folder):
    run(folder, private=True)
    assert hub.state.repos[REPO].private


def test_second_push_without_changes_commits_nothing(hub, folder):
    run(folder)
    head, calls = hub.head(REPO), len(hub.requests)
    result, lines = run(folder)
    assert hub.head(REPO) == head and result.commit_oid is None
    assert {s.action for s in result.steps} == {"skip"}
    assert len(result.steps) == len(local_files(folder))
    new_routes = {route for _, route, _ in hub.requests[calls:]}
    assert new_routes <= {"repo_info", "tree", "resolve"}          # read only
    assert lines[-1].startswith("nothing to commit: the hub already has this build")


def test_a_changed_shard_uploads_only_that_file(hub, folder):
    run(folder)
    shard = folder / "data/sim_afqmc/train-00001-of-00003.parquet"
    frame = pl.read_parquet(shard)
    frame.with_columns(pl.col("targets").str.replace("相同", "一样")).write_parquet(shard)
    before, calls = hub.files(REPO), len(hub.requests)
    result, _ = run(folder)
    uploaded = [s.path for s in result.steps if s.action == "add"]
    assert uploaded == ["data/sim_afqmc/train-00001-of-00003.parquet"]
    after = hub.files(REPO)
    assert {p for p in after if after[p] != before.get(p)} == set(uploaded)
    assert after[uploaded[0]] == shard.read_bytes()
    assert [route for _, route, _ in hub.requests[calls:]].count("lfs_upload") == 1


def test_remote_only_files_survive_unless_delete_stale(hub, folder):
    run(folder)
    hub.seed(REPO, {"notes/curation.md": b"hand-written notes\n",
                    "data/old_task/train-00000-of-00001.parquet": b"PAR1 stale"})
    result, lines = run(folder)
    kept = sorted(s.path for s in result.steps if s.action == "keep")
    assert kept == ["data/old_task/train-00000-of-00001.parquet", "notes/curation.md"]
    assert {"notes/curation.md", "data/old_task/train-00000-of-00001.parquet"} <= set(hub.files(REPO))
    assert any("only on the hub" in line and "not loaded" in line for line in lines)

    result, _ = run(folder, delete_stale=True)
    assert sorted(s.path for s in result.steps if s.action == "delete") == kept
    remote = hub.files(REPO)
    assert set(remote) == set(local_files(folder)) | {".gitattributes"}


def test_hand_written_card_text_survives_a_push(hub, folder, mini_project):
    run(folder)
    card = hub.files(REPO)["README.md"].decode()
    edited = card.replace("language:\n", "tags:\n- instruction-tuning\nlanguage:\n", 1)
    edited = edited.replace(BEGIN, "Curated by the flanzh team. 手写的说明。\n\n" + BEGIN)
    edited += "\n## Contact\n\nOpen a discussion on this repo.\n"
    hub.seed(REPO, {"README.md": edited.encode()})

    build(mini_project, folder, seed=7, shard_rows=10)          # a new build: new card section
    result, _ = run(folder)
    remote = hub.files(REPO)["README.md"].decode()
    local = for_repo((folder / "README.md").read_text("utf-8"), REPO)
    assert remote == merge_card(edited, local)
    assert "Curated by the flanzh team. 手写的说明。" in remote
    assert remote.endswith("## Contact\n\nOpen a discussion on this repo.\n")
    assert "tags:\n- instruction-tuning\n" in remote
    assert "- flanzh 0.1.0, seed 7" in remote and "seed 20230918" not in remote
    generated = local[local.index(BEGIN):local.index(END)]
    assert generated in remote
    readme = next(s for s in result.steps if s.path == "README.md")
    assert readme.action == "add" and "merged into the hub's card" in readme.detail

    before = hub.head(REPO)
    run(folder)                                                  # merged card is stable
    assert hub.head(REPO) == before


def test_dry_run_prints_the_operations_and_changes_nothing(hub, folder):
    result, lines = run(folder, dry_run=True)
    assert REPO not in hub.state.repos
    assert {method for method, _, _ in hub.requests} == {"GET"}
    assert lines[0] == f"dry run: push {folder} -> {hub.endpoint}/datasets/{REPO} (revision main)"
    assert lines[1] == f"  create-repo   {REPO}  (public)"
    added = [line.split()[1] for line in lines if line.startswith("  add")]
    assert sorted(added) == sorted(local_files(folder))
    assert lines[-1] == ('dry run: would commit "flanzh 0.1.0: 1 tasks, 30 records (seed '
                         f'20230918)": {len(added)} to upload, 0 to delete, 0 unchanged')

    run(folder)
    hub.seed(REPO, {"extra.txt": b"x"})
    (folder / "rejects.jsonl").write_text("{}\n")
    head, files = hub.head(REPO), hub.files(REPO)
    result, lines = run(folder, dry_run=True, delete_stale=True)
    assert hub.head(REPO) == head and hub.files(REPO) == files
    assert "  add           rejects.jsonl  (3 B, changed)" in lines
    assert "  delete        extra.txt  (not produced by this build)" in lines
    assert "  skip          manifest.json  (unchanged)" in lines
    assert lines[-1].endswith(": 1 to upload, 1 to delete, " f"{len(files) - 3} unchanged")


def test_server_error_mid_commit_leaves_the_remote_unchanged(hub, folder):
    run(folder)
    shard = folder / "data/sim_afqmc/train-00000-of-00003.parquet"
    pl.read_parquet(shard).with_columns(pl.col("targets").str.replace("相同", "一样")) \
        .write_parquet(shard)
    head, files = hub.head(REPO), hub.files(REPO)
    hub.fail("commit", status=500)
    with pytest.raises(PushError) as error:
        run(folder)
    assert str(error.value) == ("the commit failed: HTTP 500: injected failure of commit; "
                                "nothing was committed; the remote repo is unchanged")
    assert hub.head(REPO) == head and hub.files(REPO) == files

    calls = len(hub.requests)
    run(folder)                       # the retry finds the LFS object already uploaded
    assert hub.files(REPO)[shard.relative_to(folder).as_posix()] == shard.read_bytes()
    assert "lfs_upload" not in {route for _, route, _ in hub.requests[calls:]}


def test_network_failure_gives_a_clear_error(hub, folder):
    run(folder)
    (folder / "rejects.jsonl").write_text("{}\n")
    head = hub.head(REPO)
    hub.fail("commit", drop=True)
    with pytest.raises(PushError) as error:
        run(folder)
    message = str(error.value)
    assert message.startswith("the commit failed: network error: RemoteProtocolError")
    assert message.endswith("the connection broke during the commit; the hub applies a commit "
                            "entirely or not at all, so run the same push again: it uploads "
                            "only what is missing")
    assert hub.head(REPO) == head

    hub.fail("repo_info", drop=True)
    with pytest.raises(PushError) as error:
        run(folder)
    assert str(error.value).startswith(f"reading {REPO} on {hub.endpoint} failed: network error")
    assert str(error.value).endswith("nothing was committed; the remote repo is unchanged")


def test_a_branch_is_created_and_main_is_left_alone(hub, folder):
    run(folder)
    main_head = hub.head(REPO)
    (folder / "rejects.jsonl").write_text("{}\n")
    result, _ = run(folder, revision="next")
    assert result.steps[0].action == "create-branch"
    assert [s.path for s in result.steps if s.action == "add"] == ["rejects.jsonl"]
    assert hub.head(REPO) == main_head
    assert hub.files(REPO, "next")["rejects.jsonl"] == b"{}\n"


def test_refuses_when_offline_or_without_a_token(hub, folder, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(PushError, match=r"^offline mode is on \(HF_HUB_OFFLINE=1\)"):
        run(folder)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setattr("huggingface_hub.utils.get_token", lambda: None)
    with pytest.raises(PushError, match="^no Hugging Face token: set HF_TOKEN"):
        run(folder)
    assert hub.requests == []


def test_unbalanced_markers_in_the_remote_card_are_refused(hub, folder):
    run(folder)
    hub.seed(REPO, {"README.md": f"# mine\n\n{BEGIN}\nhalf a section\n".encode()})
    head = hub.head(REPO)
    with pytest.raises(PushError, match="^cannot merge into the hub's README.md: it has 1"):
        run(folder)
    assert hub.head(REPO) == head


def cli(args, monkeypatch):
    """Run the real entry point; return (exit code, stdout + stderr)."""
    return run_main(args, monkeypatch)


def test_the_token_never_appears_in_any_output(hub, folder, monkeypatch, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    base = ["push", str(folder), "--repo-id", REPO, "--endpoint", hub.endpoint]
    outputs = []
    code, text = cli(base + ["--dry-run"], monkeypatch)
    assert code == 0 and "create-repo" in text
    outputs.append(text)
    code, text = cli(base, monkeypatch)
    assert code == 0 and "committed" in text
    outputs.append(text)
    (folder / "rejects.jsonl").write_text("{}\n")
    hub.fail("commit", status=500)
    code, text = cli(base, monkeypatch)
    assert code == 1 and "\nError: the commit failed: HTTP 500: injected failure" in text
    outputs.append(text)
    hub.fail("preupload", status=403)
    code, text = cli(base, monkeypatch)
    assert code == 1 and "\nError: uploading files failed: HTTP 403" in text
    outputs.append(text)
    monkeypatch.setenv("HF_TOKEN", TOKEN + "wrong")
    code, text = cli(base, monkeypatch)
    assert code == 1 and "the hub refused the token (HTTP 401)" in text
    outputs.append(text)
    # the token did reach the hub, in the Authorization header only
    assert hub.state.token == TOKEN
    for text in outputs + [caplog.text]:
        assert TOKEN not in text
        assert TOKEN[3:] not in text


def test_push_cli_reports_a_folder_that_was_not_built(tmp_path, monkeypatch):
    code, text = cli(["push", str(tmp_path), "--repo-id", REPO], monkeypatch)
    assert code == 1
    assert text == f"Error: {tmp_path}: no manifest.json; is it a folder flanzh built?\n"


def test_cli_takes_the_endpoint_from_hf_endpoint(hub, folder, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    code, text = cli(["push", str(folder), "--repo-id", REPO, "--dry-run"], monkeypatch)
    assert code == 0, text
    assert text.splitlines()[0] == (f"dry run: push {folder} -> {hub.endpoint}/datasets/{REPO} "
                                    "(revision main)")
    assert REPO not in hub.state.repos


# hostile or damaged folders (issue 19): nothing outside the folder, and nothing damaged, is sent

def edit_manifest(folder, change):
    import json

    path = folder / "manifest.json"
    manifest = json.loads(path.read_text("utf-8"))
    change(manifest)
    path.write_text(json.dumps(manifest), "utf-8")


@pytest.mark.parametrize("field, value, where, why", [
    ("rejects_file", "ABS", "$.rejects_file", "is absolute; push only uploads files inside FOLDER"),
    ("report", ["report/report.md", "../secret.txt"], "$.report[1]",
     "goes up a folder with '..'; push only uploads files inside FOLDER"),
    ("shard", "data/../../secret.txt", "$.tasks.sim_afqmc.shards[0]",
     "goes up a folder with '..'; push only uploads files inside FOLDER"),
])
def test_push_refuses_manifest_paths_outside_the_folder(hub, folder, tmp_path, field, value,
                                                        where, why):
    secret = tmp_path / "secret.txt"
    secret.write_text("hunter2\n", "utf-8")
    value = str(secret) if value == "ABS" else value

    def change(manifest):
        if field == "shard":
            manifest["tasks"]["sim_afqmc"]["shards"][0] = value
        else:
            manifest[field] = value

    edit_manifest(folder, change)
    shown = value[1] if isinstance(value, list) else value
    with pytest.raises(PushError) as error:
        run(folder)
    assert str(error.value) == (f"{folder}/manifest.json: {where}: '{shown}' "
                                f"{why.replace('FOLDER', str(folder))}; rebuild the folder; "
                                "nothing was uploaded")
    assert hub.requests == [] and REPO not in hub.state.repos


def test_push_refuses_a_symlink_in_the_folder_pointing_outside(hub, folder, tmp_path):
    import os

    secret = tmp_path / "secret.txt"
    secret.write_text("hunter2\n", "utf-8")
    (folder / "rejects.jsonl").unlink()
    os.symlink(secret, folder / "rejects.jsonl")
    with pytest.raises(PushError) as error:
        run(folder)
    assert str(error.value) == (
        f"{folder}/manifest.json: $.rejects_file: 'rejects.jsonl' resolves to {secret.resolve()}, "
        f"outside {folder}; push only uploads files inside the folder; rebuild the folder; "
        "nothing was uploaded")
    assert hub.requests == []


def test_push_cli_names_a_dotdot_report_path_without_a_traceback(hub, folder, monkeypatch):
    edit_manifest(folder, lambda m: m.update(report=["../x.md"]))
    code, text = cli(["push", str(folder), "--repo-id", REPO, "--endpoint", hub.endpoint],
                     monkeypatch)
    assert code == 1 and "Traceback" not in text
    assert text == (f"Error: {folder}/manifest.json: $.report[0]: '../x.md' goes up a folder with "
                    f"'..'; push only uploads files inside {folder}; rebuild the folder; nothing "
                    "was uploaded\n")


def test_a_truncated_shard_is_refused_before_anything_is_uploaded(hub, folder):
    shard = folder / "data/sim_afqmc/train-00001-of-00003.parquet"
    shard.write_bytes(shard.read_bytes()[:-100])
    with pytest.raises(PushError) as error:
        run(folder)
    assert str(error.value).startswith(f"{shard}: not a readable parquet file (")
    assert str(error.value).endswith("); rebuild the folder; nothing was uploaded")
    assert hub.requests == []


def test_shards_whose_rows_differ_from_the_manifest_are_refused(hub, folder):
    shard = folder / "data/sim_afqmc/train-00001-of-00003.parquet"
    pl.read_parquet(shard).head(3).write_parquet(shard)
    with pytest.raises(PushError) as error:
        run(folder, dry_run=True)
    assert str(error.value) == (f"{folder}: task sim_afqmc: its shards hold 23 rows but "
                                "manifest.json says 30 were written; rebuild the folder; "
                                "nothing was uploaded")
    assert hub.requests == []


def test_an_unreadable_manifest_is_a_clear_error(hub, folder):
    (folder / "manifest.json").write_text('{"tasks": ', "utf-8")
    with pytest.raises(PushError) as error:
        run(folder)
    assert str(error.value).startswith(f"{folder}/manifest.json: not valid JSON (")


PLAIN_TOKEN = "plain-Secret-4711-not-hf-shaped"
STATUS = {"commit": 500, "preupload": 403, "repo_info": 400}     # codes the client does not retry


@pytest.mark.parametrize("hub", [TOKEN, PLAIN_TOKEN], indirect=True)
@pytest.mark.parametrize("route", ["commit", "preupload", "repo_info"])
def test_debug_tracebacks_never_show_a_token_the_hub_echoes_back(hub, folder, monkeypatch,
                                                                 caplog, route):
    import logging

    caplog.set_level(logging.DEBUG)
    token = hub.state.token
    hub.fail(route, status=STATUS[route], echo_auth=True)
    code, text = cli(["--debug", "push", str(folder), "--repo-id", REPO, "--endpoint",
                      hub.endpoint], monkeypatch)
    assert code == 1
    assert "Traceback (most recent call last)" in text and "PushError" in text
    assert "Authorization: ***" in text     # the echo arrived, scrubbed
    for shown in (text, caplog.text):
        assert token not in shown and token[3:] not in shown
    # and without --debug, the one-line error is scrubbed too
    hub.fail(route, status=STATUS[route], echo_auth=True)
    code, text = cli(["push", str(folder), "--repo-id", REPO, "--endpoint", hub.endpoint],
                     monkeypatch)
    assert code == 1 and "\nError: " in "\n" + text and "Traceback" not in text
    assert token not in text and token[3:] not in text


def test_scrub_removes_known_tokens_and_token_shapes(monkeypatch):
    from flanzh.publish.redact import scrub

    monkeypatch.setenv("HF_TOKEN", PLAIN_TOKEN)
    assert scrub(f"x {PLAIN_TOKEN} y") == "x *** y"
    assert scrub("headers {'authorization': 'Bearer abc.def-123'}") == \
        "headers {'authorization': '***'}"
    assert scrub("Authorization: Bearer qwerty1234 sent") == "Authorization: *** sent"
    assert scrub("sent Bearer qwerty1234") == "sent Bearer ***"
    assert scrub("token hf_AbCdEfGh12345 leaked") == "token hf_*** leaked"


def test_log_records_are_scrubbed_while_the_cli_runs(monkeypatch, caplog):
    import logging

    from flanzh.publish.redact import scrubbed_logs

    monkeypatch.setenv("HF_TOKEN", PLAIN_TOKEN)
    caplog.set_level(logging.DEBUG)
    with scrubbed_logs(None):
        logging.getLogger("some.library").debug("sent headers %s", {"authorization": "Bearer x1"})
        logging.getLogger("some.library").warning("token is %s", PLAIN_TOKEN)
    logging.getLogger("some.library").warning("after: %s", "plain")
    assert [r.getMessage() for r in caplog.records] == [
        "sent headers {'authorization': '***'}", "token is ***", "after: plain"]

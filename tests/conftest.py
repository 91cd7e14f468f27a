import os

# Tests never touch the network; without these a hub lookup retries for ~25 s before failing.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
# A fresh datasets cache per run: pytest reuses tmp paths across runs, and datasets would
# otherwise serve a folder's old parquet from its cache after the files were rebuilt.
import tempfile  # noqa: E402

os.environ["HF_DATASETS_CACHE"] = tempfile.mkdtemp(prefix="flanzh-tests-hf-")

import shutil
from pathlib import Path

import pytest
from hypothesis import settings

# CI explores the same examples on every run (a red build must be reproducible); locally each run
# tries new ones.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

from flanzh.project import Project
from flanzh.spec.specs import task_ids

REPO = Path(__file__).resolve().parent.parent
PROJECT = Project(REPO)
TASK_IDS = task_ids(PROJECT)


@pytest.fixture(scope="session")
def project() -> Project:
    return PROJECT


@pytest.fixture
def mini_project(tmp_path) -> Project:
    """A throwaway project holding a copy of sim_afqmc, for tests that break things."""
    for folder in ("task_specs", "templates"):
        (tmp_path / folder).mkdir()
        shutil.copy(REPO / folder / "sim_afqmc.yaml", tmp_path / folder / "sim_afqmc.yaml")
    shutil.copytree(REPO / "samples" / "sim_afqmc", tmp_path / "samples" / "sim_afqmc")
    return Project(tmp_path)


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """One build of every task on the bundled samples, shared by the tests that only read it."""
    from flanzh.build.pipeline import build

    out = tmp_path_factory.mktemp("built") / "out"
    manifest = build(PROJECT, out)
    return out, manifest


def run_main(args, monkeypatch):
    """Run the real entry point (flanzh.cli.main); return (exit code, stdout + stderr)."""
    import io

    from flanzh.cli import main

    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.argv", ["flanzh", *args])
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setattr("sys.stderr", err)
    try:
        main()
        code = 0
    except SystemExit as exit_info:
        code = exit_info.code
    return code, out.getvalue() + err.getvalue()


def refuse_non_loopback(monkeypatch) -> None:
    """Any connection that is not to 127.0.0.1 (or ::1) fails, for tests that talk to a
    loopback server."""
    import socket

    real_connect = socket.socket.connect

    def loopback_only(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in (
                "127.0.0.1", "::1", "localhost"):
            raise OSError(f"test tried to reach {address}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", loopback_only)

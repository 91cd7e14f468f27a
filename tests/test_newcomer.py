"""What a newcomer meets first: --version, the categories in new-task --help, and the generated
references (spec fields, template filters, drop reasons) kept in step with the code."""

import json

from typer.testing import CliRunner

from conftest import REPO
from flanzh import __version__
from flanzh.cli import app


def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"flanzh {__version__}\n"


def test_new_task_help_lists_every_category():
    schema = json.loads((REPO / "flanzh" / "schemas" / "task_spec.schema.json").read_text("utf-8"))
    result = CliRunner().invoke(app, ["new-task", "--help"], env={"COLUMNS": "400"})
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for category in schema["properties"]["category"]["enum"]:
        assert category in text, category

"""The flanzh command line: a thin typer layer over the library.

Every FlanzhError becomes one ``Error: ...`` line (or several, one per problem) and exit code 1;
tracebacks only with ``--debug``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from .errors import FlanzhError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Build a Chinese Flan instruction corpus from task specs and templates.")
_state = {"debug": False, "root": None}


def _offline() -> None:
    """Bundled samples and local files never need the network; without these a hub lookup spends
    ~25 s retrying before it fails."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def _project():
    from .project import find_project

    return find_project(_state["root"])


def _split_ids(tasks: Optional[str]) -> list[str] | None:
    """The ids of a comma-separated list, each once, in the order given."""
    return list(dict.fromkeys(t.strip() for t in tasks.split(",") if t.strip())) if tasks else None


def _version(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"flanzh {__version__}")
        raise typer.Exit()


def _categories() -> list[str]:
    """OpenBA's task types, from the spec schema (read here so `new-task --help` lists them)."""
    import json

    schema = Path(__file__).parent / "spec" / "schemas" / "task_spec.schema.json"
    return json.loads(schema.read_text("utf-8"))["properties"]["category"]["enum"]


AVAILABLE = "available"


def _task_ids(project, tasks: Optional[str], data_dir: Optional[Path]) -> list[str]:
    """The ids ``--tasks`` names; every task for ``available`` (narrowed once the policy is
    known, by _available)."""
    from .spec.specs import task_ids

    if tasks == AVAILABLE:
        if data_dir is None:
            raise FlanzhError("--tasks available picks the tasks whose files are under "
                              "--data-dir; give --data-dir DIR")
        return task_ids(project)
    return _split_ids(tasks) or task_ids(project)


def _available(project, ids: list[str], mode, policy, doctor: bool = False) -> list[str]:
    """The tasks whose files are all present; one line for each task skipped."""
    from .read.sources import available_tasks
    from .spec.specs import load_tasks

    ready, skipped = available_tasks(project, load_tasks(project, ids), mode,
                                     with_eval=policy.decontamination["enabled"])
    for task_id, why in skipped.items():
        typer.echo(f"skipped {task_id}: {why}")
    if not ready:
        raise FlanzhError(f"no task has all its files under {mode.data_dir}; " + (
            "the lines above say what each needs" if doctor else
            f"run `flanzh doctor --data-dir {mode.data_dir}` to see what each needs"))
    return [t.id for t in ready]


@app.callback()
def main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    root: Annotated[Optional[Path], typer.Option(
        "--root", help="The flanzh checkout (holds task_specs/, templates/, samples/).")] = None,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print flanzh's version and exit.")] = False,
):
    _state["debug"], _state["root"] = debug, root


@app.command()
def build(
    out: Annotated[Path, typer.Option("--out", help="Output folder (hub layout).")] = Path("out"),
    tasks: Annotated[Optional[str], typer.Option(
        "--tasks", help="Comma-separated task ids, or 'available': with --data-dir, the tasks "
        "whose files are all there.")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed for every random choice.")] = None,
    data_dir: Annotated[Optional[Path], typer.Option(
        "--data-dir", help="Folder of downloaded raw files, DIR/<task_id>/<file>.")] = None,
    from_hub: Annotated[bool, typer.Option(
        "--from-hub", help="Read each source's pinned hub copy (needs the network).")] = False,
    mixture: Annotated[Optional[Path], typer.Option(
        "--mixture", help="Mixture policy (default: mixture.yaml in the project, if present).")] = None,
    max_reject_rate: Annotated[Optional[float], typer.Option(
        "--max-reject-rate", min=0.0, max=1.0,
        help="Fail a task when more of its source rows are rejected (default: spec or 0.5).")] = None,
    executor: Annotated[Optional[str], typer.Option(
        "--executor", help="Where per-task units run: serial, process (a local process pool) or "
        "ray (a local Ray cluster, or the one RAY_ADDRESS names). Default: process when more than "
        "one core is free, the sources are not the bundled samples and more than one task is "
        "built, or when --workers is given; else serial.")] = None,
    workers: Annotated[Optional[int], typer.Option(
        "--workers", min=1, help="Processes or local Ray CPUs (default: the CPU count; for "
        "processes, no more than the tasks named).")] = None,
):
    """Build the corpus (default: every task, from the bundled samples, offline)."""
    from .build import MANIFEST

    if data_dir is not None and from_hub:
        raise FlanzhError("--data-dir and --from-hub are two different sources; pick one")
    if not from_hub:
        _offline()
    samples = data_dir is None and not from_hub
    # the tasks named, when they are known before any spec is read (for `available`, once their
    # files are checked: the build then chooses the executor and sizes the pool)
    known = tasks != AVAILABLE
    units = len(_split_ids(tasks) or []) or None if known else None
    if executor is None and known:
        executor = _default_executor(samples, workers, units)
    from .executors import default_workers, release_pools, start_pool

    if executor == "process" and workers is None and known:
        workers = default_workers(units)      # the same pool the build then runs its units on

    # Nothing built there yet, so nothing can be up to date: the workers start now and import the
    # pipeline while this process imports it and loads and checks the specs (about half a
    # second); over an earlier build the pipeline starts them once it knows the output is stale.
    # For `available` the pool waits until the build knows how many tasks have their files.
    early = executor == "process" and known and not (out / MANIFEST).is_file()
    if early:
        start_pool(workers, preload=["flanzh.build.pipeline"])
    try:
        _build(out, tasks, seed, data_dir, from_hub, mixture, max_reject_rate, executor, workers)
    except BaseException:
        if early:
            release_pools(now=True)     # (a spec error need not wait for the workers' imports)
        raise


def _default_executor(samples: bool, workers: Optional[int], units: Optional[int]) -> str:
    """The executor when --executor is not given, for ``units`` tasks (None: not known)."""
    if workers is not None:
        return "process"          # --workers asks for worker processes
    if samples:
        return "serial"           # the samples are too small to pay for starting them
    from .executors import default_executor, free_cores

    return default_executor(free_cores(), units)


def _build(out: Path, tasks: Optional[str], seed: Optional[int], data_dir: Optional[Path],
           from_hub: bool, mixture: Optional[Path], max_reject_rate: Optional[float],
           executor: Optional[str], workers: Optional[int]) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .spec.mixture import load_mixture
    from .build.pipeline import DEFAULT_SEED, progress_total
    from .build.pipeline import build as run_build
    from .read.sources import SourceMode
    from .render.templates import compile_templates
    from .spec.specs import load_tasks, task_ids

    mode = (SourceMode("hub") if from_hub else
            SourceMode("data_dir", data_dir) if data_dir else SourceMode("samples"))
    project = _project()
    ids = _task_ids(project, tasks, data_dir)
    for task in load_tasks(project, ids):    # spec and template errors before the progress bar
        compile_templates(task)
    seed = DEFAULT_SEED if seed is None else seed
    if mixture is None and (project.root / "mixture.yaml").is_file():
        mixture = project.root / "mixture.yaml"
    policy = load_mixture(mixture, project.relative(mixture) if mixture else None)
    if tasks == AVAILABLE:
        ids = _available(project, ids, mode, policy)
    if executor is None:
        executor = _default_executor(mode.kind == "samples", workers, len(ids))
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), transient=True, console=_stderr_console()) as progress:
        bar = progress.add_task("building", total=progress_total(len(ids)))

        def on_step(label: str) -> None:
            progress.update(bar, description=label, advance=1)

        manifest = run_build(project, out, task_ids=ids, seed=seed, mode=mode, mixture=policy,
                             on_step=on_step, max_reject_rate=max_reject_rate,
                             executor=executor, workers=workers)
    totals = manifest["totals"]
    typer.echo(f"built {totals['tasks']} tasks from {manifest['source_mode']}: "
               f"{totals['rows_written']} records written, {totals['rows_dropped']} rows dropped "
               f"of {totals['rows_read']} read -> {out}")
    for task_id, t in manifest["tasks"].items():
        drops = ", ".join(f"{r}={n}" for r, n in t["dropped"].items()) or "none dropped"
        cut = "".join(f"; {f} shortened in {n} rows" for f, n in t["truncated"].items() if n)
        if t.get("cleaned"):
            cut += "; cleaned " + ", ".join(f"{step} {n}" for step, n in t["cleaned"].items())
        typer.echo(f"  {task_id}: {t['rows_written']}/{t['rows_read']} ({drops}{cut})")


@app.command()
def validate(
    tasks: Annotated[Optional[list[str]], typer.Argument(help="Task ids (default: all).")] = None,
):
    """Check every spec and template file; exit 0 only when all are valid."""
    from .errors import SpecError, TemplateError
    from .render.templates import compile_templates
    from .spec.specs import load_task, task_ids

    project = _project()
    problems, ids = [], tasks or task_ids(project)
    for task_id in ids:
        try:
            compile_templates(load_task(project, task_id))
        except SpecError as exc:
            problems += exc.problems
        except TemplateError as exc:
            problems += str(exc).splitlines()
    if problems:
        raise FlanzhError("\n".join(problems))
    typer.echo(f"{len(ids)} tasks valid")


@app.command()
def preview(
    task: Annotated[str, typer.Argument(help="Task id.")],
    n: Annotated[int, typer.Option("-n", help="How many sample rows.")] = 3,
    template: Annotated[Optional[str], typer.Option("--template", help="Template id.")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed")] = None,
    data_dir: Annotated[Optional[Path], typer.Option(
        "--data-dir", help="Render rows of your downloaded files, DIR/<task_id>/<file>.")] = None,
):
    """Render real rows (the bundled sample, or your files with --data-dir) so you can read the
    Chinese output."""
    from .build.pipeline import DEFAULT_SEED
    from .contrib.preview import preview_rows
    from .read.sources import SourceMode

    _offline()
    mode = SourceMode("data_dir", data_dir) if data_dir else SourceMode()
    for row in preview_rows(_project(), task, n=n, template_id=template,
                            seed=DEFAULT_SEED if seed is None else seed, mode=mode):
        typer.echo(f"── {row['source_key']} · {row['template_id']} ({row['format']})")
        typer.echo(row["inputs"])
        typer.echo("→ " + row["targets"].replace("\n", "\n  "))
        typer.echo("")


@app.command()
def doctor(
    data_dir: Annotated[Optional[Path], typer.Option(
        "--data-dir", help="Folder of downloaded raw files, DIR/<task_id>/<file> (default: the "
        "bundled samples).")] = None,
    tasks: Annotated[Optional[str], typer.Option(
        "--tasks", help="Comma-separated task ids, or 'available' (the tasks whose files are all "
        "there).")] = None,
    rows: Annotated[int, typer.Option("--rows", min=1, help="Records read from each file.")] = 300,
    mixture: Annotated[Optional[Path], typer.Option(
        "--mixture", help="The build's policy (default: mixture.yaml in the project, if present).")] = None,
):
    """Before a long build: for every task, which files are present or missing, which layout each
    has, and what the build would make of its first rows; exit 1 when a task is not ready."""
    from rich.console import Console

    from .contrib.doctor import run
    from .spec.mixture import load_mixture
    from .build.pipeline import DEFAULT_SEED
    from .read.sources import SourceMode
    from .spec.specs import load_tasks

    _offline()
    project = _project()
    if data_dir is not None and not data_dir.is_dir():
        raise FlanzhError(f"--data-dir {data_dir}: no such folder")
    mode = SourceMode("data_dir", data_dir) if data_dir else SourceMode()
    if mixture is None and (project.root / "mixture.yaml").is_file():
        mixture = project.root / "mixture.yaml"
    policy = load_mixture(mixture, project.relative(mixture) if mixture else None)
    ids = _task_ids(project, tasks, data_dir)
    if tasks == AVAILABLE:
        ids = _available(project, ids, mode, policy, doctor=True)
    console = Console(width=None if sys.stdout.isatty() else 160)
    reports = run(project, load_tasks(project, ids), mode, console, rows=rows, mixture=policy,
                  seed=DEFAULT_SEED)
    not_ready = [r.task.id for r in reports if r.status != "ready"]
    if not_ready:
        hint = (f"; build the ready ones with `flanzh build --data-dir {data_dir} --tasks available`"
                if data_dir is not None and len(not_ready) < len(reports) else "")
        raise FlanzhError(f"{len(not_ready)} of {len(reports)} tasks not ready: "
                          f"{', '.join(not_ready)}{hint}")


@app.command()
def lint(tasks: Annotated[Optional[list[str]], typer.Argument(help="Task ids (default: all).")] = None):
    """Every check CI makes on specs, templates and samples; exit 1 on any problem."""
    from .contrib.lint import lint as run_lint
    from .spec.specs import task_ids

    _offline()
    project = _project()
    ids = tasks or task_ids(project)
    problems = run_lint(project, ids)
    if problems:
        raise FlanzhError("\n".join(str(p) for p in problems))
    typer.echo(f"{len(ids)} tasks pass lint")


@app.command("new-task")
def new_task(
    task_id: Annotated[str, typer.Argument(help="New task id, e.g. senti_weibo.")],
    category: Annotated[str, typer.Option(
        "--category", help="One of OpenBA's task types: " + ", ".join(_categories()) + ".")],
    fmt: Annotated[str, typer.Option(
        "--format", help="Raw format: jsonl, json, csv, tsv, parquet, lines_by_label, or a reader "
        "in flanzh/read/readers/ (its FORMATS).")],
):
    """Scaffold a task's spec, template file and sample; then fill in what `flanzh lint` reports."""
    from .contrib.scaffold import new_task as scaffold

    for path in scaffold(_project(), task_id, category, fmt):
        typer.echo(f"created {path}")
    typer.echo(f"next: fill them in, then run `flanzh lint {task_id}` until it passes")


@app.command()
def catalog(check: Annotated[bool, typer.Option(
        "--check", help="Fail if a generated doc is stale.")] = False):
    """Write the generated docs: docs/tasks.md (specs), docs/spec.md and docs/mixture.md
    (schemas), docs/drop-reasons.md (flanzh/spec/reasons.py)."""
    from .contrib.catalog import generated_docs

    project = _project()
    docs = generated_docs(project)
    if check:
        stale = [name for name, text in docs.items()
                 if not (project.root / name).is_file()
                 or (project.root / name).read_text("utf-8") != text]
        if stale:
            raise FlanzhError(f"{', '.join(stale)} stale; run `flanzh catalog` and commit it")
        typer.echo(f"{', '.join(docs)} up to date")
        return
    for name, text in docs.items():
        path = project.root / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, "utf-8")
        typer.echo(f"wrote {name}")


@app.command()
def golden(
    tasks: Annotated[Optional[list[str]], typer.Argument(help="Task ids (default: all).")] = None,
    check: Annotated[bool, typer.Option(
        "--check", help="Write nothing; exit 1 naming each task and template whose rendering "
        "differs from its golden file.")] = False,
):
    """Pin each template rendered on one sample row in tests/golden/<task>.json (what the test
    suite compares against); review the diff before committing it."""
    from .contrib.golden import check_golden, write_golden
    from .spec.specs import task_ids

    _offline()
    project = _project()
    ids = tasks or task_ids(project)
    if check:
        stale = check_golden(project, ids)
        if stale:
            raise FlanzhError("\n".join(str(s) for s in stale))
        typer.echo(f"{len(ids)} tasks match their golden files")
        return
    for path in write_golden(project, ids):
        typer.echo(f"wrote {project.relative(path)}")


@app.command()
def stats(folder: Annotated[Path, typer.Argument(help="A built output folder.")] = Path("out")):
    """Per task and per category: target and realised share, rows, templates and formats used,
    gold-label distribution, drops by reason."""
    from .build.report import stats_text

    typer.echo(stats_text(_read_manifest(folder)), nl=False)


@app.command()
def report(folder: Annotated[Path, typer.Argument(help="A built output folder.")] = Path("out")):
    """(Re)write the quality report (tables and plots) into FOLDER/report/."""
    from .build.report import write_report

    for name in write_report(folder, _read_manifest(folder)):
        typer.echo(f"wrote {folder / name}")


def _read_manifest(folder: Path) -> dict:
    import json

    from .errors import BuildError
    from .build import MANIFEST

    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise BuildError(f"{folder}: no {MANIFEST}; is it a folder flanzh built?")
    return json.loads(path.read_text("utf-8"))


@app.command()
def push(
    folder: Annotated[Path, typer.Argument(help="A built output folder.")],
    repo_id: Annotated[str, typer.Option("--repo-id", help="The dataset repo, ORG/NAME.")],
    private: Annotated[bool, typer.Option(
        "--private", help="Create the repo private (when it does not exist yet).")] = False,
    revision: Annotated[Optional[str], typer.Option(
        "--revision", help="Branch to commit to (created from main if missing; default main).")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print the operations; change nothing on the hub.")] = False,
    delete_stale: Annotated[bool, typer.Option(
        "--delete-stale", help="Delete remote files this build did not produce.")] = False,
    message: Annotated[Optional[str], typer.Option("--message", help="Commit message.")] = None,
    endpoint: Annotated[Optional[str], typer.Option(
        "--endpoint", envvar="HF_ENDPOINT", help="Hub URL (default: HF_ENDPOINT or huggingface.co).")] = None,
):
    """Publish FOLDER to a hub dataset repo in one commit: skips files the hub already has,
    merges the dataset card, keeps remote files it did not produce (unless --delete-stale).
    The token comes from HF_TOKEN or `hf auth login`."""
    from .publish.push import push as run_push

    run_push(folder, repo_id, private=private, revision=revision, dry_run=dry_run,
             delete_stale=delete_stale, endpoint=endpoint, message=message, echo=typer.echo)


@app.command()
def export(
    folder: Annotated[Path, typer.Argument(help="A built output folder.")],
    fmt: Annotated[str, typer.Option(
        "--format", help="alpaca, sharegpt, messages, prompt-completion or jsonl.")],
    out: Annotated[Optional[Path], typer.Option(
        "--out", help="Output file (folder with --per-task); default beside FOLDER.")] = None,
    per_task: Annotated[bool, typer.Option("--per-task", help="One <task>.jsonl per task.")] = False,
    tasks: Annotated[Optional[str], typer.Option("--tasks", help="Comma-separated task ids.")] = None,
    system: Annotated[Optional[str], typer.Option(
        "--system", help="System prompt for every record (alpaca, sharegpt, messages).")] = None,
):
    """Write the records as JSON lines for fine-tuning tools (alpaca, sharegpt, OpenAI-style
    messages, prompt/completion, or the records as-is); tasks without records are skipped; see
    docs/export.md."""
    from .publish.export import export as run_export

    result = run_export(folder, fmt, out, per_task=per_task, tasks=_split_ids(tasks),
                        system=system)
    for path in result.files:
        typer.echo(f"wrote {path}")
    if result.skipped:
        typer.echo(f"skipped {len(result.skipped)} tasks without records: "
                   f"{', '.join(result.skipped)}")
    typer.echo(f"{result.total} records from {len(result.rows)} tasks as {fmt}")


@app.command()
def download(
    data_dir: Annotated[Path, typer.Option("--data-dir", help="Where the raw files go, DIR/<task_id>/.")],
    tasks: Annotated[Optional[str], typer.Option("--tasks", help="Comma-separated task ids.")] = None,
):
    """Fetch each task's raw files (resumable, checked against sources.lock) and list what must
    be placed by hand."""
    from .read.download import run_download
    from .spec.specs import load_tasks

    project = _project()
    selected = load_tasks(project, _split_ids(tasks))
    if not run_download(project, selected, data_dir, typer.echo):
        typer.echo("some sources need files placed by hand (listed above); then run "
                   f"`flanzh doctor --data-dir {data_dir}`")
        raise typer.Exit(1)


@app.command()
def lock(
    tasks: Annotated[Optional[str], typer.Option("--tasks", help="Comma-separated task ids.")] = None,
    endpoint: Annotated[Optional[str], typer.Option(
        "--endpoint", help="Hub endpoint (default: HF_ENDPOINT or huggingface.co).")] = None,
    no_fetch: Annotated[bool, typer.Option(
        "--no-fetch", help="Only record new URLs, unverified (null sums), and drop stale ones; "
        "no network.")] = False,
):
    """Download every source once and record its size and sha256, and each hub revision's
    commit, in sources.lock (needs the network)."""
    from .read.download import run_lock
    from .spec.specs import load_tasks

    project = _project()
    run_lock(project, load_tasks(project, _split_ids(tasks)), typer.echo, endpoint,
             fetch_files=not no_fetch)


@app.command("list")
def list_tasks():
    """Every task: category, template count, source, license."""
    from .spec.specs import load_tasks

    tasks = load_tasks(_project())
    width = max((len(t.id) for t in tasks), default=4)
    for t in tasks:
        typer.echo(f"{t.id:<{width}}  {t.category:<26} {len(t.templates):>2} templates  "
                   f"{t.source['dataset']}  [{t.source['license']}]")


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


def _print_traceback(exc: BaseException) -> None:
    """The traceback (with its chained causes) as plain text on stderr, scrubbed of the hub
    token: a hub error can repeat the Authorization header back."""
    import traceback

    from .publish.redact import scrub

    sys.stderr.write(scrub("".join(traceback.format_exception(exc))))


def main() -> None:
    from .publish.redact import scrubbed_logs

    try:
        with scrubbed_logs(None):       # no log record shows the hub token
            app(standalone_mode=False)
    except FlanzhError as exc:
        if _state["debug"]:
            _print_traceback(exc)
            sys.exit(1)
        from .publish.redact import scrub

        for line in scrub(str(exc)).splitlines() or [type(exc).__name__]:
            typer.echo(f"Error: {line}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        typer.echo("Error: interrupted", err=True)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("Error: aborted", err=True)
        sys.exit(1)
    except Exception as exc:  # click usage errors and the like
        if isinstance(exc, _usage_errors()):    # a bad option or value: one line, no traceback
            typer.echo(f"Error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        _print_traceback(exc)     # a flanzh bug: shown whole, but never with the token
        sys.exit(1)


def _usage_errors() -> tuple[type, ...]:
    """click's exception class, and the copy of it that newer typer versions vendor (which
    click's own class does not catch)."""
    import click

    classes: list[type] = [click.ClickException]
    try:
        from typer._click.exceptions import ClickException as VendoredClickException
    except ImportError:
        pass
    else:
        classes.append(VendoredClickException)
    return tuple(classes)

"""``flanzh doctor``: before a long build, say for every task whether its downloaded files are
there, which layout each one has, and what the build would make of their first rows.

For each file the spec names it reports presence, size, and the layout sniffed from its first
bytes (gzip, zip, parquet, JSON lines, one JSON document, JSON objects back to back, CSV/TSV with
their header, text lines; the encoding), compared with the bundled sample of the same file, which
is written in the real upstream layout. Then it reads a bounded prefix of each file (the first
``rows`` records; a one-document JSON file, and a split of several files that may be joined row by
row, are read whole up to a size) through the same reader and normaliser as the build, renders and
checks the first ``rows`` rows with the build's policy, and counts the rows that would be dropped
by reason. Nothing is written outside a temporary folder.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import gzip
import json
import logging
import os
import shutil
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..encoding import _CANDIDATES
from ..errors import FlanzhError
from ..project import Project
from ..read.normalise import empty_rows, normalise
from ..read.readers import OUT_OF_SCOPE
from ..read.sources import (SourceMode, missing_files, needed_splits, read_split, source_dir,
                            split_files)
from ..spec.mixture import Mixture, load_mixture
from ..spec.specs import Task

DEFAULT_ROWS = 300
SNIFF_BYTES = 1 << 16
# A one-document JSON file cannot be cut; over this size its rows are not checked.
WHOLE_DOCUMENT_MAX = 256 << 20
# A split of several files (data + labels, two sides of a parallel corpus) is read whole up to
# this size, so rows joined across its files are not split by the prefix.
WHOLE_SPLIT_MAX = 64 << 20
# Drop reasons that are how the build works, not something wrong with the data.
_NOT_PROBLEMS = ("held_for_exemplars", "over_quota")

JSON_LINES = "JSON lines"
JSON_DOCUMENT = "one JSON document"
JSON_CONCATENATED = "JSON objects back to back"
TEXT_LINES = "text lines"
TEXT_BLOCKS = "text blocks"          # records separated by blank lines (CoNLL, dialogues)
DAMAGED_GZIP = "damaged gzip"
NOT_JSON = "not valid JSON"
JSON_ONE_LINE = "one JSON object on one line"    # JSON lines with one record, or a document
_SAME = [{TEXT_LINES, TEXT_BLOCKS}, {JSON_ONE_LINE, JSON_LINES}, {JSON_ONE_LINE, JSON_DOCUMENT}]
NOTES_PER_TASK = 3
NEAR_NAMES_SCANNED = 1000
NOTE_CHARS = 120


@dataclass
class Layout:
    kind: str                        # JSON lines, CSV, TSV, gzip, ... ("" when unknown)
    encoding: str | None = None      # the encoding the start of the file decodes as
    bad_byte: int | None = None      # first byte that does not decode as the spec's encoding
    header: list[str] | None = None  # CSV/TSV: the first row
    gzip: bool = False

    def describe(self) -> str:
        kind = ("gzip: " if self.gzip else "") + self.kind
        if self.header is not None:
            kind += f" ({len(self.header)} columns)"
        return kind + (f", {self.encoding}" if self.encoding else "")


@dataclass
class FileReport:
    split: str
    name: str                        # relative to the task's folder
    path: Path
    present: bool
    size: int = 0
    layout: Layout | None = None
    expected: Layout | None = None   # the bundled sample's layout, when there is one


@dataclass
class SplitReport:
    split: str
    rows_read: int = 0
    rows_kept: int = 0
    dropped: Counter = field(default_factory=Counter)
    whole: bool = False              # the files were read whole (they fit in the prefix)


@dataclass
class TaskReport:
    task: Task
    files: list[FileReport] = field(default_factory=list)
    splits: dict[str, SplitReport] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def missing(self) -> list[FileReport]:
        return [f for f in self.files if not f.present]

    @property
    def status(self) -> str:
        if self.missing:
            return "missing files"
        return "problem" if self.problems else "ready"


# --- layout sniffing -------------------------------------------------------------------------

def _head(path: Path, limit: int = SNIFF_BYTES) -> tuple[bytes | None, bool, bool]:
    """The first ``limit`` bytes (decompressed for gzip; None when that fails), whether that is
    the whole file, and whether the file is gzip-compressed."""
    with open(path, "rb") as handle:
        magic = handle.read(2)
    if magic == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as handle:
                data = handle.read(limit + 1)
        except (OSError, EOFError):
            return None, True, True          # damaged: see sniff
        return data[:limit], len(data) <= limit, True
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    return data[:limit], len(data) <= limit, False


def _decodes(data: bytes, encoding: str, complete: bool) -> int | None:
    """Offset of the first byte of ``data`` that does not decode, or None."""
    try:
        codecs.getincrementaldecoder(encoding)().decode(data, final=complete)
    except UnicodeDecodeError as exc:
        return exc.start
    except UnicodeError:
        return 0
    return None


def sniff(path: Path, encoding: str) -> Layout:
    """The layout of ``path`` from its first bytes."""
    data, complete, gzipped = _head(path)
    if data is None:
        return Layout(DAMAGED_GZIP, gzip=True)
    if data[:4] == b"PK\x03\x04":
        return Layout("zip archive")
    if data[:4] == b"PAR1":
        return Layout("parquet")
    if not data.strip():
        return Layout("empty", gzip=gzipped)
    if data[:3] == b"\xef\xbb\xbf":
        data = data[3:]
    found = encoding
    bad = _decodes(data, encoding, complete)
    if bad is not None:
        found = next((c for c in _CANDIDATES if _decodes(data, c, complete) is None), None)
    text = data.decode(found or encoding, errors="replace") if found or bad is None else \
        data.decode("utf-8", errors="replace")
    layout = _structure(text, complete)
    layout.encoding, layout.bad_byte, layout.gzip = found, bad, gzipped
    return layout


def _structure(text: str, complete: bool) -> Layout:
    lines = text.splitlines()
    if not complete and len(lines) > 1:
        lines = lines[:-1]                 # the last line may be cut by the prefix
    filled = [line for line in lines if line.strip()]
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        parsed = 0
        for line in filled[:5]:
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                break
            parsed += isinstance(value, dict)
        if parsed >= 2 or (parsed == 1 and len(filled) == 1 and not complete):
            return Layout(JSON_LINES)
        if parsed == 1 and len(filled) == 1:
            return Layout(JSON_ONE_LINE)
        try:
            _, end = json.JSONDecoder().raw_decode(stripped)
        except json.JSONDecodeError:
            return Layout(JSON_DOCUMENT if not complete else NOT_JSON)
        rest = stripped[end:]
        if rest.lstrip()[:1] in ("{", "["):
            # the next value on the same line: back to back; on the next: JSON lines, one broken
            gap = rest[:len(rest) - len(rest.lstrip())]
            return Layout(JSON_LINES if "\n" in gap and parsed else JSON_CONCATENATED)
        return Layout(JSON_DOCUMENT)
    first = filled[0] if filled else ""
    inner_blank = any(not line.strip() for line in lines[:-1]) and len(filled) > 1
    if "\t" in first:
        return Layout("TSV", header=first.split("\t"))
    if "," in first and not inner_blank:
        return Layout("CSV", header=next(csv.reader([first])))
    return Layout(TEXT_BLOCKS if inner_blank else TEXT_LINES)


def _layout_problems(report: FileReport, task: Task) -> tuple[list[str], list[str]]:
    """What is wrong with the file's layout: (packing, encoding or emptiness, which reading would
    only repeat; its shape against the bundled sample, which only reading can confirm, since a
    reader may accept more than one layout)."""
    layout, expected, name = report.layout, report.expected, report.name
    encoding = task.source.get("encoding", "utf-8")
    if layout.kind == "zip archive":
        return [f"{name} is a zip archive; unpack it and put the file(s) it holds under "
                f"{report.path.parent}/ as source.files names them"], []
    if layout.kind == DAMAGED_GZIP:
        return [f"{name}: gzip data is damaged and cannot be unpacked; download it again"], []
    if layout.gzip and not name.endswith(".gz"):
        return [f"{name} is gzip-compressed but the spec names a plain file; "
                "unpack it (gunzip)"], []
    if not layout.gzip and name.endswith(".gz") and layout.kind not in ("empty", "parquet"):
        return [f"{name} is named .gz but is not gzip-compressed; download the .gz file again"], []
    if layout.kind == "empty" and report.split in task.train_splits:
        return [f"{name} is empty; download it again"], []
    blocking, shape = [], []
    if layout.bad_byte is not None:
        found = (f"the file looks like {layout.encoding}: set source.encoding: {layout.encoding} "
                 f"if this copy is the one you want, or download the {encoding} copy the spec "
                 "describes" if layout.encoding else
                 f"it is not valid in any of {', '.join(_CANDIDATES)}; check the download")
        blocking.append(f"{name}: byte {layout.bad_byte}: cannot decode as {encoding} "
                        f"(source.encoding); {found}")
    if expected is None or expected.kind in ("", "empty") or layout.kind == "empty":
        return blocking, shape
    if layout.kind != expected.kind and {layout.kind, expected.kind} not in _SAME:
        found = (f"{layout.kind} (cut short by an interrupted download?)"
                 if layout.kind == NOT_JSON else layout.kind)
        shape.append(f"{name} is {found}; the reader expects {expected.kind} "
                     "(as in the bundled sample)")
    elif (expected.header is not None and layout.header is not None
            and task.source["format"] in ("csv", "tsv")
            and "column_names" not in task.source.get("reader_options", {})):
        lacking = [c for c in expected.header if c not in layout.header]
        if lacking:
            shape.append(f"{name}: header has no column {', '.join(lacking)} (it has "
                         f"{', '.join(layout.header)}; the sample's is "
                         f"{', '.join(expected.header)})")
    return blocking, shape


# --- bounded prefix --------------------------------------------------------------------------

# Layouts a prefix can be cut from, record by record; the others are read whole.
_CUTTABLE = (JSON_LINES, "CSV", "TSV", TEXT_LINES, TEXT_BLOCKS, "parquet")


def _copy_prefix(src: Path, dst: Path, layout: Layout, rows: int, blocks: bool) -> bool:
    """Write the first ``rows`` records of ``src`` to ``dst`` (blank-line separated blocks when
    ``blocks``, lines otherwise); True when that is all of it."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if layout.kind == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(src)
        batch = next(parquet.iter_batches(batch_size=rows), None)
        table = (pa.Table.from_batches([batch]) if batch is not None
                 else parquet.schema_arrow.empty_table())
        pq.write_table(table, dst)
        return parquet.metadata.num_rows <= rows
    wanted = rows + (1 if layout.header is not None else 0)
    opener = gzip.open if layout.gzip else open
    taken, quotes, complete, previous = 0, 0, True, b""
    with opener(src, "rb") as source, opener(dst, "wb") as out:
        for line in source:
            if taken >= wanted and (not blocks or line.strip()):
                complete = False
                break
            out.write(line)
            if blocks:                           # a block ends at its first blank line
                taken += bool(previous.strip()) and not line.strip()
            else:
                if layout.kind == "CSV":
                    quotes += line.count(b'"')   # a quoted field may span lines
                taken += quotes % 2 == 0
            previous = line
    return complete


def _cuts(report: TaskReport) -> dict[str, tuple[Path, Layout, bool]]:
    """The files to read as a prefix: name -> (path, layout, cut by blocks). A split of several
    files small enough is read whole, so rows joined across them (data and labels, the two sides
    of a parallel corpus) stay together."""
    cuts = {}
    for split in dict.fromkeys(f.split for f in report.files):
        files = [f for f in report.files if f.split == split]
        if len(files) > 1 and sum(f.size for f in files) <= WHOLE_SPLIT_MAX:
            continue
        for f in files:
            if f.layout.kind in _CUTTABLE:
                cuts[f.name] = (f.path, f.layout, len(files) == 1 and f.layout.kind == TEXT_BLOCKS)
    return cuts


def _mirror(real: Path, mirror: Path, cuts: dict, rows: int, whole: set[str]) -> None:
    """``mirror`` as a view of ``real``: the files in ``cuts`` as prefixes, everything else
    linked (some readers read files beside the one named, e.g. XQA's evidence documents).
    Adds to ``whole`` the cut files that turned out to be shorter than the prefix."""
    mirror.mkdir(parents=True, exist_ok=True)
    inside = {name.split("/", 1)[0] for name in cuts if "/" in name}
    for entry in sorted(real.iterdir()):
        if entry.name in cuts:
            path, layout, blocks = cuts[entry.name]
            if _copy_prefix(path, mirror / entry.name, layout, rows, blocks):
                whole.add(entry.name)
        elif entry.name in inside and entry.is_dir():
            nested = {name.split("/", 1)[1]: value for name, value in cuts.items()
                      if name.startswith(entry.name + "/")}
            found: set[str] = set()
            _mirror(entry, mirror / entry.name, nested, rows, found)
            whole.update(f"{entry.name}/{n}" for n in found)
        else:
            _link(entry, mirror / entry.name)


def _link(source: Path, target: Path) -> None:
    """``target`` as the same file(s) as ``source`` without a symlink (a build refuses a symlink
    that leaves the data folder, and the mirror is another folder): hard links, or copies across
    file systems. The reader only reads them; the mirror is deleted afterwards."""
    if source.is_dir():
        target.mkdir()
        for entry in sorted(source.iterdir()):
            _link(entry, target / entry.name)
        return
    try:
        os.link(source.resolve(), target)
    except OSError:
        shutil.copyfile(source, target)


# --- the check -------------------------------------------------------------------------------

def _sample_layout(project: Project, task: Task, name: str, encoding: str) -> Layout | None:
    sample = project.samples_dir / task.id / name
    if not sample.is_file():
        return None
    return sniff(sample, encoding)


def _describe_drops(dropped: Counter) -> str:
    return ", ".join(f"{reason} {n}" for reason, n in dropped.most_common())


def check_task(project: Project, task: Task, mode: SourceMode, *, rows: int, with_eval: bool,
               seed: int, mixture: Mixture | None = None) -> TaskReport:
    """Presence, layout and a bounded read of one task's files."""
    report = TaskReport(task)
    shape: list[str] = []
    encoding = task.source.get("encoding", "utf-8")
    base = source_dir(project, task, mode)
    needed = needed_splits(task, mode, with_eval)
    splits = needed + [s for s in task.eval_splits if s not in needed
                       and not missing_files(project, task, [s], mode)]
    for split in splits:
        files = split_files(project, task, split, mode)
        for path in (files.values() if isinstance(files, dict) else files):
            name = path.relative_to(base).as_posix()
            file = FileReport(split, name, path, path.is_file())
            if file.present:
                file.size = path.stat().st_size
                file.layout = sniff(path, encoding)
                if mode.kind != "samples":
                    file.expected = _sample_layout(project, task, name, encoding)
                blocking, suspect = _layout_problems(file, task)
                report.problems += blocking
                shape += suspect
            report.files.append(file)
    if report.missing:
        names = ", ".join(f.name + _near_names(f, base, task) for f in report.missing)
        where = _shown(project, base, mode) + "/"
        report.problems.insert(0, f"missing {names} under {where}; download "
                                  f"{task.source['dataset']} from {task.source['download']}")
        return report
    if report.problems:         # a zip, a wrong encoding: reading would say no more
        report.problems += shape
        return report
    _read_prefix(project, task, mode, report, splits, rows, seed, mixture or load_mixture(None))
    if report.problems:
        report.problems[:0] = shape
    else:                       # another layout than the sample's, which the reader accepts
        report.notes[:0] = [f"{line}, but it reads it" for line in shape]
    return report


def _near_names(file: FileReport, base: Path, task: Task) -> str:
    """Files in the task's folder whose name is close to a missing one (OCNLI's train.3k.json
    for train.50k.json, a .json for a .txt), as a hint."""
    if not base.is_dir():
        return ""
    named = {Path(n).as_posix() for entry in task.source["files"].values()
             for n in (entry.values() if isinstance(entry, dict)
                       else [entry] if isinstance(entry, str) else entry)}
    present = []
    for path in base.rglob("*"):
        if len(present) >= NEAR_NAMES_SCANNED:
            break
        if path.is_file():
            present.append(path.relative_to(base).as_posix())
    close = difflib.get_close_matches(file.name, [p for p in present if p not in named], n=3,
                                      cutoff=0.6)
    if not close:
        return ""
    return f" (here: {', '.join(sorted(close))}; rename it if it holds the same data)"


def _read_prefix(project: Project, task: Task, mode: SourceMode, report: TaskReport,
                 splits: list[str], rows: int, seed: int, mixture: Mixture) -> None:
    from ..build.unit import TaskResult
    from ..build.pipeline import render_task

    base = source_dir(project, task, mode)
    shown = _shown(project, base, mode)
    big = [f for f in report.files
           if f.layout.kind in (JSON_DOCUMENT, JSON_CONCATENATED, JSON_ONE_LINE)
           and f.size > WHOLE_DOCUMENT_MAX]
    if big:
        report.notes.append(f"{', '.join(f.name for f in big)}: one JSON document over "
                            f"{_size(WHOLE_DOCUMENT_MAX)}; rows not checked (the build "
                            "reads it whole)")
        return
    with tempfile.TemporaryDirectory(prefix="flanzh-doctor-") as tmp, _quiet():
        mirror = Path(tmp) / task.id
        cuts = _cuts(report)
        whole = {f.name for f in report.files if f.name not in cuts}
        _mirror(base, mirror, cuts, rows, whole)
        view = SourceMode("data_dir", Path(tmp))
        train = TaskResult(task, empty_rows(task))
        frames = []
        for split in splits:
            split_report = SplitReport(split, whole=all(
                f.name in whole for f in report.files if f.split == split))
            report.splits[split] = split_report
            text_only = split not in task.train_splits
            try:
                read = read_split(project, task, split, view)
                examples: list[dict] = []
                normalised, dropped, _ = normalise(task, read.frame, split, examples, text_only)
            except FlanzhError as exc:
                report.problems.append(_real_paths(str(exc), mirror, shown))
                continue
            split_report.rows_read = read.frame.height + sum(read.dropped.values())
            split_report.dropped = read.dropped + dropped
            split_report.rows_kept = normalised.height
            for reject in read.rejects + examples:
                if len(report.notes) >= NOTES_PER_TASK or any(
                        n.startswith(f"{reject['reason']}: ") for n in report.notes):
                    continue
                if "file" in reject:
                    line = reject["line"]
                    where = _real_paths(reject["file"], mirror, shown) + (
                        f": line {line}" if isinstance(line, int) else f": {line}" if line else "")
                else:
                    where = f"{split} row {reject['source_key']}"
                excerpt = reject["excerpt"].replace("\n", " ").replace("\t", "\\t")
                excerpt = excerpt if len(excerpt) <= NOTE_CHARS else excerpt[:NOTE_CHARS] + "…"
                report.notes.append(f"{reject['reason']}: {where}: {excerpt}")
            if not text_only:
                train.rows_read += split_report.rows_read
                train.dropped += split_report.dropped
                frames.append(normalised)
        if report.problems:
            return
        _check_reject_rate(task, train, report)
        if frames:
            import polars as pl

            train.rows = pl.concat(frames).head(rows)     # rendering is the slow step
            before = Counter(train.dropped)
            render_task(train, seed, mixture, quota=None)
            rendered = Counter({r: n for r, n in (train.dropped - before).items()
                                if r not in _NOT_PROBLEMS})
            first = report.splits[task.train_splits[0]]      # records are rendered per task
            first.dropped += rendered
            first.rows_kept = max(0, first.rows_kept - sum(rendered.values()))
        kept = sum(s.rows_kept for s in report.splits.values() if s.split in task.train_splits)
        if task.train_splits and kept <= 0:
            if train.dropped and all(r.startswith(OUT_OF_SCOPE) for r in train.dropped):
                report.notes.append(f"the {train.rows_read} rows checked are all out of scope "
                                    f"({_describe_drops(train.dropped)}); the rows the build "
                                    "keeps come later in the file")
            else:
                report.problems.append("no row of the files checked would become a record")


@contextmanager
def _quiet():
    """Silence library logging while reading (datasets logs each bad JSON line it then hands to
    the tolerant reader, under the temporary file's name, and resets its own logger's level)."""
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(previous)


def _check_reject_rate(task: Task, train, report: TaskReport) -> None:
    from ..build.pipeline import DEFAULT_MAX_REJECT_RATE

    rejects = Counter({r: n for r, n in train.dropped.items() if not r.startswith(OUT_OF_SCOPE)})
    bad = sum(rejects.values())
    limit = task.spec.get("max_reject_rate", DEFAULT_MAX_REJECT_RATE)
    if train.rows_read and bad / train.rows_read > limit:
        report.problems.append(f"{bad} of {train.rows_read} rows checked "
                               f"({100 * bad / train.rows_read:.0f}%) would be rejected "
                               f"({_describe_drops(rejects)}), over the maximum of "
                               f"{100 * limit:.0f}%: the build would stop here")


def _shown(project: Project, base: Path, mode: SourceMode) -> str:
    """The task's folder as messages show it: relative to the project for the samples."""
    return project.relative(base) if mode.kind == "samples" else str(base)


def _real_paths(text: str, mirror: Path, shown: str) -> str:
    """Messages name the user's files, not the temporary prefixes."""
    return str(text).replace(str(mirror), shown)


def check(project: Project, tasks: list[Task], mode: SourceMode, *, rows: int = DEFAULT_ROWS,
          with_eval: bool = True, seed: int = 0, mixture: Mixture | None = None
          ) -> list[TaskReport]:
    """One report per task. ``mixture`` is the build's policy (its formats decide which
    templates render a row, so which rows are too long); ``with_eval``: evaluation splits are
    needed (decontamination is on)."""
    return [check_task(project, task, mode, rows=rows, with_eval=with_eval, seed=seed,
                       mixture=mixture) for task in tasks]


# --- output ----------------------------------------------------------------------------------

def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def summary_line(reports: list[TaskReport]) -> str:
    counts = Counter(r.status for r in reports)
    return (f"{len(reports)} tasks: {counts['ready']} ready, {counts['problem']} with problems, "
            f"{counts['missing files']} with missing files")


def render(reports: list[TaskReport], console, *, rows: int, seconds: float) -> None:
    """The table, then each task's problems and notes, then the summary line."""
    from rich.table import Table

    table = Table(title=None, caption=f"first {rows} rows of each file checked in {seconds:.1f} s",
                  show_lines=False)
    for column in ("task", "split", "file", "size", "layout", "rows", "kept", "dropped", "status"):
        table.add_column(column, justify="right" if column in ("size", "rows", "kept") else "left")
    for report in reports:
        shown = set()
        for i, file in enumerate(report.files):
            split = report.splits.get(file.split)
            first_of_split = split is not None and file.split not in shown
            shown.add(file.split)
            layout = "-" if file.layout is None else file.layout.describe()
            if file.expected is not None and file.layout is not None \
                    and file.expected.kind != file.layout.kind:
                layout += f" (sample: {file.expected.kind})"
            style = {"ready": "green", "problem": "red", "missing files": "yellow"}[report.status]
            table.add_row(
                report.task.id if i == 0 else "", file.split, file.name,
                _size(file.size) if file.present else "missing", layout,
                str(split.rows_read) + ("" if split.whole else "+") if first_of_split else "",
                str(split.rows_kept) if first_of_split else "",
                _describe_drops(Counter({r: n for r, n in split.dropped.items()
                                         if r not in _NOT_PROBLEMS})) if first_of_split else "",
                f"[{style}]{report.status}[/{style}]" if i == 0 else "")
    console.print(table)
    for report in reports:
        for problem in report.problems:
            console.print(f"✗ {report.task.id}: {problem}", markup=False, highlight=False,
                          emoji=False, soft_wrap=True)
        for note in report.notes:
            console.print(f"  {report.task.id}: {note}", markup=False, highlight=False,
                          emoji=False, soft_wrap=True)
    console.print(summary_line(reports), markup=False, highlight=False, emoji=False)


def run(project: Project, tasks: list[Task], mode: SourceMode, console, *, rows: int = DEFAULT_ROWS,
        mixture: Mixture | None = None, seed: int = 0) -> list[TaskReport]:
    """Check ``tasks`` under the build's policy and print the report."""
    mixture = mixture or load_mixture(None)
    start = time.perf_counter()
    reports = check(project, tasks, mode, rows=rows, seed=seed, mixture=mixture,
                    with_eval=mixture.decontamination["enabled"])
    render(reports, console, rows=rows, seconds=time.perf_counter() - start)
    return reports


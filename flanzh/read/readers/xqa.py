"""XQA (Liu et al., ACL 2019; thunlp/XQA), open-domain QA over retrieved Wikipedia articles.
Non-English languages (zh among them) have only ``dev`` and ``test`` splits.

Two layouts, both from thunlp/XQA's own code (n/v against the tarball itself):

- **Preprocessed** (what ``preprocess_data.py`` writes and ``read_data.py`` reads; one file per
  split): ``qa/<split>.json``, JSON lines
  ``{"question": str, "question_id": str, "answers": [alias, ...], "docs": [[subdir, file], ...]}``
  whose ``docs`` reference the top-10 retrieved articles stored as plain-text files
  ``evidence/<subdir>/<file>`` (paragraphs separated by blank lines). The evidence folder is
  ``../evidence`` relative to the questions file, or ``reader_options.evidence_dir`` (relative to
  the questions file's folder). A referenced document that is not on disk fails the read; one
  whose pair climbs out of the evidence folder (``["..", "x"]``, an absolute path) is refused
  before anything is read.
- **Released** (what ``preprocess_data.py`` reads; named parts ``questions`` and ``documents``):
  ``<split>.txt``, JSON lines ``{"question": str, "answers": [alias, ...], ...}``, and
  ``<split>_doc.json``, JSON lines aligned with it line by line, each a list of the question's
  retrieved documents ``[{"document": str, ...}, ...]``. The question id is
  ``<split>_<line index>``, as ``preprocess_data.py`` numbers it.

One row per question: ``question``, ``question_id``, ``answers`` (every alias, stripped), ``answer``
(the first alias; empty when every alias is blank) and ``docs``: the lead of each retrieved document in
retrieval order, i.e. its leading whole sentences up to ``reader_options.doc_chars`` characters
(default 400; a document whose first sentence alone is longer is left out). The spec's length
policy then keeps as many whole leads as fit. A question with no usable document is dropped as
``no_documents``; a line with a key missing or of the wrong JSON type, or a lone surrogate (in the
question or, for the released layout, in its documents) as ``wrong_type:<key>`` /
``lone_surrogate:<key>``; a file with no readable line fails with the first problem.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl

from ...encoding import read_text
from ...errors import SourceError
from . import KEY, ReadResult, rows_to_frame
from ._lines import fail, json_lines
from ._rows import FileRows, bad
from ..transforms import truncate

FORMATS = ("xqa",)

DEFAULT_DOC_CHARS = 400
QA_SHAPE = ('JSON lines {"question": str, "question_id": str, "answers": [str], '
            '"docs": [[subdir, filename], ...]} (qa/<split>.json of thunlp/XQA)')
RELEASED_QUESTIONS = 'JSON lines {"question": str, "answers": [str]} (<split>.txt of thunlp/XQA)'
RELEASED_DOCS = ('JSON lines, one per question, each [{"document": str}, ...] '
                 '(<split>_doc.json of thunlp/XQA)')

SCHEMA = {KEY: pl.Utf8, "question_id": pl.Utf8, "question": pl.Utf8,
          "answers": pl.List(pl.Utf8), "answer": pl.Utf8, "docs": pl.List(pl.Utf8)}

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n+")


def lead(document: str, max_chars: int) -> str | None:
    """The document's leading whole sentences (paragraphs joined by a newline) up to
    ``max_chars``; None when the document is empty or its first sentence is already longer."""
    paragraphs = [p.strip() for p in _PARAGRAPH_BREAK.split(document.strip()) if p.strip()]
    if not paragraphs:
        return None
    text, _ = truncate("\n".join(paragraphs), max_chars, "head")
    return text.strip() if text else None


def _question_fields(record: dict, path, line: int, shape: str) -> tuple[str, list[str]]:
    question, answers = record.get("question"), record.get("answers")
    if not isinstance(question, str):
        bad(path, line, "question", '"question" is missing or not a string', shape)
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        bad(path, line, "answers", '"answers" is missing or not a list of strings', shape)
    return " ".join(question.split()), [a.strip() for a in answers if a.strip()]


def _row(key: str, question: str, answers: list[str], texts: list[str], doc_chars: int) -> dict:
    leads = [lead(t, doc_chars) for t in texts]
    return {KEY: key, "question_id": key, "question": question, "answers": answers,
            "answer": answers[0] if answers else "", "docs": [d for d in leads if d]}


def _doc_chars(options: dict) -> int:
    value = options.get("doc_chars", DEFAULT_DOC_CHARS)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SourceError(f"reader_options.doc_chars: {value!r} is not a positive integer")
    return value


def _preprocessed(path: Path, encoding: str, label: str, options: dict, result: ReadResult,
                  seen: dict, doc_chars: int) -> list[dict]:
    evidence = (Path(path).parent / options.get("evidence_dir", "../evidence")).resolve()
    if not evidence.is_dir():
        raise SourceError(f"{path}: the evidence folder {evidence} does not exist; expected the "
                          "evidence/<subdir>/<file> documents that thunlp/XQA's preprocess_data.py "
                          "writes beside qa/ (or set reader_options.evidence_dir)")
    rows = []
    guard = FileRows(result, path, SCHEMA)
    for line_no, record in json_lines(Path(path), encoding, label, QA_SHAPE):
        def build(record=record, line_no=line_no):
            question, answers = _question_fields(record, path, line_no, QA_SHAPE)
            key, docs = record.get("question_id"), record.get("docs")
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                bad(path, line_no, "question_id", '"question_id" is missing or not a string',
                    QA_SHAPE)
            if not isinstance(docs, list) or not all(
                    isinstance(d, list) and len(d) == 2 and all(isinstance(x, str) for x in d)
                    for d in docs):
                bad(path, line_no, "docs", '"docs" is not a list of [subdir, filename] pairs',
                    QA_SHAPE)
            key = str(key)
            if key in seen:
                fail(path, line_no, f"question_id {key} repeats line {seen[key]}", QA_SHAPE)
            seen[key] = line_no
            texts = [read_text(_document_path(evidence, subdir, filename, path, line_no),
                               encoding, label) for subdir, filename in docs]
            row = _row(key, question, answers, texts, doc_chars)
            if not row["docs"]:
                result.reject("no_documents", path, line_no, f"{key}: {question}")
                return None
            return row
        row = guard.attempt(line_no, record, build, QA_SHAPE)
        if row is not None:
            rows.append(row)
    guard.done()
    return rows


def _document_path(evidence: Path, subdir: str, filename: str, path, line_no: int) -> Path:
    """The referenced document, which must exist inside the evidence folder: a pair that climbs
    out of it (``["..", "secret.txt"]``, an absolute path) is refused, never read."""
    doc_path = (evidence / subdir / filename).resolve()
    if not doc_path.is_relative_to(evidence):
        raise SourceError(f"{path}: line {line_no}: document {subdir}/{filename} points outside "
                          f"the evidence folder {evidence}; refused. Expected [subdir, filename] "
                          "pairs naming files inside it")
    if not doc_path.is_file():
        raise SourceError(f"{path}: line {line_no}: document {subdir}/{filename} is not in "
                          f"{evidence}; expected every referenced document on disk")
    return doc_path


def _released(files: dict, encoding: str, label: str, result: ReadResult, doc_chars: int
              ) -> list[dict]:
    if set(files) != {"questions", "documents"}:
        raise SourceError(f"{label}: xqa takes one qa/<split>.json file per split, or the named "
                          f"parts 'questions' and 'documents'; got {', '.join(files)}")
    questions_path, documents_path = Path(files["questions"]), Path(files["documents"])
    questions = list(json_lines(questions_path, encoding, label, RELEASED_QUESTIONS))
    documents = []
    for line_no, text in enumerate(read_text(documents_path, encoding, label).splitlines(), 1):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except ValueError as exc:
            fail(documents_path, line_no, f"not valid JSON ({exc})", RELEASED_DOCS)
        if not isinstance(value, list) or not all(
                isinstance(d, dict) and isinstance(d.get("document"), str) for d in value):
            fail(documents_path, line_no, 'not a list of {"document": str} objects', RELEASED_DOCS)
        documents.append(value)
    if len(documents) != len(questions):
        raise SourceError(f"{documents_path}: {len(documents)} document lines for "
                          f"{len(questions)} questions in {questions_path}; expected the two files "
                          "aligned line by line")
    split = questions_path.stem
    rows = []
    guard = FileRows(result, questions_path, SCHEMA)
    for index, ((line_no, record), docs) in enumerate(zip(questions, documents)):
        def build(record=record, docs=docs, line_no=line_no, index=index):
            question, answers = _question_fields(record, questions_path, line_no,
                                                 RELEASED_QUESTIONS)
            row = _row(f"{split}_{index}", question, answers, [d["document"] for d in docs],
                       doc_chars)
            if not row["docs"]:
                result.reject("no_documents", questions_path, line_no, f"{row[KEY]}: {question}")
                return None
            return row
        # the line's documents are part of the record: a lone surrogate there is counted too
        row = guard.attempt(line_no, {**record, "documents": docs}, build, RELEASED_QUESTIONS)
        if row is not None:
            rows.append(row)
    guard.done()
    return rows


def read(files, *, fmt: str, encoding: str, options: dict, label: str) -> ReadResult:
    result = ReadResult(rows_to_frame([], SCHEMA))
    doc_chars = _doc_chars(options)
    if isinstance(files, dict):
        rows = _released(files, encoding, label, result, doc_chars)
    else:
        rows, seen = [], {}
        for path in files:
            rows += _preprocessed(path, encoding, label, options, result, seen, doc_chars)
    result.frame = rows_to_frame(rows, SCHEMA)
    return result

"""SQuAD-style nesting (CMRC2018, DRCD, XQuAD): data -> paragraphs -> qas -> answers.

One row per question: ``context``, ``question``, ``answer`` (the first answer), ``answer_start``,
``answers`` (every answer text, for evaluation) and ``title``. ``reader_options.convert: t2s``
(or ``tw2s`` for Taiwan-standard text) converts Traditional to Simplified Chinese before offsets
are checked. ``answer_start`` is a character
offset; an answer that is not at its offset is looked up in the context, and a question whose
answer is not in the context at all is dropped as ``answer_not_in_context``.

A value of the wrong JSON type drops its question, counted as ``wrong_type:<field>`` with the file
and the JSON place in the rejects: ``wrong_type:answer_start`` (an offset that is not an integer,
e.g. the string ``"19"``), ``wrong_type:answer_text`` (an answer text that is not a string) and
``wrong_type:title`` (an article title that is not a string: every question of that article).
A missing or null offset is not an error: the answer is looked up in the context.
"""

from __future__ import annotations

import json
from collections import Counter

import xxhash

import polars as pl

from ...errors import SourceError
from . import EXCERPT_CHARS, GROUP, KEY, MAX_EXAMPLES, ReadResult, rows_to_frame
from ._lines import json_document
from ..transforms import TRANSFORMS

FORMATS = ("squad",)

SHAPE = ('{"data": [{"title": str, "paragraphs": [{"context": str, "qas": [{"id": str, '
         '"question": str, "answers": [{"text": str, "answer_start": int}]}]}]}]}')

SCHEMA = {KEY: pl.Utf8, GROUP: pl.Utf8, "title": pl.Utf8, "context": pl.Utf8, "question": pl.Utf8,
          "answer": pl.Utf8, "answer_start": pl.Int64, "answers": pl.List(pl.Utf8)}


def _expect(condition: bool, path: str, what: str, where: str) -> None:
    if not condition:
        raise SourceError(f"{path}: {where}: expected {what}; a SQuAD-style file looks like {SHAPE}")


def locate_answer(context: str, text: str, start: int | None) -> int | None:
    """The answer's character offset: ``start`` if the text is there, else the occurrence
    nearest to ``start`` (offsets shift by a few characters when whitespace was stripped)."""
    if start is not None and 0 <= start and context[start:start + len(text)] == text:
        return start
    found, at = [], context.find(text)
    while at >= 0:
        found.append(at)
        at = context.find(text, at + 1)
    if not found:
        return None
    return min(found, key=lambda i: abs(i - (start or 0)))


def _wrong_type(qa: dict, where: str) -> tuple[str, str] | None:
    """(field, place) of the first answer value of the wrong JSON type in ``qa``, or None."""
    answers = qa.get("answers") or []
    if not isinstance(answers, list):
        return "answers", f"{where}.answers"
    for i, answer in enumerate(answers):
        if not isinstance(answer, dict):
            return "answers", f"{where}.answers[{i}]"
        if answer.get("text") is not None and not isinstance(answer["text"], str):
            return "answer_text", f"{where}.answers[{i}].text"
        start = answer.get("answer_start")
        if start is not None and (isinstance(start, bool) or not isinstance(start, int)):
            return "answer_start", f"{where}.answers[{i}].answer_start"
    return None


def _reject(rejects: list | None, dropped: Counter, reason: str, path: str, place: str,
            qa) -> None:
    dropped[reason] += 1
    if rejects is not None and sum(1 for r in rejects if r["reason"] == reason) < MAX_EXAMPLES:
        excerpt = json.dumps(qa, ensure_ascii=False)[:EXCERPT_CHARS]
        rejects.append({"reason": reason, "file": path, "line": place, "excerpt": excerpt})


def _question_row(qa: dict, context: str, title: str, dropped: Counter,
                  convert=None) -> dict | None:
    answers = [dict(a) for a in qa.get("answers") or [] if isinstance(a, dict) and a.get("text")]
    question = qa["question"]
    if convert is not None:
        # Convert every text the same way, then re-check offsets: a conversion that changed a
        # length before the answer moves it, and locate_answer finds it again.
        context, question, title = convert(context), convert(question), convert(title)
        for answer in answers:
            answer["text"] = convert(answer["text"])
    texts = [a["text"] for a in answers]
    group = xxhash.xxh64_hexdigest(context.encode("utf-8"))     # questions on one passage
    row = {KEY: str(qa["id"]), GROUP: group, "title": title, "context": context, "question": question,
           "answer": None, "answer_start": None, "answers": texts}
    if not texts:
        return row            # unanswered (test split): the answer field is null, normalise decides
    for answer in answers:      # the first answer that is really in the context is the target
        start = locate_answer(context, answer["text"], answer.get("answer_start"))
        if start is not None:
            row["answer"], row["answer_start"] = answer["text"], start
            return row
    dropped["answer_not_in_context"] += 1
    return None


def _converter(options: dict):
    """``reader_options.convert: t2s`` (or ``tw2s``) turns Traditional Chinese (DRCD) into
    Simplified."""
    name = options.get("convert")
    if name is None:
        return None
    if name not in TRANSFORMS:
        raise SourceError(f"reader_options.convert: unknown conversion '{name}'; use t2s or tw2s")
    return TRANSFORMS[name]


def _refuse_cmrc_original(document, path: str) -> None:
    """The original CMRC 2018 layout (ymcui/cmrc2018 data/cmrc2018_*.json) holds the same
    questions without answer offsets; say which file of the repository to use instead."""
    if (isinstance(document, list) and document and isinstance(document[0], dict)
            and "context_text" in document[0]):
        raise SourceError(
            f'{path}: $: found the original CMRC 2018 layout ([{{"context_id", "context_text", '
            '"qas": [{"query_text", "query_id", "answers": [str]}]}], ymcui/cmrc2018 data/); '
            "this reader takes the SQuAD-style files of the same release (ymcui/cmrc2018 "
            "squad-style-data/cmrc2018_{train,dev,trial}.json, or the CLUE zip's train.json / "
            f"dev.json), shaped {SHAPE}")


def _rows(document, path: str, convert=None, rejects: list | None = None
          ) -> tuple[list[dict], Counter]:
    """Rows and drop counts of one document; examples of rejected questions go to ``rejects``."""
    rows, dropped = [], Counter()
    _refuse_cmrc_original(document, path)
    _expect(isinstance(document, dict) and isinstance(document.get("data"), list),
            path, 'a top-level object with a "data" list', "$")
    for a, article in enumerate(document["data"]):
        where = f"$.data[{a}]"
        _expect(isinstance(article, dict) and isinstance(article.get("paragraphs"), list),
                path, 'an article with a "paragraphs" list', where)
        title = article.get("title")
        bad_title = title is not None and not isinstance(title, str)
        title = title or ""
        for p, paragraph in enumerate(article["paragraphs"]):
            pwhere = f"{where}.paragraphs[{p}]"
            _expect(isinstance(paragraph, dict) and isinstance(paragraph.get("context"), str)
                    and isinstance(paragraph.get("qas"), list),
                    path, 'a paragraph with a "context" string and a "qas" list', pwhere)
            for q, qa in enumerate(paragraph["qas"]):
                _expect(isinstance(qa, dict) and isinstance(qa.get("question"), str)
                        and "id" in qa, path, 'a question with "id" and "question"',
                        f"{pwhere}.qas[{q}]")
                if bad_title:
                    _reject(rejects, dropped, "wrong_type:title", path, f"{where}.title",
                            {"title": article["title"], "id": qa["id"]})
                    continue
                wrong = _wrong_type(qa, f"{pwhere}.qas[{q}]")
                if wrong is not None:
                    _reject(rejects, dropped, f"wrong_type:{wrong[0]}", path, wrong[1], qa)
                    continue
                row = _question_row(qa, paragraph["context"], title, dropped, convert)
                if row is not None:
                    rows.append(row)
    return rows, dropped


def read(files, *, fmt: str, encoding: str, options: dict, label: str) -> ReadResult:
    if isinstance(files, dict):
        files = list(files.values())
    rows, dropped, rejects = [], Counter(), []
    for path in files:
        document = json_document(path, encoding, label, f"one JSON document shaped {SHAPE}")
        file_rows, file_dropped = _rows(document, str(path), _converter(options), rejects)
        rows += file_rows
        dropped += file_dropped
    return ReadResult(rows_to_frame(rows, SCHEMA), dropped, rejects)


def from_hub(dataset, *, options: dict, label: str) -> ReadResult:
    """The hub's flattened shape: ``id, context, question, answers{text[], answer_start[]}``."""
    rows, dropped = [], Counter()
    for record in dataset:
        answers = record.get("answers") or {"text": [], "answer_start": []}
        qa = {"id": record["id"], "question": record["question"],
              "answers": [{"text": t, "answer_start": s}
                          for t, s in zip(answers["text"], answers["answer_start"])]}
        row = _question_row(qa, record["context"], record.get("title") or "", dropped,
                            _converter(options))
        if row is not None:
            rows.append(row)
    return ReadResult(rows_to_frame(rows, SCHEMA), dropped)

"""ChineseBiomedicalQA (luge.ai id=40): licensed-pharmacist and physician exam questions.

One record per question ``{"questionType": str, "questionId": str, "questionText": str,
"option": [...], "answer": [...], "year": str, "subject": str, "backgroundText": str}``;
``backgroundText`` is the shared case of case-based questions (empty or absent otherwise).
The release is one folder per exam, ``doctor_dataset/doctor_{train,dev}.json`` and
``pharmacist_dataset/pharmacist_{train,dev}.json`` (a split lists both files; the key is then
``<file stem>:<questionId>``). Real records carry each option's letter inside its text and the
answer as a list of letters: ``"option": ["A.红细胞悬液", "B.保存全血", ...], "answer": ["A"]``.

Options are aligned by their own letters and the ``A.`` prefix is stripped; a list without any
letters is lettered by position. Some real lists are shifted: the first item is the tail of the
question stem and the lettered options follow, the last one lost (``["患者,男,21岁……该症状最常见
于(）", "A.分离(转换)障碍", ..., "D.双相障碍"]``, answer ``["E"]``). The stem tail goes back into
the question; a shifted record whose answer is the lost option is dropped as
``answer_option_lost_in_shift``, never answered by position. A list whose letters repeat, go
back, or stop (an unlettered item after lettered ones) is dropped as ``option_letters_misaligned``.
Also tolerated: a file of JSON lines or one JSON list; ``option`` as an object ``{"A": text}``
(a letter repeated inside the text is stripped) or a string with one ``A. text`` line per option
(an option with empty text is an unused slot and left out); ``answer`` as letters (``"C"``,
``"ACD"``, ``"A,C,D"``; kept in letter order), a list of letters, or the text of one option.
Anything else fails, naming file, place and this shape.

One row per question: ``question``, ``context`` (the background, null when empty),
``option_list`` (texts in letter order), ``options_text`` (``A. text`` lines), ``options_inline``
(the same on one line), ``answer_letters`` (``C`` or ``A、C、D``), ``answer`` (the correct options'
texts, joined by ``；``), ``answer_full`` (``C. text``, joined by ``；``), ``multiple``,
``question_type``, ``subject``, ``year``. A question whose answer names a letter that has no
option is dropped as ``answer_not_in_options``; one with no ``answer`` key (or null) keeps null
answer fields, one whose answer is empty (``[]``, ``""``) empty ones (the spec decides:
``missing_field`` / ``empty_field``). Questions sharing a background share a ``__group``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import xxhash

import polars as pl

from ...encoding import read_text
from . import GROUP, KEY, ReadResult, rows_to_frame
from ._lines import fail, file_list, json_lines_of

FORMATS = ("chinese_biomedical_qa",)

SHAPE = ('records {"questionType": str, "questionId": str, "questionText": str, '
         '"option": ["A.text", ..., "E.text"] (or {"A": str, ...}), "answer": ["A"] (several '
         'letters for multiple-answer questions), "year": str, "subject": str, '
         '"backgroundText": str} as JSON lines or one JSON list (ChineseBiomedicalQA)')

SCHEMA = {KEY: pl.Utf8, GROUP: pl.Utf8, "question_type": pl.Utf8, "subject": pl.Utf8,
          "year": pl.Utf8, "context": pl.Utf8, "question": pl.Utf8,
          "option_list": pl.List(pl.Utf8), "options_text": pl.Utf8, "options_inline": pl.Utf8,
          "answer_letters": pl.Utf8, "answer": pl.Utf8, "answer_full": pl.Utf8,
          "multiple": pl.Boolean}

LETTERS = "ABCDEFGHIJ"
_OPTION_LINE = re.compile(r"^\s*[（(]?([A-Ja-j])[)）]?\s*[.．、:：]?\s*(\S.*?)\s*$")
_ANSWER_SEPARATORS = re.compile(r"[\s,，、;；/]+")


def _records(path: Path, encoding: str, label: str):
    """(place, record) for every record of a JSON-lines file or a JSON-list file."""
    text = read_text(path, encoding, label)
    if text.lstrip().startswith("["):
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            fail(path, exc.lineno, f"not valid JSON ({exc.msg})", SHAPE)
        for i, record in enumerate(document):
            if not isinstance(record, dict):
                fail(path, f"$[{i}]", "not an object", SHAPE)
            yield f"$[{i}]", record
        return
    yield from json_lines_of(text, path, SHAPE)


_LETTERED = re.compile(r"^\s*[（(]?([A-Ja-j])[)）]?\s*[.．、:：]\s*(.*?)\s*$", re.S)


class Misaligned(Exception):
    """Option texts whose own letters cannot be lined up: the record is dropped, counted."""


def _lettered_list(value: list[str]) -> tuple[list[str], dict[str, str]] | None:
    """A list whose items carry their own letters (``"A.红细胞悬液"``), aligned by those letters.

    Returns (leading unlettered items, ``{letter: text}``) or None when no item is lettered (then
    the list is lettered by position). Leading unlettered items are the tail of the question stem
    that the release shifted into the option list (its last option is then missing). Items that
    repeat a letter, go back in letter order or have no letter after a lettered one raise
    Misaligned."""
    parsed = [_LETTERED.match(t) for t in value]
    if not any(parsed):
        return None
    first = next(i for i, m in enumerate(parsed) if m)
    lead = [t.strip() for t in value[:first] if t.strip()]
    options: dict[str, str] = {}
    for text, match in zip(value[first:], parsed[first:]):
        if match is None:
            if not text.strip():
                continue
            raise Misaligned(f"option {text.strip()[:20]!r} has no letter after lettered options")
        letter = match[1].upper()
        if options and letter <= max(options):
            raise Misaligned(f"option letter {letter} repeats or goes back in {''.join(options)}")
        options[letter] = match[2]
    return lead, options


def _options(value, path, where) -> tuple[dict[str, str], list[str]]:
    """``{letter: text}`` in letter order, and any stem tail found before the lettered options."""
    lead: list[str] = []
    if isinstance(value, dict):
        options = {}
        for key, text in value.items():
            letter = str(key).strip().upper()
            if letter not in LETTERS or not isinstance(text, str):
                fail(path, where, f'"option" has key {key!r} -> {text!r}; keys must be letters '
                                  "and values strings", SHAPE)
            own = _LETTERED.match(text)          # {"A": "A.甲药"}: the letter repeated inside
            options[letter] = own[2] if own and own[1].upper() == letter else text.strip()
        options = dict(sorted(options.items()))
    elif isinstance(value, list):
        if len(value) > len(LETTERS) or not all(isinstance(t, str) for t in value):
            fail(path, where, '"option" is a list but not of at most 10 strings', SHAPE)
        lettered = _lettered_list(value)
        if lettered is None:
            options = {LETTERS[i]: t.strip() for i, t in enumerate(value)}
        else:
            lead, options = lettered
    elif isinstance(value, str):
        options = {}
        for line in value.splitlines():
            if not line.strip():
                continue
            match = _OPTION_LINE.match(line)
            if match is None:
                fail(path, where, f'"option" line {line.strip()[:30]!r} does not start with an '
                                  "option letter", SHAPE)
            options[match[1].upper()] = match[2]
    else:
        fail(path, where, f'"option" is {type(value).__name__}', SHAPE)
    options = {letter: text for letter, text in options.items() if text}   # unused slots ("E": "")
    if len(options) < 2:
        fail(path, where, f'"option" holds {len(options)} option(s)', SHAPE)
    return options, lead


def _answer_letters(value, options: dict[str, str], path, where) -> list[str] | None:
    """The answer's letters: None when there is no answer, [] when it is empty."""
    if value is None:
        return None
    if value == [] or isinstance(value, str) and not value.strip():
        return []
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        value = ",".join(value)
    if not isinstance(value, str):
        fail(path, where, f'"answer" is {type(value).__name__}', SHAPE)
    texts = {text: letter for letter, text in options.items()}
    if value.strip() in texts and len(value.strip()) > 1:
        return [texts[value.strip()]]
    letters = [p.upper() for p in _ANSWER_SEPARATORS.split(value.strip()) if p]
    if len(letters) == 1 and len(letters[0]) > 1:
        letters = list(letters[0])
    if not letters or not all(len(x) == 1 and x.isascii() and x.isalpha() for x in letters):
        fail(path, where, f'"answer" {value!r} is neither option letters nor an option text',
             SHAPE)
    return sorted(set(letters))


def _text(record: dict, key: str, path, where, required: bool = False) -> str | None:
    value = record.get(key)
    if value is None and not required:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        fail(path, where, f'"{key}" is missing or not a string', SHAPE)
    if required:
        return value
    return value.strip() or None


def _join_stem(question: str, lead: list[str]) -> str:
    """The question with the stem tail the release shifted into the option list put back."""
    for tail in lead:
        if tail in question:
            continue
        question = tail if question.strip() in tail else question + tail
    return question


def read(files, *, fmt: str, encoding: str, options: dict, label: str) -> ReadResult:
    files = file_list(files, fmt, label)
    result = ReadResult(rows_to_frame([], SCHEMA))
    rows, seen = [], {}
    for path in files:
        # The release has one file per exam (doctor_*.json, pharmacist_*.json) and each numbers
        # its own questions: with several files in a split the key carries the file's name.
        prefix = f"{path.stem}:" if len(files) > 1 else ""
        for where, record in _records(Path(path), encoding, label):
            key = prefix + _text(record, "questionId", path, where, required=True)
            if key in seen:
                fail(path, where, f"questionId {key} repeats the one at {seen[key]}", SHAPE)
            seen[key] = f"line {where}" if isinstance(where, int) else where
            line = where if isinstance(where, int) else None
            question = _text(record, "questionText", path, where, required=True)
            context = _text(record, "backgroundText", path, where)
            try:
                choice, lead = _options(record.get("option"), path, where)
            except Misaligned as exc:
                result.reject("option_letters_misaligned", path, line, f"{key}: {exc}")
                continue
            letters = _answer_letters(record.get("answer"), choice, path, where)
            if letters and any(x not in choice for x in letters):
                # A shifted list lost its last option: the answer is often that one (E).
                reason = "answer_option_lost_in_shift" if lead else "answer_not_in_options"
                result.reject(reason, path, line,
                              f"{key}: answer {record.get('answer')!r}, options {''.join(choice)}")
                continue
            if lead:
                question = _join_stem(question, lead)
            rows.append({
                KEY: key,
                GROUP: xxhash.xxh64_hexdigest((context or key).encode("utf-8")),
                "question_type": _text(record, "questionType", path, where),
                "subject": _text(record, "subject", path, where),
                "year": _text(record, "year", path, where),
                "context": context,
                "question": question,
                "option_list": list(choice.values()),
                "options_text": "\n".join(f"{x}. {t}" for x, t in choice.items()),
                "options_inline": "　".join(f"{x}. {t}" for x, t in choice.items()),
                "answer_letters": None if letters is None else "、".join(letters),
                "answer": None if letters is None else "；".join(choice[x] for x in letters),
                "answer_full": (None if letters is None
                                else "；".join(f"{x}. {choice[x]}" for x in letters)),
                "multiple": len(letters) > 1 if letters else None,
            })
    result.frame = rows_to_frame(rows, SCHEMA)
    return result

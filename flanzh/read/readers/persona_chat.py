"""Chinese Persona Chat (CPC; luge.ai id=38, the 画像对话 data of the LIC2021 multi-skill
dialogue task). The raw format is n/v: this reader follows the best documented one, a LIC2021
baseline's description of the release -- JSON lines, one conversation per line (a file holding
one JSON array of the same conversations is read too: copies are named ``.json``),

    {"p1_persona": [str, ...], "p2_persona": [str, ...],
     "conversation": ["p1 : 你好 ， ...", "p2 : ...", ...]}

with word-segmented text and each turn prefixed by its speaker (``p1 :`` / ``p2 :``). Anything
else fails, naming the file, the line and this shape, so a different release is noticed at once.

One row per turn after the first: ``persona`` (the responding speaker's persona sentences),
``partner_persona`` (the other speaker's), ``history`` (the earlier turns, speaker prefixes
removed), ``response`` (the turn). Speakers must alternate (templates label the history turns
by position). A conversation that breaks the shape is dropped and counted: a key missing or not
a list of strings (``wrong_type:<key>``), a lone surrogate (``lone_surrogate:<key>``), a turn
without its ``p1 :``/``p2 :`` prefix (``no_speaker_prefix``), two turns in a row by one speaker
(``speaker_repeated``); a file none of whose conversations is readable fails with the first
problem, naming the file and the line. Key: ``<line>:<turn>``; group:
the conversation. ``reader_options.segmented: true`` also removes segmentation spaces next to
digits and ASCII punctuation (see the douban reader).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl

from ...encoding import read_text
from . import GROUP, KEY, ReadResult, rows_to_frame
from ._lines import fail, json_lines_of
from ._rows import FileRows, bad
from .douban import tidy_segmented

FORMATS = ("persona_chat",)

SHAPE = ('JSON lines {"p1_persona": [str], "p2_persona": [str], "conversation": '
         '["p1 : ...", "p2 : ...", ...]} (speakers alternating)')
SCHEMA = {KEY: pl.Utf8, GROUP: pl.Utf8, "persona": pl.List(pl.Utf8),
          "partner_persona": pl.List(pl.Utf8), "history": pl.List(pl.Utf8), "response": pl.Utf8}
_TURN = re.compile(r"^\s*(p[12])\s*[:：]\s?(.*)$", re.S)
SPEAKERS = {"p1": "p2", "p2": "p1"}


def _strings(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _conversation_rows(record, path: Path, line: int, tidy) -> list[dict]:
    if not isinstance(record, dict):
        bad(path, line, "conversation", "not a JSON object", SHAPE)
    for key in ("p1_persona", "p2_persona", "conversation"):
        if not _strings(record.get(key)):
            bad(path, line, key, f'"{key}" is missing or not a list of strings', SHAPE)
    personas = {s: [tidy(p.strip()) for p in record[f"{s}_persona"]] for s in SPEAKERS}
    speakers, texts = [], []
    for t, turn in enumerate(record["conversation"]):
        match = _TURN.match(turn)
        if match is None:
            bad(path, line, None, f"conversation[{t}] {turn[:30]!r} does not start with 'p1 :' "
                "or 'p2 :'", SHAPE, kind="no_speaker_prefix")
        if speakers and match.group(1) == speakers[-1]:
            bad(path, line, None, f"conversation[{t}] is a second turn in a row by "
                f"{match.group(1)}", SHAPE, kind="speaker_repeated")
        speakers.append(match.group(1))
        texts.append(tidy(match.group(2).strip()))
    rows = []
    for t in range(1, len(texts)):
        speaker = speakers[t]
        rows.append({KEY: f"{line}:{t}", GROUP: f"{path.name}:{line}", "persona": personas[speaker],
                     "partner_persona": personas[SPEAKERS[speaker]], "history": texts[:t],
                     "response": texts[t]})
    return rows


def _records(path: Path, encoding: str, label: str):
    """(line, conversation) from JSON lines, or from one JSON array of conversations."""
    text = read_text(path, encoding, label)
    if not text.lstrip().startswith("["):
        yield from json_lines_of(text, path, SHAPE)
        return
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(path, exc.lineno, f"not valid JSON ({exc.msg})", SHAPE)
    for i, record in enumerate(document):
        yield f"$[{i}]", record


def read(files, *, fmt: str, encoding: str, options: dict, label: str) -> ReadResult:
    files = list(files.values()) if isinstance(files, dict) else list(files)
    tidy = tidy_segmented if options.get("segmented") else (lambda text: text)
    result = ReadResult(pl.DataFrame())
    rows: list[dict] = []
    for path in map(Path, files):
        guard = FileRows(result, path, SCHEMA)
        for n, (line, record) in enumerate(_records(path, encoding, label)):
            out = guard.attempt(line, record, lambda: _conversation_rows(record, path, line, tidy),
                                SHAPE, number=line if isinstance(line, int) else n)
            rows += out or []
        guard.done()
    result.frame = rows_to_frame(rows, SCHEMA)
    return result

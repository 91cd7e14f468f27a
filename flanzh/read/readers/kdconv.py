"""KdConv (Zhou et al. 2020; thu-coai/KdConv): per-domain files
``data/{film,music,travel}/{train,dev,test}.json``, each one JSON array of conversations
``{"name": topic, "messages": [{"message": str, "attrs": [{"name", "attrname", "attrvalue"}]?}]}``.
``attrs`` is absent on turns that cite no knowledge; speakers alternate implicitly.

One row per response turn (every turn after the first): ``history`` (the turns before it),
``response`` (the turn), ``knowledge`` (the triples the turn cites, as text:
``（陈绮贞，代表作品，旅行的意义）``, the unstructured ``Information`` relation shown as ``简介``; an
empty list when the turn cites none), ``topic`` (the conversation's starting entity) and ``domain`` (the folder
name: film, music or travel). Key: ``<domain>/<file stem>:<conversation>:<turn>``; group: the
conversation. A conversation not shaped like this (a value of the wrong JSON type, a lone
surrogate) is dropped and counted as ``wrong_type:<key>`` / ``lone_surrogate:<key>``, with its
index as the reject's line; a file none of whose conversations is readable fails, naming the file
and the JSON path. Verified on thu-coai/KdConv's dev and test files: ``attrs`` is left out
(never empty) on turns that cite nothing; ``Information`` is capitalised and its ``name`` is the
entity's disambiguated page title (``恋恋笔记本（美国2004年…爱情片）``), while the conversation's
``name`` may be lower-cased (``h3m``).

``from_hub`` reads the hub copy (``thu-coai/kd_conv_with_kb``, ``*_dialogues`` configs), where
``messages`` and ``attrs`` come as dicts of parallel lists and ``domain`` is a column.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ...errors import SourceError
from . import GROUP, KEY, ReadResult, rows_to_frame
from ._lines import fail, json_document
from ._rows import FileRows, bad

FORMATS = ("kdconv",)

SHAPE = ('a JSON array of {"name": str, "messages": [{"message": str, "attrs": '
         '[{"name": str, "attrname": str, "attrvalue": str}] (optional)}]}')
SCHEMA = {KEY: pl.Utf8, GROUP: pl.Utf8, "domain": pl.Utf8, "topic": pl.Utf8,
          "history": pl.List(pl.Utf8), "response": pl.Utf8, "knowledge": pl.List(pl.Utf8)}
ATTR_KEYS = ("name", "attrname", "attrvalue")
INFORMATION = "information"          # unstructured description; the README spells it both ways


def knowledge_text(name: str, attrname: str, attrvalue: str) -> str:
    """A triple as ``（head，relation，tail）``; the unstructured ``Information`` relation reads
    ``简介`` (description)."""
    if attrname.strip().lower() == INFORMATION:
        attrname = "简介"
    return f"（{name}，{attrname}，{attrvalue}）"


def conversation_rows(conversation: dict, *, domain: str, key: str, group: str) -> list[dict]:
    """Rows of one well-formed conversation (messages as a list of dicts)."""
    messages = conversation["messages"]
    texts = [m["message"] for m in messages]
    rows = []
    for turn in range(1, len(messages)):
        attrs = messages[turn].get("attrs") or []
        rows.append({KEY: f"{key}:{turn}", GROUP: group, "domain": domain,
                     "topic": conversation["name"], "history": texts[:turn],
                     "response": texts[turn],
                     "knowledge": [knowledge_text(*(a[k] for k in ATTR_KEYS)) for a in attrs]})
    return rows


def _check(conversation, path, where: str) -> None:
    """Shape-check one conversation; a wrong JSON type is the row problem ``wrong_type:<key>``."""
    if not isinstance(conversation, dict):
        bad(path, where, "conversation", "not an object", SHAPE)
    if not isinstance(conversation.get("name"), str):
        bad(path, where, "name", 'no "name" string', SHAPE)
    messages = conversation.get("messages")
    if not isinstance(messages, list):
        bad(path, where, "messages", 'no "messages" list', SHAPE)
    for t, message in enumerate(messages):
        at = f"{where}.messages[{t}]"
        if not isinstance(message, dict) or not isinstance(message.get("message"), str):
            bad(path, at, "message", 'not an object with a "message" string', SHAPE)
        attrs = message.get("attrs")
        if attrs is None:
            continue
        if not isinstance(attrs, list):
            bad(path, f"{at}.attrs", "attrs", "not a list", SHAPE)
        for a, attr in enumerate(attrs):
            if not isinstance(attr, dict) or not all(isinstance(attr.get(k), str)
                                                     for k in ATTR_KEYS):
                bad(path, f"{at}.attrs[{a}]", "attrs", 'not an object with "name", "attrname" '
                    'and "attrvalue" strings', SHAPE)


def read(files, *, fmt: str, encoding: str, options: dict, label: str) -> ReadResult:
    files = list(files.values()) if isinstance(files, dict) else list(files)
    result = ReadResult(pl.DataFrame())
    rows: list[dict] = []
    for path in map(Path, files):
        document = json_document(path, encoding, label, SHAPE)
        if not isinstance(document, list):
            fail(path, "$", "the top level is not an array", SHAPE)
        domain = path.parent.name
        guard = FileRows(result, path, SCHEMA)

        def conversation_of(conversation, c: int) -> list[dict]:
            _check(conversation, path, f"$[{c}]")
            name = f"{domain}/{path.stem}:{c}"
            return conversation_rows(conversation, domain=domain, key=name, group=name)

        for c, conversation in enumerate(document):
            rows += guard.attempt(f"$[{c}]", conversation,
                                  lambda: conversation_of(conversation, c), SHAPE, number=c) or []
        guard.done()
    result.frame = rows_to_frame(rows, SCHEMA)
    return result


def _hub_messages(messages, n: int, label: str) -> list[dict]:
    """The hub's dict of parallel lists (or a plain list of turns) as raw-file turns."""
    if isinstance(messages, dict):
        texts = messages.get("message") or []
        attrs = messages.get("attrs") or [None] * len(texts)
        messages = [{"message": t, "attrs": a} for t, a in zip(texts, attrs)]
    if not isinstance(messages, list):
        raise SourceError(f"{label}: hub row {n}: 'messages' is neither a list nor a dict of "
                          "lists")
    turns = []
    for message in messages:
        attrs = message.get("attrs")
        if isinstance(attrs, dict):          # {"attrname": [...], "attrvalue": [...], "name": [...]}
            columns = [attrs.get(k) or [] for k in ATTR_KEYS]
            attrs = [dict(zip(ATTR_KEYS, values)) for values in zip(*columns)]
        turns.append({"message": message.get("message") or "", "attrs": attrs or []})
    return turns


def from_hub(dataset, *, options: dict, label: str) -> ReadResult:
    rows: list[dict] = []
    for n, record in enumerate(dataset):
        conversation = {"name": record.get("name") or "",
                        "messages": _hub_messages(record.get("messages"), n, label)}
        domain = record.get("domain") or ""
        rows += conversation_rows(conversation, domain=domain, key=f"{domain}/hub:{n}",
                                  group=f"hub:{n}")
    return ReadResult(rows_to_frame(rows, SCHEMA))

"""CCKS 2021 financial document-level event element extraction (tianchi dataset 110904,
"CCKS2021金融领域篇章级事件元素抽取数据集"; the biendata task ccks_2021_task6_1).

The raw format is NOT verified against the tianchi download (it needs a login). This reader follows
what public solution code for the competition reads: JSON lines in ``ccks_task1_train.txt``::

    {"text_id": str, "text": str, "level1": str, "level2": str, "level3": str,
     "attributes": [{"type": role, "entity": str, "start": int, "end": int}, ...]}

with an inclusive ``end``; ``ccks_task1_eval_data.txt`` has the same lines without ``attributes``.
A line with a key missing or of the wrong JSON type, or with a lone surrogate, is dropped and
counted (``wrong_type:<key>``, ``lone_surrogate:<key>``) with its file and line; a file with no
readable line fails, naming the file, the line and the shape expected here.

Each element is checked against the text: at ``start`` with an inclusive or exclusive end, else
the occurrence nearest to ``start`` (public code reports offsets shifted by a few characters; one
competitor's fixing script slides up to 70 characters either way);
an element not in the text at all drops its row as ``argument_not_in_text``; a labelled row
without any element is dropped as ``no_arguments``.

Output columns, one row per document (key: ``text_id``): ``text``, ``level1``, ``level2``,
``level3``; and, null for unlabelled lines: ``arguments`` ``[{"role", "entity"}]`` (roles in the
order of ROLES, then by position; repeats kept once), ``arguments_text`` (one ``角色：值、值`` line
per role), ``arguments_json`` (``{"角色": [值, ...]}``), ``roles``, and ``focus_role`` /
``focus_entities`` (the first role present and its values, for single-question templates).
"""

from __future__ import annotations

import json

import polars as pl

from . import KEY, ReadResult
from ._lines import guarded_json_lines
from ._rows import bad, excerpt_of

FORMATS = ("ccks2021_event",)

SHAPE = ('{"text_id": str, "text": str, "level1": str, "level2": str, "level3": str, '
         '"attributes": [{"type": str, "entity": str, "start": int, "end": int}]}')
# The 13 element roles named by public solution code (n/v against the official schema); other
# role names are kept, after these.
ROLES = ["案发时间", "案发城市", "受害人", "受害人身份", "嫌疑人", "涉案平台", "支付渠道",
         "资损金额", "银行卡号", "手机号", "身份证号", "交易号", "订单号"]

SCHEMA = {KEY: pl.Utf8, "text": pl.Utf8, "level1": pl.Utf8, "level2": pl.Utf8, "level3": pl.Utf8,
          "arguments": pl.List(pl.Struct({"role": pl.Utf8, "entity": pl.Utf8})),
          "arguments_text": pl.Utf8, "arguments_json": pl.Utf8, "roles": pl.List(pl.Utf8),
          "focus_role": pl.Utf8, "focus_entities": pl.List(pl.Utf8)}
LABEL_COLUMNS = ["arguments", "arguments_text", "arguments_json", "roles", "focus_role",
                 "focus_entities"]


def locate(text: str, entity: str, start: int, end: int) -> int | None:
    """Where ``entity`` is in ``text``: at ``start`` (inclusive or exclusive ``end``), else the
    occurrence nearest to ``start``; None when it is not in the text."""
    if not entity:
        return None
    if 0 <= start and (text[start:end + 1] == entity or text[start:end] == entity):
        return start
    found, at = [], text.find(entity)
    while at >= 0:
        found.append(at)
        at = text.find(entity, at + 1)
    return min(found, key=lambda i: abs(i - start)) if found else None


def label_columns(mentions: list[tuple[str, str, int]]) -> dict:
    """Columns from (role, entity, position) mentions."""
    first: dict[tuple[str, str], int] = {}
    for role, entity, at in mentions:
        first[role, entity] = min(at, first.get((role, entity), at))
    extra = list(dict.fromkeys(r for r, _, _ in mentions if r not in ROLES))
    order = ROLES + extra
    ordered = sorted(first, key=lambda k: (order.index(k[0]), first[k]))
    roles = list(dict.fromkeys(role for role, _ in ordered))
    grouped = {role: [e for r, e in ordered if r == role] for role in roles}
    return {"arguments": [{"role": r, "entity": e} for r, e in ordered],
            "arguments_text": "\n".join(f"{r}：{'、'.join(v)}" for r, v in grouped.items()),
            "arguments_json": json.dumps(grouped, ensure_ascii=False),
            "roles": roles, "focus_role": roles[0], "focus_entities": grouped[roles[0]]}


def _line_row(record: dict, path, line: int, result: ReadResult) -> dict | None:
    shape_text = f"JSON lines shaped {SHAPE}"

    def shape(field, what):
        bad(path, line, field, what, shape_text)

    if not isinstance(record.get("text_id"), (str, int)) \
            or isinstance(record.get("text_id"), bool):
        shape("text_id", '"text_id" is missing')
    for name in ("text", "level1", "level2", "level3"):
        if not isinstance(record.get(name), str):
            shape(name, f'"{name}" is missing or not a string')
    text = record["text"]
    row = {KEY: str(record["text_id"]), "text": text,
           **{name: record[name] for name in ("level1", "level2", "level3")}}
    attributes = record.get("attributes")
    if attributes is None:                  # the unlabelled evaluation file
        row.update({c: None for c in LABEL_COLUMNS})
        return row
    if not isinstance(attributes, list):
        shape("attributes", '"attributes" is not a list')
    mentions = []
    for i, attribute in enumerate(attributes):
        if not (isinstance(attribute, dict) and isinstance(attribute.get("type"), str)
                and isinstance(attribute.get("entity"), str)
                and all(isinstance(attribute.get(k), int)
                        and not isinstance(attribute.get(k), bool)
                        for k in ("start", "end"))):
            shape("attributes", f"attributes[{i}] is not {{\"type\": str, \"entity\": str, "
                  "\"start\": int, \"end\": int}")
    for attribute in attributes:
        at = locate(text, attribute["entity"], attribute["start"], attribute["end"])
        if at is None:
            result.reject("argument_not_in_text", path, line, excerpt_of(record))
            return None
        mentions.append((attribute["type"], attribute["entity"], at))
    if not mentions:
        result.reject("no_arguments", path, line, excerpt_of(record))
        return None
    row.update(label_columns(mentions))
    return row


def read(files, *, fmt: str, encoding: str, options: dict, label: str) -> ReadResult:
    return guarded_json_lines(files, fmt, encoding, label, f"JSON lines shaped {SHAPE}", SCHEMA,
                              lambda path, line, record, result:
                              _line_row(record, path, line, result))

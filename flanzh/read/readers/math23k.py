"""Math23K (Wang et al. 2017), Chinese arithmetic word problems with one equation each:

    {"id": "2", "original_text": "...", "segmented_text": "一 个 工程队 ...",
     "equation": "x=316+230*(6-1)", "ans": "1466"}

in either released layout:

- ``Math_23K.json`` (the copy public solvers and the ``Gxg/Math23K`` hub repo ship): NOT one JSON
  document but pretty-printed objects written one after another (7 lines each, no brackets, no
  commas between them), read here object by object whatever their line count;
- ``trainset.json`` / ``validset.json`` / ``testset.json`` (the MWPToolkit split): one JSON array of
  the same objects.

Numbers in the text and the equation are written ``(1/3)`` for fractions, ``2(1/3)`` for mixed
numbers and ``20%`` for percentages; ``ans`` is a string such as ``"1466"``, ``"6.7"``, ``"25%"`` or
``"((7)/(15))"`` (a number in some re-exports). A few equations end in a stray unit ``千米/小时``,
which is removed.

Output columns: ``problem`` (``original_text``), ``equation`` (``x=...``), ``expression`` (its right
side), ``calculator`` (the expression as keyed into a calculator: mixed numbers spelled out,
``2(1/3)/7`` -> ``(2+1÷3)÷7``, with × and ÷), ``answer`` (``ans`` made readable: ``((7)/(15))`` ->
``7/15``, ``2(1/3)`` -> ``2又1/3``, ``6.0`` -> ``6``) and ``id``. Key: ``id`` (the position in the
file when absent).

Rows the pipeline cannot use consistently are counted, not read:
``equation_not_x`` (an equation that is not ``x=<expression>``) and ``answer_differs_from_equation``
(the expression, computed with exact fractions, does not give ``ans`` to the precision ``ans`` is
written in: a template that shows the equation and then the answer would contradict itself). An
expression or answer that cannot be computed (an unknown symbol) is kept unchecked. A duplicate
``id`` is counted as ``duplicate_id``. An item that is not an object with ``original_text``,
``equation`` and ``ans`` of the right JSON types, or that holds a lone surrogate, is counted as
``wrong_type:<field>`` / ``lone_surrogate:<key>``; a file with no readable item fails with the
file, the line and the expected shape. Text that is not JSON fails at once.
"""

from __future__ import annotations

import ast
import json
import math
import re
from fractions import Fraction
from pathlib import Path

import polars as pl

from ...encoding import read_text
from . import KEY, ReadResult, rows_to_frame
from ._lines import fail, file_list
from ._rows import FileRows, bad

FORMATS = ("math23k",)

SHAPE = ('objects {"id": str, "original_text": str, "segmented_text": str, "equation": "x=...", '
         '"ans": str}, either one after another (Math_23K.json) or in one JSON array '
         '(trainset.json / testset.json)')

SCHEMA = {KEY: pl.Utf8, "id": pl.Utf8, "problem": pl.Utf8, "equation": pl.Utf8,
          "expression": pl.Utf8, "calculator": pl.Utf8, "answer": pl.Utf8}

STRAY_UNIT = "千米/小时"
_MIXED = re.compile(r"(\d+)\((\d+)/(\d+)\)")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)%")
_PLAIN_FRACTION = re.compile(r"\(*\(?(\d+)\)?/\(?(\d+)\)?\)*")
_DECIMALS = re.compile(r"\.(\d+)")


class Unverifiable(ValueError):
    """An expression the checker does not compute (an unknown symbol, division by zero)."""


def _prepare(expression: str) -> str:
    text = expression.replace("（", "(").replace("）", ")").replace("×", "*").replace("÷", "/")
    text = _MIXED.sub(r"(\1+\2/\3)", text)
    text = _PERCENT.sub(r"(\1/100)", text)
    return text.replace("^", "**")


def calculator_form(expression: str) -> str:
    """``2(1/3)/7`` -> ``(2+1÷3)÷7``; ``12*(3/8)`` -> ``12×(3÷8)``."""
    return _MIXED.sub(r"(\1+\2/\3)", expression).replace("*", "×").replace("/", "÷")


def _eval(node) -> Fraction:
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
            and not isinstance(node.value, bool):
        return Fraction(str(node.value))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
        value = _eval(node.operand)
        return value if isinstance(node.op, ast.UAdd) else -value
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        if isinstance(node.op, ast.Div):
            if right == 0:
                raise Unverifiable("division by zero")
            return left / right
        if isinstance(node.op, ast.Pow) and right.denominator == 1 and abs(right) <= 64:
            if left == 0 and right < 0:
                raise Unverifiable("zero to a negative power")
            return left ** int(right)
    raise Unverifiable(f"cannot compute {ast.dump(node)[:40]}")


def compute(expression: str) -> Fraction:
    """The exact value of a Math23K expression (fractions, mixed numbers, percentages, ^)."""
    try:
        tree = ast.parse(_prepare(expression), mode="eval")
    except SyntaxError:
        raise Unverifiable(f"not an arithmetic expression: {expression}") from None
    return _eval(tree)


def readable_answer(ans) -> str:
    """``((7)/(15))`` -> ``7/15``; ``2(1/3)`` -> ``2又1/3``; ``6.0`` -> ``6``; others unchanged."""
    if isinstance(ans, bool):
        return str(ans)
    if isinstance(ans, (int, float)):
        return str(int(ans)) if float(ans).is_integer() else repr(float(ans))
    text = ans.strip()
    mixed = re.fullmatch(r"\(?(\d+)\(\(?(\d+)\)?/\(?(\d+)\)?\)\)?", text)
    if mixed:
        return f"{mixed[1]}又{mixed[2]}/{mixed[3]}"
    fraction = _PLAIN_FRACTION.fullmatch(text)
    if fraction and text.count("(") == text.count(")"):
        return f"{fraction[1]}/{fraction[2]}"
    if re.fullmatch(r"-?\d+\.0+", text):
        return text.split(".")[0]
    return text


def answer_matches(value: Fraction, answer: str) -> bool:
    """Does ``value`` give ``answer`` to the precision ``answer`` is written in? ``answer`` is the
    readable form (``7/15``, ``2又1/3``, ``25%``, ``3.33``)."""
    text = answer.replace("又", "+")
    percent = text.endswith("%")
    target = compute(text)                 # raises Unverifiable for a non-numeric answer
    places = max((len(d) for d in _DECIMALS.findall(text)), default=0) + (2 if percent else 0)
    tolerance = Fraction(1, 2 * 10 ** places) if places else Fraction(0)
    return abs(value - target) <= tolerance + Fraction(1, 10 ** 9) * max(1, abs(target))


def _objects(text: str, path: Path) -> list[tuple[int, object]]:
    """(line, value) for each element of a JSON array, or for each of several JSON values written
    one after another (``strict=False``: some copies hold raw tabs inside strings)."""
    decoder = json.JSONDecoder(strict=False)
    at = len(text) - len(text.lstrip())
    in_array = text.startswith("[", at)
    if in_array:
        at += 1
    objects = []
    while True:
        while at < len(text) and text[at] in " \t\r\n":
            at += 1
        line = text.count("\n", 0, at) + 1
        if at >= len(text):
            if in_array:
                fail(path, line, "the JSON array is not closed with ']'", SHAPE)
            return objects
        if in_array and text[at] == "]":
            if text[at + 1:].strip():
                fail(path, line, "text after the closing ']' of the JSON array", SHAPE)
            return objects
        try:
            value, at = decoder.raw_decode(text, at)
        except json.JSONDecodeError as exc:
            fail(path, exc.lineno, f"not valid JSON ({exc.msg})", SHAPE)
        objects.append((line, value))
        while at < len(text) and text[at] in " \t\r\n":
            at += 1
        if in_array and at < len(text) and text[at] == ",":
            at += 1
        elif in_array and at < len(text) and text[at] != "]":
            fail(path, text.count("\n", 0, at) + 1, "array elements not separated by ','", SHAPE)


def _row(record, path, where, index: int, result: ReadResult, seen: set) -> dict | None:
    if not isinstance(record, dict) or not all(k in record for k in
                                               ("original_text", "equation", "ans")):
        got = ", ".join(record) if isinstance(record, dict) else type(record).__name__
        missing = [k for k in ("original_text", "equation", "ans")
                   if not isinstance(record, dict) or k not in record]
        bad(path, where, missing[0], f"not a Math23K problem (got {got})", SHAPE)
    equation, ans = record["equation"], record["ans"]
    for name, ok in (("original_text", isinstance(record["original_text"], str)),
                     ("equation", isinstance(equation, str)),
                     ("ans", not isinstance(ans, bool) and (
                         isinstance(ans, (str, int))
                         or (isinstance(ans, float) and math.isfinite(ans))))):
        if not ok:
            bad(path, where, name, "original_text, equation or ans has the wrong type", SHAPE)
    if isinstance(record.get("id"), (dict, list)):
        bad(path, where, "id", '"id" is not a string or a number', SHAPE)
    key = str(record.get("id", index))
    excerpt = f"id={key} {equation} ans={ans}"
    line = where if isinstance(where, int) else 0
    if key in seen:
        result.reject("duplicate_id", path, line, excerpt)
        return None
    seen.add(key)
    equation = equation.strip().removesuffix(STRAY_UNIT).strip()
    left, sep, expression = equation.partition("=")
    if left.strip().lower() != "x" or not expression.strip() or "=" in expression:
        result.reject("equation_not_x", path, line, excerpt)
        return None
    expression = expression.strip()
    answer = readable_answer(ans)
    try:
        if not answer_matches(compute(expression), answer):
            result.reject("answer_differs_from_equation", path, line, excerpt)
            return None
    except Unverifiable:
        pass
    return {KEY: key, "id": key, "problem": record["original_text"].strip(),
            "equation": f"x={expression}", "expression": expression,
            "calculator": calculator_form(expression), "answer": answer}


def read(files, *, fmt: str, encoding: str, options: dict, label: str) -> ReadResult:
    result = ReadResult(pl.DataFrame(schema={KEY: pl.Utf8}))
    rows, seen = [], set()
    for path in file_list(files, fmt, label):
        objects = _objects(read_text(path, encoding, label), path)
        guard = FileRows(result, path, SCHEMA)
        for index, (line, record) in enumerate(objects):
            row = guard.attempt(line, record, lambda: _row(record, path, line, index, result,
                                                           seen), SHAPE)
            if row is not None:
                rows.append(row)
        guard.done()
    result.frame = rows_to_frame(rows, SCHEMA)
    return result


def from_hub(dataset, *, options: dict, label: str) -> ReadResult:
    """A hub copy with the raw columns (``original_text``, ``equation``, ``ans``; n/v for the
    ``Gxg/Math23K`` parquet splits, which come from its processed files)."""
    result = ReadResult(pl.DataFrame(schema={KEY: pl.Utf8}))
    rows, seen = [], set()
    for n, record in enumerate(dataset):
        row = _row(dict(record), f"{label} hub", f"row {n}", n, result, seen)
        if row is not None:
            rows.append(row)
    result.frame = rows_to_frame(rows, SCHEMA)
    return result

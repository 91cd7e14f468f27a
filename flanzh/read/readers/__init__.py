"""Source readers, one module per raw format, found by scanning this package.

A reader module defines:

- ``FORMATS``: the format names it handles (the spec's ``source.format``);
- ``read(files, *, fmt, encoding, options, label) -> ReadResult``: parse the split's files
  (a list of paths, or a dict of named parts) into a polars frame with a string ``__key``
  column (the stable source row key) plus the raw columns;
- optionally ``from_hub(dataset, *, options, label) -> ReadResult`` for the hub copy's shape.

Readers never drop a row silently: every row they skip is counted in ``ReadResult.dropped``.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from types import ModuleType

import polars as pl

KEY = "__key"
# Optional reader column: rows that share a source document (questions on one passage, blanks
# of one ChID passage). Few-shot pools are drawn by group, so a query never sees a sibling.
GROUP = "__group"
MAX_EXAMPLES = 5          # reject examples kept per reason
OUT_OF_SCOPE = "out_of_scope:"   # drop reasons that are by design, not bad input
EXCERPT_CHARS = 200


@dataclass
class ReadResult:
    frame: pl.DataFrame
    dropped: Counter = field(default_factory=Counter)
    # A few examples per drop reason: {"reason", "file", "line", "excerpt"}.
    rejects: list[dict] = field(default_factory=list)

    def skip(self, reason: str, count: int = 1) -> None:
        """Count rows left out by design (another language in a multilingual file): they are
        counted like any drop but, unlike rejects, do not count toward the reject rate."""
        self.dropped[f"{OUT_OF_SCOPE}{reason}"] += count

    def reject(self, reason: str, file, line: int, excerpt: str) -> None:
        self.dropped[reason] += 1
        if sum(1 for r in self.rejects if r["reason"] == reason) < MAX_EXAMPLES:
            self.rejects.append({"reason": reason, "file": str(file), "line": line,
                                 "excerpt": excerpt[:EXCERPT_CHARS]})


_BROKEN: dict[str, str] = {}     # reader module -> why it failed to import


@cache
def _modules() -> dict[str, ModuleType]:
    found = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        try:
            module = importlib.import_module(f"{__name__}.{info.name}")
        except Exception as exc:  # one broken reader must not take every task down with it
            _BROKEN[info.name] = f"{type(exc).__name__}: {exc}"
            continue
        for fmt in getattr(module, "FORMATS", ()):
            found[fmt] = module
    return found


def broken_readers() -> dict[str, str]:
    """Reader modules that failed to import, with the error."""
    _modules()
    return dict(_BROKEN)


def reader_names() -> list[str]:
    return sorted(_modules())


def reader_for(fmt: str) -> ModuleType:
    return _modules()[fmt]


def rows_to_frame(rows: list[dict], schema: dict | None = None) -> pl.DataFrame:
    """A frame from reader rows; ``__key`` first. Empty input keeps the schema."""
    if not rows:
        return pl.DataFrame(schema=schema or {KEY: pl.Utf8})
    return pl.DataFrame(rows, schema=schema, infer_schema_length=None)

"""The text a row is compared on for dedup and decontamination, normalised so that width,
punctuation, case, whitespace, zero-width and combining characters do not hide a match."""

from __future__ import annotations

import functools
import unicodedata

import numpy as np
import polars as pl
import pyarrow as pa

from ..spec.specs import Task

# Unicode's \w holds the join controls (U+200C, U+200D) and every mark (variation selectors such as
# U+FE0F, combining accents), so they are named here: a zero-width or combining character
# slipped between two characters must not hide a match. Marks that NFKC composes into a letter
# (e + U+0301 -> é) are gone by then and stay part of the letter.
_NOT_WORD = r"[\W_\p{M}\p{Cf}]+"


def normalise_expr(expr: pl.Expr) -> pl.Expr:
    """NFKC (full-width to half-width), lower case; punctuation, whitespace, format characters
    (zero-width spaces and joiners, U+FEFF) and marks left after NFKC (variation selectors,
    combining accents on characters they do not compose with) removed."""
    return expr.str.normalize("NFKC").str.to_lowercase().str.replace_all(_NOT_WORD, "")


def normalise_texts(texts) -> list[str]:
    """normalise_expr over many texts at once (the one definition of the normalisation)."""
    series = pl.Series("t", list(texts), dtype=pl.Utf8).fill_null("")
    return series.to_frame().select(normalise_expr(pl.col("t")))["t"].to_list()


def normalise_text(text: str) -> str:
    return normalise_texts([text])[0]


# Code points normalised one character at a time: a text made only of these normalises to the
# concatenation of its characters' normalisations, so it needs no NFKC pass, only a table lookup.
# That holds because every character in the table (kept below) decomposes under NFKD into
# starters (canonical combining class 0) none of which can be the second half of a canonical
# composition, so NFKC neither reorders nor composes across characters; lower case is per
# character except for capital sigma (excluded); and the punctuation removal is per character.
# The properties are those of Python's unicodedata, which Unicode's stability policies keep valid
# for assigned characters in any later version (unassigned ones are left out), and the values come
# from polars itself. tests/test_decontaminate.py checks all of this for every character kept.
PER_CHARACTER_RANGES = (
    (0x0000, 0x024F),     # ASCII, Latin-1, Latin Extended-A/B (letters with accents drop out)
    (0x0370, 0x04FF),     # Greek and Cyrillic
    (0x2000, 0x218F),     # general punctuation, super/subscripts, currency, letterlike, numbers
    (0x2190, 0x27BF),     # arrows, maths, technical, enclosed alphanumerics, shapes, dingbats
    (0x3000, 0x30FF),     # CJK symbols and punctuation, hiragana, katakana
    (0x3100, 0x312F),     # bopomofo
    (0x31A0, 0x31FF),     # bopomofo extended, CJK strokes, katakana extensions
    (0x3200, 0x33FF),     # enclosed CJK letters, CJK compatibility
    (0x3400, 0x4DBF),     # CJK Unified Ideographs Extension A
    (0x4E00, 0x9FFF),     # CJK Unified Ideographs
    (0xF900, 0xFAFF),     # CJK compatibility ideographs
    (0xFE00, 0xFE0F),     # variation selectors (U+FE0F after emoji): starters, deleted
    (0xFE10, 0xFE1F),     # vertical forms
    (0xFE30, 0xFE6F),     # CJK compatibility forms, small form variants
    (0xFF00, 0xFF9F),     # full-width ASCII, half-width CJK punctuation and katakana
    (0xFFE0, 0xFFEF),     # full-width signs
)
# Starters that are the second half of a canonical composition (Hangul vowels and trailing
# consonants, and some Indic vowel signs): a character decomposing to one of these is excluded.
# tests/test_decontaminate.py rebuilds this list from unicodedata.
COMPOSING_STARTERS = frozenset(
    [*range(0x1161, 0x1176), *range(0x11A8, 0x11C3),
     0x09BE, 0x09D7, 0x0B3E, 0x0B56, 0x0B57, 0x0BBE, 0x0BD7, 0x0CC2, 0x0CD5, 0x0CD6, 0x0D3E,
     0x0D57, 0x0DCF, 0x0DDF, 0x0FB5, 0x0FB7, 0x102E, 0x1B35, 0x11127, 0x1133E, 0x11357, 0x114B0,
     0x114BA, 0x114BD, 0x115AF, 0x11930])
DELETED = 0xFFFFFFFF        # table value: the character normalises to nothing
SLOW = 0xFFFFFFFE           # table value: the character's text goes through normalise_expr


def per_character(char: str) -> bool:
    """Whether ``char`` may be normalised on its own, whatever surrounds it (see above)."""
    if unicodedata.category(char) in ("Cn", "Cs") or char == "\u03a3":
        return False
    return all(unicodedata.combining(part) == 0 and ord(part) not in COMPOSING_STARTERS
               and part != "\u03a3" for part in unicodedata.normalize("NFKD", char))


@functools.cache
def per_character_table() -> np.ndarray:
    """For every code point: what it normalises to (one code point), DELETED, or SLOW. The values
    come from normalise_texts itself, one character at a time."""
    table = np.full(0x110000, SLOW, dtype=np.uint32)
    chars = [chr(c) for low, high in PER_CHARACTER_RANGES for c in range(low, high + 1)]
    chars = [c for c in chars if per_character(c)]
    codes = np.fromiter(map(ord, chars), dtype=np.int64, count=len(chars))
    out = pl.Series("t", chars, dtype=pl.Utf8).to_frame().select(normalise_expr(pl.col("t")))["t"]
    lengths = out.str.len_chars().to_numpy()
    one = lengths == 1
    table[codes[lengths == 0]] = DELETED
    table[codes[one]] = np.fromiter(map(ord, out.filter(pl.Series(one)).to_list()),
                                    dtype=np.uint32, count=int(one.sum()))
    return table                    # anything normalising to several characters stays SLOW


def utf32(texts: pl.Series) -> np.ndarray:
    """All (non-null) texts' code points back to back, read from the Arrow buffers."""
    array = texts.to_arrow()
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.type != pa.large_string():
        array = array.cast(pa.large_string())
    buffers = array.buffers()
    if len(array) == 0 or buffers[2] is None:
        return np.zeros(0, dtype=np.uint32)
    offsets = np.frombuffer(buffers[1], dtype=np.int64, count=len(array) + 1,
                            offset=array.offset * 8)
    data = memoryview(buffers[2])[int(offsets[0]):int(offsets[-1])]
    return np.frombuffer(str(data, "utf-8").encode("utf-32-le"), dtype=np.uint32)


def normalised_codepoints(texts: pl.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """normalise_expr over ``texts`` as code points: (points, starts, rows), where segment k,
    ``points[starts[k]:starts[k + 1]]``, is (part of) the normalised text of row ``rows[k]``.
    Texts made only of per-character code points (nearly all Chinese text) are normalised by table
    lookup: one segment per row, in row order. The other rows' segments there are empty, and
    their normalised texts (from polars) follow, one segment each."""
    texts = texts.cast(pl.Utf8).fill_null("")
    table = per_character_table()
    raw = utf32(texts)
    lengths = texts.str.len_chars().to_numpy().astype(np.int64)
    starts = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    if starts[-1] != len(raw):
        raise RuntimeError("code points and character counts disagree")
    mapped = table[raw]
    del raw
    keep = mapped < SLOW
    special = np.flatnonzero(~keep)                  # deleted, or the row is normalised by polars
    slow_rows = np.zeros(0, dtype=np.int64)
    if len(special):
        slow_at = special[mapped[special] == SLOW]
        if len(slow_at):
            slow_rows = np.searchsorted(starts, slow_at, side="right") - 1
            slow_rows = slow_rows[np.r_[True, slow_rows[1:] != slow_rows[:-1]]]
            fast = np.ones(len(texts), dtype=bool)
            fast[slow_rows] = False
            keep &= np.repeat(fast, lengths)
        if len(slow_rows) or len(special) * 16 > len(mapped):
            counts = np.zeros(len(mapped) + 1, dtype=np.int64 if len(mapped) >> 31 else np.int32)
            np.cumsum(keep, out=counts[1:])
            starts = counts[starts].astype(np.int64)
        else:                                        # few: count them row by row
            removed = np.bincount(np.searchsorted(starts, special, side="right") - 1,
                                  minlength=len(texts))
            starts = np.zeros(len(texts) + 1, dtype=np.int64)
            np.cumsum(lengths - removed, out=starts[1:])
        mapped = mapped[keep]
    points = mapped
    del mapped, keep
    rows = np.arange(len(texts), dtype=np.int64)
    if len(slow_rows):
        slow = texts.gather(slow_rows).to_frame("t").select(normalise_expr(pl.col("t")))["t"]
        slow_points = utf32(slow)
        slow_starts = np.zeros(len(slow_rows) + 1, dtype=np.int64)
        np.cumsum(slow.str.len_chars().to_numpy(), out=slow_starts[1:])
        starts = np.concatenate([starts, slow_starts[1:] + len(points)])
        points = np.concatenate([points, slow_points])
        rows = np.concatenate([rows, slow_rows])
    return points, starts, rows


def source_text(task: Task, frame: pl.DataFrame) -> pl.Series:
    """Each row's source text: its text fields joined by newlines."""
    parts = []
    for name in task.text_fields:
        column = pl.col(name)
        if frame.schema[name] != pl.Utf8 and frame.schema[name] != pl.String:
            column = column.list.join("\n")
        parts.append(column.fill_null(""))
    if not parts:
        return pl.Series("source_text", [""] * frame.height, dtype=pl.Utf8)
    return frame.select(pl.concat_str(parts, separator="\n").alias("source_text"))["source_text"]

"""Remove corpus rows that hold a leaked evaluation item, and nothing else.

Evaluation sets are every spec's ``splits.eval`` and held-out ``splits.benchmark`` (read through
the same reader) plus extra JSON-lines files named in the mixture policy. A row, like an evaluation
item, is its compared texts: the spec's ``decontamination.fields`` (default its text fields), each
value and each list item a text of its own (a dialogue: the turn answered and the response).
Text is normalised first (textnorm), and the check runs on source rows, before templates multiply
them. A row matches when

- one of its texts equals an evaluation text whole, of an item too short to hold an n-gram (an
  AFQMC question pair, a TNEWS title);
- its texts together equal an evaluation item's;
- one of its texts shares an n-gram with an evaluation text,

except that boilerplate is not evidence: an n-gram, text or item in more than ``max_eval_items``
distinct evaluation items (a long text shared by several items, a passage and its questions,
counts once), an n-gram at least half covered by such boilerplate in its evaluation text, a stock
phrase a spec lists, and a match found in more than ``max_source_rows`` rows of the task checked
(a long text shared by several rows counting once; with n-grams half covered by one) match
nothing.

How, for n-grams of n characters (13 by default), with k = (n + 1) // 2 and s = n - k + 1:

- text becomes code points straight from the Arrow buffers, normalised by table lookup
  (textnorm.normalised_codepoints); every window of code points gets a 32-bit polynomial hash,
  computed for any window from one running (prefix) sum, since the base is invertible mod 2^32;
- every n-gram contains one of the k-grams that start at a multiple of s (positions counted
  through the whole batch), so a row can only share an n-gram with the evaluation sets where one
  of those sampled k-grams is an evaluation k-gram. Only 1 in s windows is looked up at first, in
  a bitmap of the evaluation k-gram hashes; the s n-grams around each hit are then looked up in a
  bitmap of the evaluation n-gram hashes and in their sorted list;
- a hash hit is confirmed by comparing the code points with every evaluation n-gram of that hash,
  so the rows removed are exactly those a plain n-gram set lookup would remove, and the set named
  is that of the first evaluation text holding the row's first shared n-gram;
- boilerplate n-grams are counted exactly at freeze time (only hash groups with more entries than
  the limit can be; collisions are told apart by code points) and left out of the lookup; the
  source-side limit is applied to the n-grams found, counted over the rows' normalised texts;
- whole texts and items are matched as normalised strings (built from the same code points) by
  polars joins, so they are exact too. Only rows that may match are turned back into strings: a
  text whose code points hash (the same polynomial hash, over the whole text) as no evaluation
  text's equals none, so a row is built only when one of its texts has such a hash (then all of
  them, for its item key), and a text only when it also shares an n-gram.
  tests/test_decontaminate_policy.py checks all of it against a plain Python definition.

Rows go through in batches of about BATCH_CHARS characters, on a few threads (numpy and polars
release the GIL), so memory stays bounded whatever the number of rows.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from ..errors import SourceError
from ..read.textnorm import normalise_texts, normalised_codepoints, per_character_table, utf32
from ..spec.specs import Task

_BASE = 16777619                     # the 32-bit FNV prime (odd, so invertible mod 2^32)
BATCH_CHARS = 1_000_000
THREADS = min(2, os.cpu_count() or 1)
BITMAP_SPARSENESS = 5
COARSE_BITS = 26


class _Powers:
    """BASE^i and BASE^-i mod 2^32 for i < length, grown on demand and shared by all threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pair = (np.ones(0, dtype=np.uint32), np.ones(0, dtype=np.uint32))

    def get(self, length: int) -> tuple[np.ndarray, np.ndarray]:
        pair = self._pair                        # replaced whole, so always a matching pair
        if len(pair[0]) >= length:
            return pair
        with self._lock:
            if len(self._pair[0]) < length:
                size = max(length, 2 * len(self._pair[0]), 1 << 16)
                up = np.full(size, _BASE, dtype=np.uint32)
                down = np.full(size, pow(_BASE, -1, 1 << 32), dtype=np.uint32)
                up[0] = down[0] = 1
                np.cumprod(up, out=up)
                np.cumprod(down, out=down)
                self._pair = (up, down)
            return self._pair


_POWERS = _Powers()


class _Windows:
    """The hash of any window of a batch's code points: prefix[i] is the sum of points[j] *
    BASE^-j over j < i, so the polynomial hash of points[i:i + w] (sum of points[i + t] *
    BASE^(w - 1 - t)) is (prefix[i + w] - prefix[i]) * BASE^(i + w - 1), wrapping mod 2^32."""

    def __init__(self, points: np.ndarray):
        self.up, down = _POWERS.get(len(points) + 1)
        self.prefix = np.zeros(len(points) + 1, dtype=np.uint32)
        with np.errstate(over="ignore"):
            np.multiply(points, down[:len(points)], out=self.prefix[1:])
        np.cumsum(self.prefix[1:], dtype=np.uint32, out=self.prefix[1:])

    def every(self, width: int) -> np.ndarray:
        """The hash of every window of ``width``, by start position."""
        count = len(self.prefix) - width
        if count <= 0:
            return np.zeros(0, dtype=np.uint32)
        with np.errstate(over="ignore"):
            hashes = self.prefix[width:] - self.prefix[:count]
            hashes *= self.up[width - 1:width - 1 + count]
        return hashes

    def at(self, positions: np.ndarray, width: int) -> np.ndarray:
        with np.errstate(over="ignore"):
            hashes = self.prefix[positions + width] - self.prefix[positions]
            hashes *= self.up[positions + (width - 1)]
        return hashes

    def spans(self, begins: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """The hash of each span ``points[begin:end]`` (0 for an empty one): the hash ``at``
        gives a window of that width."""
        with np.errstate(over="ignore"):
            hashes = self.prefix[ends] - self.prefix[begins]
            hashes *= self.up[np.maximum(ends - 1, 0)]
        return hashes

    def strided(self, width: int, step: int) -> np.ndarray:
        """The hashes of the windows starting at 0, step, 2 * step, ... (those that fit)."""
        count = (len(self.prefix) - 1 - width) // step + 1
        if count <= 0:
            return np.zeros(0, dtype=np.uint32)
        stop = step * (count - 1) + 1
        with np.errstate(over="ignore"):
            hashes = self.prefix[width:width + stop:step] - self.prefix[0:stop:step]
            hashes *= self.up[width - 1:width - 1 + stop:step]
        return hashes


def _inside(starts: np.ndarray, lengths: np.ndarray, width: int) -> np.ndarray:
    """Start positions of every window of ``width`` inside one of the segments (start, length)."""
    counts = np.maximum(lengths - width + 1, 0)
    total = int(counts.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(counts)
    return np.arange(total, dtype=np.int64) + np.repeat(starts - (ends - counts), counts)


class _Bitmap:
    """One bit per value of the top bits of a hash, so most corpus windows are ruled out by a
    memory read or two instead of a binary search: first in a coarse bitmap small enough to stay
    in cache (COARSE_BITS), then, for the few that pass, in the fine one (about one bit in
    2^BITMAP_SPARSENESS set)."""

    def __init__(self, hashes: np.ndarray):
        bits = self.bits_for(len(hashes))
        self.fine = self._words(hashes, bits)
        self.fine_shift = np.uint32(32 - bits)
        coarse = min(bits, COARSE_BITS)
        self.coarse = self._words(hashes, coarse) if coarse < bits else None
        self.coarse_shift = np.uint32(32 - coarse)

    @staticmethod
    def bits_for(count: int) -> int:
        """2^29 bits (64 MiB) at most: one in eight bits set for 64 million n-grams."""
        return int(min(max(np.ceil(np.log2(max(count, 1))) + BITMAP_SPARSENESS, 10), 29))

    @staticmethod
    def _words(hashes: np.ndarray, bits: int) -> np.ndarray:
        words = np.zeros(1 << (bits - 5), dtype=np.uint32)
        if not len(hashes):
            return words
        top = np.sort(hashes >> np.uint32(32 - bits))        # (np.unique is far slower)
        top = top[np.r_[True, top[1:] != top[:-1]]]
        word = top >> np.uint32(5)
        first = np.flatnonzero(np.r_[True, word[1:] != word[:-1]])
        words[word[first]] = np.bitwise_or.reduceat(
            np.left_shift(np.uint32(1), top & np.uint32(31)), first)
        return words

    @staticmethod
    def _test(words: np.ndarray, shift: np.uint32, hashes: np.ndarray) -> np.ndarray:
        top = hashes >> shift
        found = words[top >> np.uint32(5)]
        found >>= top & np.uint32(31)
        return np.flatnonzero(found & np.uint32(1))

    def maybe(self, hashes: np.ndarray) -> np.ndarray:
        """The indices of the hashes that may be in the set."""
        if self.coarse is None:
            return self._test(self.fine, self.fine_shift, hashes)
        at = self._test(self.coarse, self.coarse_shift, hashes)
        return at[self._test(self.fine, self.fine_shift, hashes[at])]


class EvalIndex:
    """The evaluation texts: their n-gram hashes, sorted, each with the position of its first
    character in the evaluation texts' code points laid back to back (which evaluation set, ``add``
    call, a position belongs to is found from where each set's code points end), and, with
    ``whole``, their normalised texts and items for whole-text matching.

    An evaluation set is made of items (a row: its compared fields), each of one or more texts.
    Boilerplate is not evidence: with ``max_eval_items``, an n-gram, a whole text or a whole item
    found in more than that many distinct evaluation items is left out; with ``max_source_rows``,
    an n-gram, whole text or item found in more than that many rows of those checked (one task's;
    a long text shared by several rows counts once) is not a match there. ``ignore``
    lists stock phrases: their n-grams, and texts equal to one, never match. Texts are matched
    whole when their item is too short to hold an n-gram (and the set was added with
    ``whole_texts``); texts and items shorter than ``min_chars`` are never matched whole."""

    def __init__(self, ngram: int, *, max_eval_items: int | None = None,
                 max_source_rows: int | None = None, whole: bool = False, min_chars: int = 1,
                 ignore=()):
        if ngram < 1:
            raise ValueError(f"n-gram length must be at least 1, not {ngram}")
        self.ngram = ngram
        self.sample = (ngram + 1) // 2               # k: the sampled window's length
        self.step = ngram - self.sample + 1          # s: one sampled window in s
        self.max_eval_items = max_eval_items
        self.max_source_rows = max_source_rows
        self.whole = whole
        self.min_chars = max(int(min_chars), 1)
        self.ignore = sorted({t for t in normalise_texts(list(ignore)) if t})
        self.sizes: Counter = Counter()
        self._names: list[str] = []
        self._ends: list[int] = []                   # code points so far, after each add
        self._points: list[np.ndarray] = []
        self._grams: list[np.ndarray] = []           # n-gram hashes, in position order
        self._positions: list[np.ndarray] = []
        self._samples: list[np.ndarray] = []         # k-gram hashes inside n-gram-long texts
        self._seg_starts: list[np.ndarray] = []      # per segment: where it starts, its text
        self._seg_texts: list[np.ndarray] = []
        self._text_items: list[np.ndarray] = []      # per text: its item
        self._item_sets: list[np.ndarray] = []       # per item: its set (add order)
        self._item_whole: list[np.ndarray] = []      # per item: its texts match whole
        self._norms: list[pl.Series] = []            # per text: normalised (with ``whole``)
        self._texts = 0
        self._items = 0
        self.boilerplate: dict = {"ngrams": 0, "texts": 0, "items": 0, "examples": []}
        self._frozen = False

    def add(self, name: str, texts, items=None, count: int | None = None,
            whole_texts: bool = True) -> None:
        """Add an evaluation set: ``texts``, each its own item, unless ``items`` gives each text's
        item (0-based, non-decreasing) and ``count`` the number of items; without
        ``whole_texts`` its texts are not matched whole one by one (its items still are)."""
        texts = _series(texts)
        if items is None:
            items = np.arange(len(texts), dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        if count is None:
            count = int(items[-1]) + 1 if len(items) else 0
        set_id = len(self._names)
        self.sizes[name] += count
        base = self._ends[-1] if self._ends else 0
        for begin, end in _batches(texts):
            batch = texts.slice(begin, end - begin)
            points, starts, rows = normalised_codepoints(batch)
            windows = _Windows(points)
            lengths = np.diff(starts)
            positions = _inside(starts[:-1], lengths, self.ngram)
            self._grams.append(windows.every(self.ngram)[positions])
            self._positions.append(positions + base)
            # the k-grams of texts long enough to hold an n-gram
            long = lengths >= self.ngram
            samples = _inside(starts[:-1][long], lengths[long], self.sample)
            self._samples.append(windows.every(self.sample)[samples])
            self._points.append(points)
            self._seg_starts.append(starts[:-1] + base)
            self._seg_texts.append(rows + (self._texts + begin))
            self._norms.append(_strings(points, starts, rows, len(batch)))
            base += len(points)
        self._text_items.append(items + self._items)
        self._item_sets.append(np.full(count, set_id, dtype=np.int64))
        self._item_whole.append(np.full(count, whole_texts, dtype=bool))
        self._texts += len(texts)
        self._items += count
        self._names.append(name)
        self._ends.append(base)
        self._frozen = False

    @staticmethod
    def _joined(parts: list, dtype) -> np.ndarray:
        return np.concatenate(parts) if parts else np.zeros(0, dtype)

    def _freeze(self) -> None:
        if self._frozen:
            return
        grams = self._joined(self._grams, np.uint32)
        positions = self._joined(self._positions, np.int64)
        if len(self._points) > 1:
            self._points = [np.concatenate(self._points)]
        self.points = self._points[0] if self._points else np.zeros(0, np.uint32)
        # sorted by hash, then position: the first evaluation text owns a shared n-gram
        if len(self.points) < 1 << 32 and sys.byteorder == "little":
            keys = np.empty(len(grams), dtype=np.uint64)      # hash in the high half
            halves = keys.view(np.uint32)
            halves[1::2], halves[0::2] = grams, positions
            keys.sort()
            hashes, positions = halves[1::2].copy(), halves[0::2].astype(np.int64)
        else:
            order = np.argsort(grams, kind="stable")
            hashes, positions = grams[order], positions[order]
        self._grams, self._positions = [hashes], [positions]
        samples = self._joined(self._samples, np.uint32)
        self._samples = [samples]
        self.seg_starts = self._joined(self._seg_starts, np.int64)
        self.seg_texts = self._joined(self._seg_texts, np.int64)
        self._seg_starts, self._seg_texts = [self.seg_starts], [self.seg_texts]
        self.text_items = self._joined(self._text_items, np.int64)
        self.item_sets = self._joined(self._item_sets, np.int64)
        self.item_whole = self._joined(self._item_whole, bool)
        self._text_items, self._item_sets = [self.text_items], [self.item_sets]
        self._item_whole = [self.item_whole]
        norms = pl.concat(self._norms) if self._norms else pl.Series("norm", [], dtype=pl.Utf8)
        self._norms = [norms]
        self.text_chars = norms.str.len_chars().to_numpy().astype(np.int64)
        self.text_content = norms.rank("dense").to_numpy().astype(np.int64)
        self.boilerplate = {"ngrams": 0, "texts": 0, "items": 0, "examples": []}
        drop = self._ignored(hashes, positions)
        if self.max_eval_items is not None:
            drop |= self._common(hashes, positions)
        self.hashes, self.positions = hashes[~drop], positions[~drop]
        self.gram_filter = _Bitmap(self.hashes)
        self.sample_filter = _Bitmap(samples)
        self.ends = np.array(self._ends, dtype=np.int64)
        if self.whole:
            self._whole_tables()
        self._frozen = True

    def freeze(self) -> None:
        """Build the lookup structures now (otherwise done by the first lookup)."""
        self._freeze()

    def gram(self, position: int) -> str:
        """The evaluation n-gram starting at ``position``, as text."""
        return "".join(map(chr, self.points[position:position + self.ngram].tolist()))

    def _ignored(self, hashes: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Entries that are an n-gram of a stock phrase."""
        drop = np.zeros(len(hashes), dtype=bool)
        n = self.ngram
        grams = {p[i:i + n] for p in self.ignore for i in range(len(p) - n + 1)}
        if not grams or not len(hashes):
            return drop
        hashed = np.array([int(_Windows(np.array([ord(c) for c in g], np.uint32)).every(n)[0])
                           for g in grams], dtype=np.uint32)
        for at in np.flatnonzero(np.isin(hashes, hashed)).tolist():
            drop[at] = self.gram(int(positions[at])) in grams
        return drop

    def _common(self, hashes: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Entries of n-grams found in more than max_eval_items distinct evaluation items. Only
        hash groups of more entries than that can be; within one, n-grams are told apart by their
        code points (a hash collision is resolved exactly)."""
        limit, n = self.max_eval_items, self.ngram
        drop = np.zeros(len(hashes), dtype=bool)
        if not len(hashes):
            return drop
        bounds = np.flatnonzero(np.r_[True, hashes[1:] != hashes[:-1]])
        sizes = np.diff(np.r_[bounds, len(hashes)])
        members = np.flatnonzero(np.repeat(sizes > limit, sizes))
        if not len(members):
            return drop
        group = np.repeat(np.arange(len(bounds)), sizes)[members]
        first = positions[bounds[group]]
        at = positions[members]
        same = np.ones(len(members), dtype=bool)
        for offset in range(n):
            same &= self.points[at + offset] == self.points[first + offset]
        content = group.copy()                          # one id per distinct n-gram
        mixed = np.isin(group, group[~same])
        if mixed.any():
            ids: dict = {}
            for k in np.flatnonzero(mixed).tolist():
                key = (int(group[k]), self.points[at[k]:at[k] + n].tobytes())
                content[k] = ids.setdefault(key, len(bounds) + len(ids))
        # where an n-gram is counted: its item, or, in a long text shared by several items (a
        # passage and its questions), that text once
        text = self._text_of(at)
        items = np.where(self.text_chars[text] >= SHARED_TEXT_CHARS, -1 - self.text_content[text],
                         self.text_items[text])
        order = np.lexsort((items, content))
        c, i = content[order], items[order]
        distinct = np.r_[True, (c[1:] != c[:-1]) | (i[1:] != i[:-1])]
        ids, counts = np.unique(c[distinct], return_counts=True)
        common = ids[counts > limit]
        drop[members[np.isin(content, common)]] = True
        drop |= self._mostly_boilerplate(positions, positions[drop])
        self.boilerplate["ngrams"] = len(common)
        _, where = np.unique(content, return_index=True)
        example = dict(zip(np.unique(content).tolist(), at[where].tolist()))
        top = np.argsort(-counts[counts > limit], kind="stable")[:10]
        self.boilerplate["examples"] = [
            {"match": self.gram(example[int(common[t])]), "kind": "ngram",
             "eval_items": int(counts[counts > limit][t])} for t in top.tolist()]
        return drop

    def _mostly_boilerplate(self, positions: np.ndarray, common: np.ndarray) -> np.ndarray:
        """Entries with at least half their characters inside a boilerplate n-gram of the same
        evaluation text: a stock phrase plus a neighbouring word or two is still the stock phrase.
        An n-gram-long window meets such a window only if it holds its first or last character."""
        n = self.ngram
        covered = np.zeros(len(self.points) + n, dtype=bool)
        for offset in range(n):
            covered[common + offset] = True
        near = np.flatnonzero(covered[positions] | covered[positions + n - 1])
        count = np.zeros(len(near), dtype=np.int64)
        for offset in range(n):
            count += covered[positions[near] + offset]
        drop = np.zeros(len(positions), dtype=bool)
        drop[near[count >= n - n // 2]] = True
        return drop

    def _text_of(self, positions: np.ndarray) -> np.ndarray:
        return self.seg_texts[np.searchsorted(self.seg_starts, positions, side="right") - 1]

    def _whole_tables(self) -> None:
        """The normalised evaluation texts and items that match whole, with the set of the first
        item holding each; those in more than max_eval_items items are left out."""
        frame = pl.DataFrame({"norm": self._norms[0].alias("norm"), "item": self.text_items})
        limit = self.max_eval_items
        # the texts of items too short to hold an n-gram (a question pair, a title): a short
        # question next to a passage is not the item, and sets added with whole_texts=False
        # (dialogue turns) only match as whole items
        longest = frame.group_by("item").agg(pl.col("norm").str.len_chars().max().alias("long"))
        whole = pl.Series(np.flatnonzero(self.item_whole), dtype=pl.Int64)
        values = (frame.join(longest, on="item")
                  .filter((pl.col("norm").str.len_chars() >= self.min_chars)
                          & (pl.col("long") < self.ngram) & pl.col("item").is_in(whole)
                          & ~pl.col("norm").is_in(self.ignore))
                  .group_by("norm").agg(pl.col("item").n_unique().alias("n"),
                                        pl.col("item").min().alias("first")))
        items = (frame.group_by("item", maintain_order=True)
                 .agg(pl.col("norm").str.join(ITEM_SEPARATOR).alias("norm"),
                      pl.col("norm").str.len_chars().sum().alias("chars"))
                 .filter(pl.col("chars") >= self.min_chars)
                 .group_by("norm").agg(pl.len().alias("n"), pl.col("item").min().alias("first")))
        examples = []
        if limit is not None:
            for kind, table in (("text", values), ("item", items)):
                common = table.filter(pl.col("n") > limit)
                self.boilerplate[kind + "s"] = common.height
                examples += [{"match": m.replace(ITEM_SEPARATOR, " / "), "kind": kind,
                              "eval_items": int(c)}
                             for m, c in common.sort(["n", "norm"], descending=[True, False])
                             .head(10).select("norm", "n").iter_rows()]
            values = values.filter(pl.col("n") <= limit)
            items = items.filter(pl.col("n") <= limit)
            self.boilerplate["examples"] = sorted(self.boilerplate["examples"] + examples,
                                                  key=lambda e: -e["eval_items"])[:10]
        self.values = values.select("norm", pl.col("first").alias("eval_item"))
        self.item_texts = self._norms[0].unique()
        self.item_hashes = np.unique(_text_hashes(self.item_texts))
        self.items = items.select("norm", pl.col("first").alias("eval_item"))

    def owner_ids(self, texts, rows=None, count: int | None = None) -> np.ndarray:
        """For each row, the index (in add order) of the evaluation set it matches, or -1. Each
        text is a row unless ``rows`` gives each text's row (non-decreasing) and ``count`` the
        number of rows."""
        return self.find(texts, rows, count)[0]

    def find(self, texts, rows=None, count: int | None = None
             ) -> tuple[np.ndarray, dict[int, tuple[str, str]]]:
        """(owners as in owner_ids, {row: (kind, match)} for each matched row): kind "text" (one of
        its texts equals an evaluation text), "item" (the row's compared texts together equal an
        evaluation item's; its texts may each be common), or "ngram" (it shares an n-gram), the
        first that applies in that order; the match is the normalised text, item or n-gram."""
        self._freeze()
        texts = _series(texts)
        rows = (np.arange(len(texts), dtype=np.int64) if rows is None
                else np.asarray(rows, dtype=np.int64))
        if count is None:
            count = int(rows[-1]) + 1 if len(rows) else 0
        owners = np.full(count, -1, dtype=np.int64)
        why: dict[int, tuple[str, str]] = {}
        grams_on = len(self.hashes) > 0
        whole_on = self.whole and (self.values.height or self.items.height) > 0
        strings_on = bool(whole_on)
        if not len(texts) or not (grams_on or whole_on):
            return owners, why
        # whole rows to a batch: a batch normalises as text all the texts of a row that may be an
        # evaluation text or item
        batches = _batches(texts, rows)
        per_character_table()                       # built once, before the threads start
        found: list = [None] * len(batches)

        def run(k):
            begin, end = batches[k]
            found[k] = self._batch_matches(texts.slice(begin, end - begin), begin, grams_on,
                                           strings_on, rows[begin:end])

        if THREADS > 1 and len(batches) > 1:
            with ThreadPoolExecutor(THREADS) as pool:
                list(pool.map(run, range(len(batches))))
        else:
            for k in range(len(batches)):
                run(k)
        text_at = self._joined([f[0] for f in found], np.int64)
        cand = self._joined([f[1] for f in found], np.int64)
        target = self._joined([f[2] for f in found], np.int64)
        # the normalised texts (see _batch_matches): those that may be evaluation texts, the
        # other texts of their rows, and the texts sharing an n-gram; the others are none
        wanted = self._joined([f[3] for f in found], np.int64)
        norms = pl.concat([f[4] for f in found]) if strings_on else None
        matched: list[tuple[np.ndarray, np.ndarray, list]] = []     # (rows, sets, whys) by kind
        if whole_on:
            frame = pl.DataFrame({"text": wanted, "row": rows[wanted], "norm": norms})

            def keys_of(selected: np.ndarray) -> pl.DataFrame:
                """The rows' compared texts, normalised and joined: what a row is as an item."""
                return (frame.filter(pl.col("row").is_in(pl.Series(selected, dtype=pl.Int64)))
                        .group_by("row", maintain_order=True)
                        .agg(pl.col("norm").str.join(ITEM_SEPARATOR).alias("key")))

            hit = frame.join(self.values, on="norm", how="inner")
            if self.max_source_rows is not None and hit.height:
                hit = hit.join(keys_of(np.unique(hit["row"].to_numpy())), on="row")
                many = (hit.group_by("norm").agg(pl.col("key").n_unique().alias("n"))
                        .filter(pl.col("n") > self.max_source_rows))
                hit = hit.join(many, on="norm", how="anti")
            hit = hit.sort("text").unique("row", keep="first", maintain_order=True)
            matched.append((hit["row"].to_numpy(), self.item_sets[hit["eval_item"].to_numpy()],
                            [("text", t) for t in hit["norm"]]))
            # a row can be an evaluation item only if each of its texts is an evaluation text
            outside = np.ones(len(texts), dtype=bool)
            outside[wanted] = ~norms.is_in(self.item_texts).to_numpy()
            candidates = np.flatnonzero((np.bincount(rows[outside], minlength=count) == 0)
                                        & (np.bincount(rows, minlength=count) > 0))
            row_keys = keys_of(candidates)
            hit = row_keys.join(self.items.rename({"norm": "key"}), on="key", how="inner")
            if self.max_source_rows is not None and hit.height:
                many = row_keys.group_by("key").len().filter(pl.col("len") > self.max_source_rows)
                hit = hit.join(many, on="key", how="anti")
            hit = hit.sort("row")
            matched.append((hit["row"].to_numpy(), self.item_sets[hit["eval_item"].to_numpy()],
                            [("item", k.replace(ITEM_SEPARATOR, " / ")) for k in hit["key"]]))
        if len(text_at):
            # each text's n-grams, each with its first occurrence in the evaluation texts
            order = np.lexsort((target, cand, text_at))
            text_at, cand, target = text_at[order], cand[order], target[order]
            first = np.r_[True, (text_at[1:] != text_at[:-1]) | (cand[1:] != cand[:-1])]
            text_at, cand, target = text_at[first], cand[first], target[first]
            if self.max_source_rows is not None:
                # counted over rows, but a long text shared by several rows (a passage and its
                # questions) once
                if norms is None:
                    unique, inverse = np.unique(text_at, return_inverse=True)
                    found = pl.Series(normalise_texts(texts.gather(unique).to_list()),
                                      dtype=pl.Utf8).gather(inverse)
                else:
                    found = norms.gather(np.searchsorted(wanted, text_at))
                ids = np.where(found.str.len_chars().to_numpy() >= SHARED_TEXT_CHARS,
                               found.rank("dense").to_numpy().astype(np.int64),
                               -1 - rows[text_at])
                pair = np.lexsort((ids, target))
                t, i = target[pair], ids[pair]
                distinct = np.r_[True, (t[1:] != t[:-1]) | (i[1:] != i[:-1])]
                grams, counts = np.unique(t[distinct], return_counts=True)
                common = np.isin(target, grams[counts > self.max_source_rows])
                keep = ~common & ~_mostly_covered(text_at, cand, common, self.ngram)
                text_at, target = text_at[keep], target[keep]
            row_at = rows[text_at]
            first = np.r_[True, row_at[1:] != row_at[:-1]][:len(row_at)]
            row_at, target = row_at[first], target[first]
            sets = np.searchsorted(self.ends, target, side="right")
            matched.append((row_at, sets, [("ngram", int(t)) for t in target.tolist()]))
        for found_rows, sets, whys in reversed(matched):     # the first kind wins
            owners[found_rows] = sets
            for row, reason in zip(found_rows.tolist(), whys):
                why[row] = reason
        for row, (kind, match) in why.items():
            if kind == "ngram":
                why[row] = (kind, self.gram(match))
        return owners, why

    def _batch_matches(self, texts: pl.Series, offset: int, grams_on: bool, strings_on: bool,
                       text_rows: np.ndarray):
        """Every n-gram of ``texts`` found in the index: (text, its position in the batch, its
        first position in the evaluation texts); with ``strings_on``, also some texts normalised:
        (their texts, in order, and their normalised strings). Those are every text of a row
        (``text_rows``: each text's row) with a text that may be an evaluation text, its
        normalised code points hashing as one does, and every text with an n-gram found; any
        other text is no evaluation text (building every text's string cost more than the
        n-grams)."""
        points, starts, rows = normalised_codepoints(texts)
        none = np.zeros(0, np.int64)
        windows = _Windows(points) if grams_on or strings_on else None
        found = (none, none, none)
        if grams_on:
            found = self._gram_matches(points, starts, rows, windows)
        if not strings_on:
            return (found[0] + offset, found[1], found[2], none, None)
        segment = _text_segments(rows, len(texts))
        hashes = windows.spans(starts[segment], starts[segment + 1])
        near = np.searchsorted(self.item_hashes, hashes)
        maybe = self.item_hashes[np.minimum(near, len(self.item_hashes) - 1)] == hashes \
            if len(self.item_hashes) else np.zeros(len(texts), dtype=bool)
        wanted = np.isin(text_rows, text_rows[maybe])
        wanted[found[0]] = True
        wanted = np.flatnonzero(wanted)
        if len(wanted) == len(texts):
            norms = _strings(points, starts, rows, len(texts))
        else:
            norms = _strings(*_segments(points, starts, segment[wanted]), len(wanted))
        return (found[0] + offset, found[1], found[2], wanted + offset, norms)

    def _gram_matches(self, points: np.ndarray, starts: np.ndarray, rows: np.ndarray,
                      windows: _Windows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A batch's n-grams found in the index (see _batch_matches), its texts numbered from 0."""
        n, k, step = self.ngram, self.sample, self.step
        none = np.zeros(0, np.int64)
        # every n-gram holds the k-gram starting at the one multiple of step among its first
        # step positions: only n-grams around a sampled k-gram that may be evaluation text count
        hits = self.sample_filter.maybe(windows.strided(k, step)) * step
        if not len(hits):
            return none, none, none
        candidates = (hits[:, None] - np.arange(step, dtype=np.int64)[None, :]).ravel()
        candidates = candidates[(candidates >= 0) & (candidates <= len(points) - n)]
        grams = windows.at(candidates, n)
        keep = self.gram_filter.maybe(grams)
        candidates, grams = candidates[keep], grams[keep]
        segments = np.searchsorted(starts, candidates, side="right") - 1
        keep = candidates + n <= starts[segments + 1]            # inside one text
        candidates, grams, segments = candidates[keep], grams[keep], segments[keep]
        low = np.searchsorted(self.hashes, grams, side="left")
        keep = self.hashes[np.minimum(low, len(self.hashes) - 1)] == grams
        candidates, grams, segments, low = (candidates[keep], grams[keep], segments[keep],
                                            low[keep])
        counts = np.searchsorted(self.hashes, grams, side="right") - low
        # every evaluation n-gram with the same hash (collisions included)
        which = np.repeat(np.arange(len(candidates)), counts)
        entries = np.arange(int(counts.sum()), dtype=np.int64) + np.repeat(
            low - (np.cumsum(counts) - counts), counts)
        source, target = candidates[which], self.positions[entries]
        same = np.ones(len(which), dtype=bool)
        for at in range(n):
            same &= points[source + at] == self.points[target + at]
        which, target = which[same], target[same]
        return rows[segments[which]], candidates[which], target.astype(np.int64)

    def matches(self, texts, rows=None, count: int | None = None) -> list[str | None]:
        """For each row, the evaluation set it matches, or None."""
        return [None if i < 0 else self._names[i]
                for i in self.owner_ids(texts, rows, count).tolist()]

    def match(self, text: str) -> str | None:
        return self.matches([text])[0]

    def name(self, set_id: int) -> str:
        return self._names[set_id]


ITEM_SEPARATOR = "\x1f"      # between an item's normalised texts (normalisation removes it)
SHARED_TEXT_CHARS = 50       # a text this long shared by several evaluation items counts once


def _mostly_covered(texts: np.ndarray, starts: np.ndarray, common: np.ndarray, n: int
                    ) -> np.ndarray:
    """For n-grams found in texts (text, start), sorted: whether at least half the characters of
    each lie inside a ``common`` one of the same text. Only the nearest common n-gram on each side
    can count (all are n long)."""
    keys = texts.astype(np.int64) * (1 << 32) + starts
    marked = keys[common]
    if not len(marked):
        return np.zeros(len(keys), dtype=bool)
    left = np.searchsorted(marked, keys, side="right") - 1
    right = np.searchsorted(marked, keys, side="left")
    lq = marked[np.maximum(left, 0)]
    rq = marked[np.minimum(right, len(marked) - 1)]
    from_left = np.where((left >= 0) & (lq >> 32 == keys >> 32), np.maximum(lq + n - keys, 0), 0)
    from_right = np.where((right < len(marked)) & (rq >> 32 == keys >> 32),
                          np.maximum(keys + n - rq, 0), 0)
    covered = np.minimum(np.minimum(from_left, n) + np.minimum(from_right, n), n)
    return covered >= n - n // 2


def _segments(points: np.ndarray, starts: np.ndarray, chosen: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``chosen`` segments of (points, starts) alone, in that order, as _strings takes them."""
    lengths = starts[chosen + 1] - starts[chosen]
    bounds = np.zeros(len(chosen) + 1, dtype=np.int64)
    np.cumsum(lengths, out=bounds[1:])
    at = np.arange(int(bounds[-1]), dtype=np.int64) + np.repeat(starts[chosen] - bounds[:-1],
                                                                 lengths)
    return points[at], bounds, np.arange(len(chosen), dtype=np.int64)


def _text_hashes(texts: pl.Series) -> np.ndarray:
    """The hash of each (normalised) text's code points, as _Windows.spans gives it."""
    points = utf32(texts)
    bounds = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(texts.str.len_chars().to_numpy(), out=bounds[1:])
    return _Windows(points).spans(bounds[:-1], bounds[1:])


def _strings(points: np.ndarray, starts: np.ndarray, rows: np.ndarray, count: int) -> pl.Series:
    """normalised_codepoints' output back as one normalised string per text, in text order (a
    text normalised by polars has an empty segment in its place and its own at the end)."""
    width = (1 + (points >= 0x80).astype(np.int64) + (points >= 0x800)
             + (points >= 0x10000))
    ends = np.zeros(len(points) + 1, dtype=np.int64)
    np.cumsum(width, out=ends[1:])
    data = points.astype("<u4").tobytes().decode("utf-32-le").encode("utf-8")
    offsets = ends[starts]
    array = pa.LargeStringArray.from_buffers(len(starts) - 1, pa.py_buffer(offsets.tobytes()),
                                             pa.py_buffer(data))
    segments = pl.Series("norm", array)
    return segments.gather(_text_segments(rows, count))


def _text_segments(rows: np.ndarray, count: int) -> np.ndarray:
    """Each of ``count`` texts' segment in normalised_codepoints' output (``rows``: each
    segment's text): its own, or for a text normalised by polars the one after the others."""
    segment = np.arange(count, dtype=np.int64)
    segment[rows[count:]] = np.arange(count, len(rows), dtype=np.int64)
    return segment


def _series(texts) -> pl.Series:
    if isinstance(texts, pl.Series):
        return texts.cast(pl.Utf8)
    return pl.Series(list(texts), dtype=pl.Utf8)


def _batches(texts: pl.Series, rows: np.ndarray | None = None) -> list[tuple[int, int]]:
    """(begin, end) text ranges of about BATCH_CHARS characters each (at least one text); with
    ``rows`` (each text's row, non-decreasing), never splitting a row's texts."""
    if not len(texts):
        return []
    sizes = texts.str.len_chars().fill_null(0).to_numpy().astype(np.int64)
    ends = np.cumsum(sizes)
    cuts = np.minimum(np.searchsorted(ends, np.arange(BATCH_CHARS, int(ends[-1]), BATCH_CHARS),
                                      side="right") + 1, len(texts))
    if rows is not None and len(cuts):
        cuts = np.searchsorted(rows, rows[cuts - 1], side="right")     # after the row's last
    bounds = np.concatenate([[0], cuts, [len(texts)]])
    bounds = bounds[np.r_[True, bounds[1:] != bounds[:-1]]]             # (already sorted)
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))


def strings_in(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings_in(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return []


def read_extra_eval_file(path: Path) -> list[list[str]]:
    """An extra evaluation set: JSON lines, one item a line; its texts are every string value in
    the line."""
    if not path.is_file():
        raise SourceError(f"{path}: no such evaluation file (decontamination.extra in the mixture "
                          "policy)")
    items = []
    for line_no, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(strings_in(json.loads(line)))
        except json.JSONDecodeError as exc:
            raise SourceError(f"{path}: line {line_no}: not valid JSON ({exc.msg}); expected one "
                              "JSON object per line") from None
    return items


_FIELD = re.compile(r"([a-z][a-z0-9_]*)(?:\[-([1-9][0-9]*):\])?")


def parse_compared_field(entry: str) -> tuple[str, int | None] | None:
    """``name`` or ``name[-k:]`` (the last k items of a list field), or None when malformed."""
    match = _FIELD.fullmatch(entry)
    if match is None:
        return None
    return match.group(1), int(match.group(2)) if match.group(2) else None


def compared_fields(task: Task) -> list[tuple[str, int | None]]:
    """What a row of the task is compared on: the spec's decontamination.fields, by default its
    text fields (validated when the spec loads)."""
    entries = (task.spec.get("decontamination") or {}).get("fields")
    if not entries:
        return [(name, None) for name in task.text_fields]
    return [parse_compared_field(entry) for entry in entries]


def compared_texts(task: Task, frame: pl.DataFrame) -> tuple[pl.Series, np.ndarray]:
    """Every compared text of the rows, each list item on its own, row by row in field order:
    (texts, the row of each text)."""
    parts = []
    index = pl.int_range(pl.len(), dtype=pl.Int64).alias("row")
    for order, (name, last) in enumerate(compared_fields(task)):
        column = pl.col(name)
        if isinstance(frame.schema[name], pl.List):
            if last:
                column = column.list.tail(last)
            part = frame.select(index, column.alias("text")).explode("text")
        else:
            part = frame.select(index, column.cast(pl.Utf8).alias("text"))
        parts.append(part.with_columns(pl.lit(order, dtype=pl.Int32).alias("field")))
    if not parts or not frame.height:
        return pl.Series("text", [], dtype=pl.Utf8), np.zeros(0, dtype=np.int64)
    texts = pl.concat(parts).sort(["row", "field"], maintain_order=True)
    return texts["text"].cast(pl.Utf8).fill_null(""), texts["row"].to_numpy()


def decontaminate(frame: pl.DataFrame, texts, index: EvalIndex, rows=None,
                  audit: Counter | None = None) -> tuple[pl.DataFrame, Counter]:
    """Drop rows that match an evaluation set; count them per set. ``texts`` are the rows' texts
    (``rows`` gives each text's row; default one text a row); ``audit`` counts removed rows by
    (evaluation set, kind, match)."""
    owners, why = index.find(texts, rows, frame.height)
    dropped: Counter = Counter()
    for i, c in enumerate(np.bincount(owners[owners >= 0], minlength=len(index._names))):
        if c:
            dropped[f"contaminated:{index.name(i)}"] += int(c)
    if audit is not None:
        for row, (kind, match) in why.items():
            audit[(index.name(int(owners[row])), kind, match)] += 1
    return frame.filter(pl.Series(owners < 0, dtype=pl.Boolean)), dropped


def audit_summary(audits: dict[str, Counter], top: int = 5) -> dict:
    """Per evaluation set: rows removed, by task, and the matches that removed the most rows."""
    summary: dict = {}
    for task_id, audit in sorted(audits.items()):
        for (name, kind, match), rows in audit.items():
            entry = summary.setdefault(name, {"rows": 0, "tasks": {}, "top": Counter()})
            entry["rows"] += rows
            entry["tasks"][task_id] = entry["tasks"].get(task_id, 0) + rows
            entry["top"][(kind, match)] += rows
    for entry in summary.values():
        ranked = sorted(entry["top"].items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        entry["top"] = [{"kind": k, "match": m, "rows": n} for (k, m), n in ranked]
    return dict(sorted(summary.items()))

"""Remove corpus rows that share a long character n-gram with any evaluation set.

Evaluation sets are every spec's ``splits.eval`` (read through the same reader) plus extra
JSON-lines files named in the mixture policy. Text is normalised first (textnorm), and the check
runs on source rows, before templates multiply them.

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
  is that of the first evaluation text holding the row's first shared n-gram.

Rows go through in batches of about BATCH_CHARS characters, on a few threads (numpy and polars
release the GIL), so memory stays bounded whatever the number of rows.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import polars as pl

from .errors import SourceError
from .textnorm import normalised_codepoints, per_character_table

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
    """The n-gram hashes of the evaluation texts, sorted, each with the position of its first
    character in the evaluation texts' code points laid back to back; which evaluation set
    (``add`` call) a position belongs to is found from where each set's code points end."""

    def __init__(self, ngram: int):
        if ngram < 1:
            raise ValueError(f"n-gram length must be at least 1, not {ngram}")
        self.ngram = ngram
        self.sample = (ngram + 1) // 2               # k: the sampled window's length
        self.step = ngram - self.sample + 1          # s: one sampled window in s
        self.sizes: Counter = Counter()
        self._names: list[str] = []
        self._ends: list[int] = []                   # code points so far, after each add
        self._points: list[np.ndarray] = []
        self._grams: list[np.ndarray] = []           # n-gram hashes, in position order
        self._positions: list[np.ndarray] = []
        self._samples: list[np.ndarray] = []         # k-gram hashes inside n-gram-long texts
        self._frozen = False

    def add(self, name: str, texts) -> None:
        texts = _series(texts)
        self.sizes[name] += len(texts)
        base = self._ends[-1] if self._ends else 0
        for begin, end in _batches(texts):
            points, starts, _ = normalised_codepoints(texts.slice(begin, end - begin))
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
            base += len(points)
        self._names.append(name)
        self._ends.append(base)
        self._frozen = False

    def _freeze(self) -> None:
        if self._frozen:
            return
        grams = np.concatenate(self._grams) if self._grams else np.zeros(0, np.uint32)
        positions = (np.concatenate(self._positions) if self._positions
                     else np.zeros(0, np.int64))
        if len(self._points) > 1:
            self._points = [np.concatenate(self._points)]
        self.points = self._points[0] if self._points else np.zeros(0, np.uint32)
        # sorted by hash, then position: the first evaluation text owns a shared n-gram
        if len(self.points) < 1 << 32 and sys.byteorder == "little":
            keys = np.empty(len(grams), dtype=np.uint64)      # hash in the high half
            halves = keys.view(np.uint32)
            halves[1::2], halves[0::2] = grams, positions
            keys.sort()
            self.hashes, self.positions = halves[1::2].copy(), halves[0::2].copy()
        else:
            order = np.argsort(grams, kind="stable")
            self.hashes, self.positions = grams[order], positions[order]
        self._grams, self._positions = [self.hashes], [self.positions]
        samples = np.concatenate(self._samples) if self._samples else np.zeros(0, np.uint32)
        self._samples = [samples]
        self.gram_filter = _Bitmap(self.hashes)
        self.sample_filter = _Bitmap(samples)
        self.ends = np.array(self._ends, dtype=np.int64)
        self._frozen = True

    def owner_ids(self, texts) -> np.ndarray:
        """For each text, the index (in add order) of the evaluation set of an n-gram it shares,
        or -1."""
        self._freeze()
        texts = _series(texts)
        owners = np.full(len(texts), -1, dtype=np.int64)
        if not len(self.hashes) or not len(texts):
            return owners
        batches = _batches(texts)
        per_character_table()                       # built once, before the threads start

        def run(batch):
            begin, end = batch
            rows, sets = self._batch_owners(texts.slice(begin, end - begin))
            owners[rows + begin] = sets

        if THREADS > 1 and len(batches) > 1:
            with ThreadPoolExecutor(THREADS) as pool:
                list(pool.map(run, batches))
        else:
            for batch in batches:
                run(batch)
        return owners

    def _batch_owners(self, texts: pl.Series) -> tuple[np.ndarray, np.ndarray]:
        n, k, step = self.ngram, self.sample, self.step
        points, starts, rows = normalised_codepoints(texts)
        windows = _Windows(points)
        # every n-gram holds the k-gram starting at the one multiple of step among its first
        # step positions: only n-grams around a sampled k-gram that may be evaluation text count
        hits = self.sample_filter.maybe(windows.strided(k, step)) * step
        if not len(hits):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
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
        for offset in range(n):
            same &= points[source + offset] == self.points[target + offset]
        which, target = which[same], target[same]
        if not len(which):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        # each row's first shared n-gram, and its first occurrence in the evaluation texts
        found_rows = rows[segments[which]]
        order = np.lexsort((target, candidates[which], found_rows))
        found_rows, target = found_rows[order], target[order]
        first = np.flatnonzero(np.r_[True, found_rows[1:] != found_rows[:-1]])
        sets = np.searchsorted(self.ends, target[first], side="right")
        return found_rows[first], sets

    def matches(self, texts) -> list[str | None]:
        """For each text, the evaluation set of an n-gram it shares, or None."""
        return [None if i < 0 else self._names[i] for i in self.owner_ids(texts).tolist()]

    def match(self, text: str) -> str | None:
        return self.matches([text])[0]


def _series(texts) -> pl.Series:
    if isinstance(texts, pl.Series):
        return texts.cast(pl.Utf8)
    return pl.Series(list(texts), dtype=pl.Utf8)


def _batches(texts: pl.Series) -> list[tuple[int, int]]:
    """(begin, end) row ranges of about BATCH_CHARS characters each (at least one row)."""
    if not len(texts):
        return []
    sizes = texts.str.len_chars().fill_null(0).to_numpy().astype(np.int64)
    ends = np.cumsum(sizes)
    cuts = np.searchsorted(ends, np.arange(BATCH_CHARS, int(ends[-1]), BATCH_CHARS),
                           side="right") + 1
    bounds = np.concatenate([[0], np.minimum(cuts, len(texts)), [len(texts)]])
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


def read_extra_eval_file(path: Path) -> list[str]:
    """An extra evaluation set: JSON lines, every string value in each line is evaluation text."""
    if not path.is_file():
        raise SourceError(f"{path}: no such evaluation file (decontamination.extra in the mixture "
                          "policy)")
    texts = []
    for line_no, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            texts.append("\n".join(strings_in(json.loads(line))))
        except json.JSONDecodeError as exc:
            raise SourceError(f"{path}: line {line_no}: not valid JSON ({exc.msg}); expected one "
                              "JSON object per line") from None
    return texts


def decontaminate(frame: pl.DataFrame, texts: pl.Series, index: EvalIndex
                  ) -> tuple[pl.DataFrame, Counter]:
    """Drop rows whose text shares an n-gram with an evaluation set; count them per set."""
    owners = index.owner_ids(texts)
    found = owners[owners >= 0]
    dropped = Counter({f"contaminated:{index._names[i]}": int(c)
                       for i, c in enumerate(np.bincount(found, minlength=len(index._names)))
                       if c})
    return frame.filter(pl.Series(owners < 0, dtype=pl.Boolean)), dropped

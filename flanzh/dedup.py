"""Near-duplicate source rows across tasks (MinHash LSH over character n-grams, via rensa) and
exact duplicates of (inputs, targets) across the corpus (64-bit hashes, streamed)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import polars as pl

from .textnorm import normalise_texts

MINHASH_SEED = 1
_RECORD_SEED = 20230918


def _shingles(norm: str, n: int) -> list[str]:
    if len(norm) <= n:
        return [norm]
    return [norm[i:i + n] for i in range(len(norm) - n + 1)]


class NearDuplicates:
    """MinHash LSH over the source rows of tasks added one after another: each task's rows are
    checked against the rows of the tasks added before it, never against each other (questions
    on one passage are not duplicates); pairs of tasks in ``exempt`` may share text."""

    def __init__(self, *, threshold: float, ngram: int, num_perm: int, exempt: list[list[str]]):
        from rensa import RMinHashLSH

        self.threshold, self.ngram, self.num_perm = threshold, ngram, num_perm
        # 8 rows per band: candidates from about 0.7 similarity up, each then verified against
        # the threshold with the signatures' own Jaccard estimate.
        self.lsh = RMinHashLSH(threshold=threshold, num_perm=num_perm, num_bands=num_perm // 8)
        self.exempt = {frozenset(pair) for pair in exempt}
        self.signatures: list[object] = []
        self.owner: list[str] = []

    def add_task(self, task_id: str, texts: list[str]) -> list[bool]:
        """Which of ``texts`` nearly duplicate a row of an earlier task; then index them."""
        from rensa import RMinHash

        hashes = []
        for norm in normalise_texts(texts):
            minhash = RMinHash(num_perm=self.num_perm, seed=MINHASH_SEED)
            minhash.update(_shingles(norm, self.ngram))
            hashes.append(minhash)
        flags = []
        for minhash in hashes:
            hit = False
            for candidate in self.lsh.query(minhash):
                other = self.owner[candidate]
                if other == task_id or frozenset((task_id, other)) in self.exempt:
                    continue
                if minhash.jaccard(self.signatures[candidate]) >= self.threshold:
                    hit = True
                    break
            flags.append(hit)
        for minhash in hashes:               # insert after querying: no within-task comparison
            self.lsh.insert(len(self.signatures), minhash)
            self.signatures.append(minhash)
            self.owner.append(task_id)
        return flags


def near_duplicate_flags(texts_by_task: dict[str, list[str]], *, threshold: float, ngram: int,
                         num_perm: int, exempt: list[list[str]]) -> dict[str, list[bool]]:
    """For each task (in the given order), which rows nearly duplicate a row of an EARLIER task."""
    index = NearDuplicates(threshold=threshold, ngram=ngram, num_perm=num_perm, exempt=exempt)
    return {task_id: index.add_task(task_id, texts) for task_id, texts in texts_by_task.items()}


def record_hashes(frame: pl.DataFrame) -> np.ndarray:
    """A 64-bit hash of each record's (inputs, targets), as rendered (already stripped).

    polars' hash is stable within a polars version, which is all dedup needs: only equality
    between hashes of one build matters (a false match needs two of the build's records to
    collide in 64 bits: about 1 in 10^4 for a whole 50M-record corpus)."""
    if frame.height == 0:
        return np.zeros(0, dtype=np.uint64)
    return frame.select(pl.struct("inputs", "targets").hash(seed=_RECORD_SEED)).to_series().to_numpy()


class SeenHashes:
    """The set of hashes seen so far, as a few sorted numpy arrays whose sizes roughly double
    (8 bytes a hash; merging keeps each check to a binary search per array)."""

    def __init__(self) -> None:
        self.levels: list[np.ndarray] = []

    def __len__(self) -> int:
        return sum(len(level) for level in self.levels)

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        found = np.zeros(len(hashes), dtype=bool)
        for level in self.levels:
            at = np.searchsorted(level, hashes)
            found |= level[np.minimum(at, len(level) - 1)] == hashes
        return found

    def add(self, hashes: np.ndarray) -> None:
        """Remember ``hashes`` (a level may hold a hash twice; lookups do not mind)."""
        if len(hashes) == 0:
            return
        level = np.sort(hashes)
        while self.levels and len(self.levels[-1]) <= 2 * len(level):
            level = np.sort(np.concatenate([self.levels.pop(), level]))
        self.levels.append(level)

    def first_seen(self, hashes: np.ndarray) -> np.ndarray:
        """True for hashes seen before, or earlier in ``hashes``; then remember them all."""
        repeated = ~pl.Series(hashes, dtype=pl.UInt64).is_first_distinct().to_numpy()
        repeated |= self.contains(hashes)
        self.add(hashes[~repeated])
        return repeated


def exact_duplicate_mask(frames: list[pl.DataFrame]) -> list[pl.Series]:
    """For each frame (in order), True for records whose (inputs, targets) appeared before, in
    this frame or an earlier one."""
    seen = SeenHashes()
    return [pl.Series(seen.first_seen(record_hashes(frame)), dtype=pl.Boolean) for frame in frames]


def count(flags, reason: str) -> Counter:
    """``{reason: number of true flags}``, or nothing when there are none."""
    n = int(np.count_nonzero(flags))
    return Counter({reason: n}) if n else Counter()

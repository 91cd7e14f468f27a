"""Near-duplicate source rows across tasks: MinHash LSH over character n-grams (signatures by
rensa, banding in numpy), with the index spilled to disk when large."""

from __future__ import annotations

import array
import os
import shutil
import tempfile
import weakref
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from ..executors import in_worker
from ..read.textnorm import normalise_expr

MINHASH_SEED = 1

BAND_ROWS = 8              # signature values per LSH band (num_perm // 8 bands)
BUCKET_CAP = 32            # candidates examined per (row, band): the earliest rows of the bucket
BATCH_ROWS = 4096          # rows signed at a time (rensa hands signatures back as Python lists)
BATCH_CHARS = 1 << 19      # ... and at most about this many characters
QUERY_ROWS = 1 << 16       # rows of a task looked up and verified at a time
VERIFY_PAIRS = 1 << 16     # candidate pairs compared at a time
RAM_SIGNATURES = 64 << 20  # bytes of earlier tasks' signatures kept in memory; the rest on disk
RAM_IDS = 4 << 20          # an index level's row ids stay in memory up to this many bytes
READ_GAP = 1024            # row ids this close together in a file are read in one go
THREADS = min(2, os.cpu_count() or 1)

_MASK = (1 << 64) - 1
_LOW = np.uint64(0xFFFFFFFF)
_GRAM_BASE = np.uint64(0xD6E8FEB86659FD93)     # odd 64-bit multipliers
_BAND_BASE = np.uint64(0xC2B2AE3D27D4EB4F)
_LENGTH = 0x9E3779B97F4A7C15
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_U32 = next(code for code in "IL" if array.array(code).itemsize == 4)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, in place (flanzh.hashing._mix_array without the temporaries)."""
    x ^= x >> np.uint64(30)
    x *= _M1
    x ^= x >> np.uint64(27)
    x *= _M2
    x ^= x >> np.uint64(31)
    return x


def _normalised_points(texts: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """normalise_expr over ``texts`` (no nulls): all code points back to back, and each text's
    length in code points."""
    norm = texts.to_frame("t").select(normalise_expr(pl.col("t")))["t"]
    lengths = norm.str.len_chars().to_numpy().astype(np.int64)
    array_ = norm.to_arrow()
    if isinstance(array_, pa.ChunkedArray):
        array_ = array_.combine_chunks()
    array_ = array_.cast(pa.large_string())
    buffers = array_.buffers()
    if len(array_) == 0 or buffers[2] is None or not lengths.sum():
        return np.zeros(0, dtype=np.uint32), lengths
    offsets = np.frombuffer(buffers[1], dtype=np.int64, count=len(array_) + 1,
                            offset=array_.offset * 8)
    data = memoryview(buffers[2])[int(offsets[0]):int(offsets[-1])]
    points = np.frombuffer(str(data, "utf-8").encode("utf-32-le"), dtype="<u4")
    if len(points) != lengths.sum():
        raise RuntimeError("code points and character counts disagree")
    return points, lengths


def _token_hashes(points: np.ndarray, lengths: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The shingles of each normalised text as 64-bit hashes, back to back, and each text's
    offset into them (plus the end). A text's shingles are its character n-grams, or the whole
    text when it has fewer than n characters (so the empty text has one shingle too).

    A shingle of L code points hashes to mix(poly ^ (L + 1) * golden), poly being the polynomial
    sum of c[t] * BASE^(L - 1 - t) mod 2^64: every n-gram of the batch is computed at once by
    Horner's rule over shifted views of the code points, and those crossing a text boundary are
    dropped."""
    rows = len(lengths)
    starts = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    long = lengths >= n
    counts = np.where(long, lengths - n + 1, 1)
    offsets = np.zeros(rows + 1, dtype=np.uint64)
    np.cumsum(counts, out=offsets[1:])
    p = points.astype(np.uint64)
    windows = len(p) - n + 1
    if windows > 0 and long.any():
        grams = p[:windows].copy()
        for t in range(1, n):
            grams *= _GRAM_BASE
            grams += p[t:windows + t]
        crossing = (starts[1:-1, None] - np.arange(1, n, dtype=np.int64)[None, :]).ravel()
        crossing = crossing[(crossing >= 0) & (crossing < windows)]
        if len(crossing):
            keep = np.ones(windows, dtype=bool)
            keep[crossing] = False
            grams = grams[keep]
        grams ^= np.uint64((n + 1) * _LENGTH & _MASK)
    else:
        grams = np.zeros(0, dtype=np.uint64)
    short = np.flatnonzero(~long)
    if not len(short):
        return _mix(grams), offsets
    size, at = lengths[short], starts[short]
    whole = np.zeros(len(short), dtype=np.uint64)
    for t in range(n - 1):
        live = np.flatnonzero(size > t)
        if not len(live):
            break
        whole[live] = whole[live] * _GRAM_BASE + p[at[live] + t]
    whole ^= (size.astype(np.uint64) + np.uint64(1)) * np.uint64(_LENGTH)
    tokens = np.empty(int(offsets[-1]), dtype=np.uint64)
    slot = np.zeros(len(tokens), dtype=bool)
    slot[offsets[short].astype(np.int64)] = True
    tokens[slot] = whole
    tokens[~slot] = grams
    return _mix(tokens), offsets


def _signatures(tokens: np.ndarray, offsets: np.ndarray, num_perm: int) -> np.ndarray:
    """rensa's R-MinHash of each text's shingle hashes, as a (texts, num_perm) uint32 array.
    rensa 0.5's digest matrix exposes its values only as lists (to_rows), so they are copied out
    through array.array, the cheapest way measured (about 10 us a row, GIL held)."""
    from rensa import RMinHash

    matrix = RMinHash.digest_matrix_from_flat_token_hashes(tokens, offsets, num_perm, MINHASH_SEED)
    flat = array.array(_U32)
    for row in matrix.to_rows():
        flat.extend(row)
    return np.frombuffer(flat, dtype=np.uint32).reshape(-1, num_perm) if len(flat) else \
        np.zeros((0, num_perm), dtype=np.uint32)


def _band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """A 32-bit key per (text, band): a hash of the band's signature values (equal bands, equal
    keys; unequal bands collide about once in 2^32, and candidates are verified anyway)."""
    values = signatures[:, :bands * rows].reshape(len(signatures), bands, rows)
    keys = values[:, :, 0].astype(np.uint64)
    for j in range(1, rows):
        keys *= _BAND_BASE
        keys += values[:, :, j]
    return (_mix(keys) >> np.uint64(32)).astype(np.uint32)


def _batches(lengths: np.ndarray) -> list[tuple[int, int]]:
    """(begin, end) row ranges of at most BATCH_ROWS rows and about BATCH_CHARS characters, for
    texts of the given lengths."""
    if not len(lengths):
        return []
    ends = np.cumsum(lengths)
    cuts = np.searchsorted(ends, np.arange(BATCH_CHARS, int(ends[-1]), BATCH_CHARS),
                           side="right") + 1
    bounds = np.unique(np.concatenate([[0], np.minimum(cuts, len(lengths)),
                                       np.arange(BATCH_ROWS, len(lengths), BATCH_ROWS),
                                       [len(lengths)]]))
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))


class _Texts:
    """A task's texts, a list or a polars Series, handed out one batch at a time as a Series
    (a whole task's texts are never copied at once)."""

    def __init__(self, texts):
        if isinstance(texts, pl.Series):
            self.series, self.list = texts.cast(pl.Utf8), None
            self.lengths = self.series.str.len_chars().fill_null(0).to_numpy().astype(np.int64)
        else:
            self.series, self.list = None, texts if isinstance(texts, list) else list(texts)
            self.lengths = np.fromiter((len(t) if t is not None else 0 for t in self.list),
                                       dtype=np.int64, count=len(self.list))

    def __len__(self) -> int:
        return len(self.lengths)

    def batch(self, begin: int, end: int) -> pl.Series:
        if self.series is not None:
            part = self.series.slice(begin, end - begin)
        else:
            part = pl.Series("t", self.list[begin:end], dtype=pl.Utf8)
        return part.fill_null("")


def _sign_batch(texts: pl.Series, ngram: int, num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    """Signatures and band keys of a batch of texts (no nulls)."""
    points, lengths = _normalised_points(texts)
    tokens, offsets = _token_hashes(points, lengths, ngram)
    del points
    signatures = _signatures(tokens, offsets, num_perm)
    band_rows = min(BAND_ROWS, num_perm)
    return signatures, _band_keys(signatures, num_perm // band_rows, band_rows)


def _signed_batches(texts: _Texts, ngram: int, num_perm: int, pool: ThreadPoolExecutor | None):
    """(begin, signatures, keys) of each batch, in order; with a pool, batches run on its
    threads a few ahead of the consumer (normalising, hashing and numpy release the GIL)."""
    batches = _batches(texts.lengths)
    sign = lambda begin, end: _sign_batch(texts.batch(begin, end), ngram, num_perm)  # noqa: E731
    if pool is None or len(batches) < 2:
        for begin, end in batches:
            yield (begin, *sign(begin, end))
        return
    pending: deque = deque()
    try:
        for begin, end in batches:
            pending.append((begin, pool.submit(sign, begin, end)))
            if len(pending) > 2 * THREADS:
                begin, future = pending.popleft()
                yield (begin, *future.result())
        while pending:
            begin, future = pending.popleft()
            yield (begin, *future.result())
    finally:
        for _, future in pending:           # the consumer gave up: no work behind its back
            future.cancel()


def sign_to_file(texts, path: Path, *, ngram: int, num_perm: int) -> np.ndarray:
    """The MinHash signatures of ``texts`` (a task's rows, as add_task takes them) written to the
    .npy file ``path`` as they are computed, batch by batch; returns their band keys. A build's
    read units sign their own task's rows this way, in parallel, and add_task(signed=...) then
    indexes them: the same signatures as add_task computes from texts (the GIL-bound copy out of
    rensa then runs in each worker instead of one after another in the driver)."""
    texts = _Texts(texts)
    rows = len(texts)
    band_rows = min(BAND_ROWS, num_perm)
    keys = np.empty((rows, num_perm // band_rows), dtype=np.uint32)
    store = _Signatures(rows, num_perm, Path(path))
    # in a pool worker one thread (the pool has a process a core); else THREADS, as add_task
    pool = None if in_worker() or THREADS < 2 else \
        ThreadPoolExecutor(THREADS, thread_name_prefix="flanzh-sign")
    try:
        for begin, signatures, batch_keys in _signed_batches(texts, ngram, num_perm, pool):
            store.write(begin, signatures)
            keys[begin:begin + len(signatures)] = batch_keys
    finally:
        store.finish()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return keys


class _Signatures:
    """One add_task call's signature matrix: in memory, or in a .npy file written as it is
    computed. Rows are read back from the file with plain reads, one per run of consecutive
    rows: a memory map would do, but mapping a few scattered rows of a file in the page cache
    maps whole large folios around each (tens of MB of resident set for 50 rows, measured)."""

    def __init__(self, rows: int, num_perm: int, path: Path | None):
        self.rows, self.num_perm, self.path = rows, num_perm, path
        self.task = self.start = 0
        self._reader = None
        if path is None:
            self.array = np.empty((rows, num_perm), dtype=np.uint32)
            self._file = None
        else:
            self.array = None
            self._file = open(path, "wb")
            np.lib.format.write_array_header_2_0(self._file, {
                "descr": np.lib.format.dtype_to_descr(np.dtype("<u4")), "fortran_order": False,
                "shape": (rows, num_perm)})
            self._offset = self._file.tell()

    @classmethod
    def existing(cls, path: Path, num_perm: int) -> _Signatures:
        """A matrix sign_to_file wrote, to take rows from."""
        self = cls.__new__(cls)
        self.num_perm, self.path = num_perm, path
        self.array = self._file = self._reader = None
        self.task = self.start = 0
        with open(path, "rb") as handle:
            np.lib.format.read_magic(handle)
            shape, _, _ = np.lib.format.read_array_header_2_0(handle)
            self._offset = handle.tell()
        self.rows = shape[0]
        if shape[1:] != (num_perm,):
            raise RuntimeError(f"{path}: signatures of {shape[1:]} values, not {num_perm}")
        return self

    def write(self, begin: int, signatures: np.ndarray) -> None:
        if self._file is None:
            self.array[begin:begin + len(signatures)] = signatures
        else:                                 # batches arrive in order
            self._file.write(np.ascontiguousarray(signatures, dtype="<u4").data)

    def finish(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The signatures of the given rows (indices into this matrix)."""
        if self.array is not None:
            return self.array[rows]
        if self._reader is None:
            self._reader = open(self.path, "rb", buffering=0)
        unique, inverse = np.unique(rows, return_inverse=True)
        out = np.empty((len(unique), self.num_perm), dtype="<u4")
        cuts = np.flatnonzero(np.diff(unique) != 1) + 1
        width = self.num_perm * 4
        for a, b in zip(np.r_[0, cuts].tolist(), np.r_[cuts, len(unique)].tolist()):
            self._reader.seek(self._offset + int(unique[a]) * width)
            if self._reader.readinto(memoryview(out[a:b]).cast("B")) != (b - a) * width:
                raise RuntimeError(f"{self.path}: signature file cut short")
        return out.astype(np.uint32, copy=False)[inverse]

    def release(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


class _Level:
    """Index rows [start, start + rows): per band, their band keys sorted (kept in memory, 4 bytes
    a row and band) and the row ids in the same order (in memory while small, else in a file
    read only where a key matched: 4 more bytes a row and band that stay on disk). Ties are in
    row order."""

    def __init__(self, start: int, rows: int, bands: int, path: Path | None):
        self.start, self.rows, self.path = start, rows, path
        self.keys: list[np.ndarray | None] = [None] * bands
        self._ids: list[np.ndarray] | None = [None] * bands if path is None else None
        self._writer = open(path, "wb") if path is not None else None
        self._reader = None

    def put(self, band: int, keys: np.ndarray, ids: np.ndarray) -> None:
        """Set the next band's sorted keys and their row ids (bands in order)."""
        self.keys[band] = keys
        if self._writer is None:
            self._ids[band] = ids
        else:
            self._writer.write(np.ascontiguousarray(ids, dtype="<u4").data)

    def finish(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _read(self, begin: int, count: int) -> np.ndarray:
        if self._reader is None:
            self._reader = open(self.path, "rb", buffering=0)
        out = np.empty(count, dtype="<u4")
        self._reader.seek(begin * 4)
        if self._reader.readinto(memoryview(out).cast("B")) != count * 4:
            raise RuntimeError(f"{self.path}: index file cut short")
        return out.astype(np.uint32, copy=False)

    def ids(self, band: int) -> np.ndarray:
        """All row ids of a band, in key order."""
        if self._ids is not None:
            return self._ids[band]
        return self._read(band * self.rows, self.rows)

    def ids_at(self, band: int, at: np.ndarray) -> np.ndarray:
        """The row ids at the given positions of a band's key order."""
        if self._ids is not None:
            return self._ids[band][at]
        unique, inverse = np.unique(at, return_inverse=True)
        out = np.empty(len(unique), dtype=np.uint32)
        cuts = np.flatnonzero(np.diff(unique) > READ_GAP) + 1
        for a, b in zip(np.r_[0, cuts].tolist(), np.r_[cuts, len(unique)].tolist()):
            low = int(unique[a])
            span = self._read(band * self.rows + low, int(unique[b - 1]) - low + 1)
            out[a:b] = span[unique[a:b] - low]
        return out[inverse]

    def release(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def remove(self) -> None:
        self.release()
        if self.path is not None:
            self.path.unlink(missing_ok=True)


class NearDuplicates:
    """MinHash LSH over the source rows of tasks added one after another: each task's rows are
    checked against the rows of the tasks added before it, never against each other (questions
    on one passage are not duplicates); pairs of tasks in ``exempt`` may share text.

    How, for a task's rows (in batches, on a couple of threads):

    - text is normalised (textnorm.normalise_expr) and read as code points; every character
      n-gram gets a 64-bit hash in numpy (a text shorter than n is one shingle: itself);
    - rensa computes the MinHash signatures (num_perm values, seed MINHASH_SEED) from the flat
      shingle hashes in one call a batch;
    - each band of BAND_ROWS signature values gets a 32-bit key. The earlier rows are indexed in a
      few levels of roughly doubling sizes (as SeenHashes keeps hashes), each holding a
      contiguous range of rows: per band, their keys sorted, in memory (4 bytes a row and band:
      64 bytes a row at 16 bands), and the row ids in the same order, in a file once the level
      is large (read only where a key matched). A task's keys, sorted, find their buckets with a
      binary search per level and band;
    - at most BUCKET_CAP entries of a bucket are examined per (row, band), the earliest rows first
      (levels oldest first, ties in row order): a bucket of thousands of equal texts costs no
      more than 32 candidates. The cap is applied before same-task and exempt candidates are set
      aside, so a row can miss a duplicate that sits behind more than 32 earlier rows of its own
      or exempt tasks in every one of its buckets;
    - a candidate of another, non-exempt task is a duplicate when the fraction of equal
      signature values (rensa's Jaccard estimate) reaches ``threshold``. Bands are looked up one
      after another for the rows not yet flagged, and in a band a row's first candidate is
      checked first, then the next two, four, ...: most duplicates cost one lookup and one
      comparison. Earlier tasks' signatures are read from .npy files once more than
      RAM_SIGNATURES bytes of them exist.

    Files go in a temporary directory (inside ``folder`` when given), removed by close() or when
    the object is collected. Memory: 64 bytes a row for the index, plus one task's band keys (64
    bytes a row) and a few batches; disk: 512 + 64 bytes a row (num_perm 128).

    Results depend only on the inputs: no randomness, no thread timing, no platform byte order."""

    def __init__(self, *, threshold: float, ngram: int, num_perm: int, exempt: list[list[str]],
                 folder: Path | None = None):
        if ngram < 1:
            raise ValueError(f"n-gram length must be at least 1, not {ngram}")
        if num_perm < 1:
            raise ValueError(f"num_perm must be at least 1, not {num_perm}")
        self.threshold, self.ngram, self.num_perm = threshold, ngram, num_perm
        self.band_rows = min(BAND_ROWS, num_perm)
        self.bands = num_perm // self.band_rows
        self.exempt = {frozenset(pair) for pair in exempt}
        self.folder = Path(folder) if folder is not None else None
        self._tmp: Path | None = None                     # made on first use
        self._cleanup: weakref.finalize | None = None
        self._files = 0
        # one pool for the object's life: threads that come and go with each task leave their
        # allocator arenas behind (about 250 MB more resident after 40 tasks, measured)
        self._pool: ThreadPoolExecutor | None = None
        self._forget()

    def _forget(self) -> None:
        self._tasks: list[str] = []                       # task ids, by number
        self._numbers: dict[str, int] = {}
        self._segments: list[_Signatures] = []            # one per add_task call, by first row
        self._starts = np.zeros(0, dtype=np.int64)        # each segment's first row id
        self._owners = np.zeros(0, dtype=np.int32)        # each segment's task number
        self._levels: list[_Level] = []                   # oldest first
        self._rows = 0
        self._ram = 0

    def __enter__(self) -> NearDuplicates:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Forget every row and remove the files (the object may be used again, empty)."""
        for part in [*self._segments, *self._levels]:
            part.release()
        self._forget()
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        if self._cleanup is not None:
            self._cleanup()
            self._tmp = self._cleanup = None

    def __len__(self) -> int:
        return self._rows

    # --- signatures ---------------------------------------------------------------------------

    def _signed_batches(self, texts: _Texts):
        """(begin, signatures, keys) of each batch, in order, on the object's thread pool."""
        return _signed_batches(texts, self.ngram, self.num_perm, self._threads())

    def _threads(self) -> ThreadPoolExecutor | None:
        """The object's thread pool (started on first use; None with one CPU)."""
        if THREADS > 1 and self._pool is None:
            self._pool = ThreadPoolExecutor(THREADS, thread_name_prefix="flanzh-near")
        return self._pool

    def _store(self, rows: int) -> _Signatures:
        size = rows * self.num_perm * 4
        if size == 0 or self._ram + size <= RAM_SIGNATURES:
            self._ram += size
            return _Signatures(rows, self.num_perm, None)
        return _Signatures(rows, self.num_perm, self._path(".npy"))

    def _path(self, suffix: str) -> Path:
        """A new file in the temporary directory (made on first use)."""
        if self._tmp is None:
            if self.folder is not None:
                self.folder.mkdir(parents=True, exist_ok=True)
            self._tmp = Path(tempfile.mkdtemp(prefix="flanzh-near-", dir=self.folder))
            # removed with the object (or at exit) if close() is never called
            self._cleanup = weakref.finalize(self, shutil.rmtree, self._tmp, ignore_errors=True)
        self._files += 1
        return self._tmp / f"{self._files}{suffix}"

    # --- the task ------------------------------------------------------------------------------

    def add_task(self, task_id: str, texts=None, *,
                 signed: tuple[Path, np.ndarray, np.ndarray | None] | None = None) -> list[bool]:
        """Which of ``texts`` nearly duplicate a row of an earlier task; then index them.
        ``signed`` stands for texts already signed: (the file sign_to_file wrote, the keys it
        returned, and which of its rows are the task's rows now, in order; None for all)."""
        if signed is not None:
            path, all_keys, positions = signed
            source = _Signatures.existing(Path(path), self.num_perm)
            if len(all_keys) != source.rows:
                raise RuntimeError(f"{path}: {source.rows} signatures for {len(all_keys)} keys")
            positions = np.arange(source.rows) if positions is None else np.asarray(positions)
            rows = len(positions)
        else:
            texts = _Texts(texts)
            rows = len(texts)
        if self._rows + rows >= 1 << 32:
            raise ValueError("near-duplicate detection holds at most 2^32 - 1 rows")
        store = self._store(rows)
        try:
            if signed is not None:
                keys = all_keys[positions]
                try:
                    for begin in range(0, rows, QUERY_ROWS):
                        store.write(begin, source.take(positions[begin:begin + QUERY_ROWS]))
                finally:
                    source.release()
            else:
                keys = np.empty((rows, self.bands), dtype=np.uint32)
                for begin, signatures, batch_keys in self._signed_batches(texts):
                    store.write(begin, signatures)
                    keys[begin:begin + len(signatures)] = batch_keys
        finally:
            store.finish()
        flags = np.zeros(rows, dtype=bool)
        allowed = np.array([other != task_id and frozenset((task_id, other)) not in self.exempt
                            for other in self._tasks], dtype=bool)
        if self._rows and allowed.any():
            try:
                for begin in range(0, rows, QUERY_ROWS):
                    flags[begin:begin + QUERY_ROWS] = self._query(
                        keys[begin:begin + QUERY_ROWS], begin, store, allowed)
            finally:
                for part in [store, *self._segments, *self._levels]:
                    part.release()
        self._insert(task_id, keys, store)
        return flags.tolist()

    def _candidates(self, keys: np.ndarray, rows: np.ndarray, band: int) -> np.ndarray:
        """``row << 32 | earlier row id`` for the given rows (with their keys in ``band``) and the
        earlier rows sharing their bucket, at most BUCKET_CAP a row; sorted."""
        queries = keys.astype(np.uint64) << np.uint64(32)
        queries |= rows.astype(np.uint64)
        queries.sort()                          # sorted lookups walk each level once
        wanted = (queries >> np.uint64(32)).astype(np.uint32)
        room = np.full(len(queries), BUCKET_CAP, dtype=np.int64)
        found = []
        for level in self._levels:
            sorted_keys = level.keys[band]
            low = np.searchsorted(sorted_keys, wanted)
            hit = np.flatnonzero(low < len(sorted_keys))
            hit = hit[sorted_keys[low[hit]] == wanted[hit]]
            if not len(hit):
                continue
            high = np.searchsorted(sorted_keys, wanted[hit], side="right")
            take = np.minimum(high - low[hit], room[hit])
            room[hit] -= take
            ends = np.cumsum(take)
            at = np.arange(int(ends[-1]), dtype=np.int64)
            at += np.repeat(low[hit] - (ends - take), take)
            pairs = np.repeat(queries[hit] & _LOW, take) << np.uint64(32)
            found.append(pairs | level.ids_at(band, at).astype(np.uint64))
        if not found:
            return np.zeros(0, dtype=np.uint64)
        pairs = np.concatenate(found)
        pairs.sort()
        return pairs

    def _query(self, keys: np.ndarray, offset: int, store: _Signatures,
               allowed: np.ndarray) -> np.ndarray:
        """Flags for a block of the task's rows (``keys``; rows offset.. of ``store``). Bands are
        looked up one after another for the rows not yet flagged, so most duplicates cost one
        band; a pair met in several bands is verified once."""
        flags = np.zeros(len(keys), dtype=bool)
        checked = np.zeros(0, dtype=np.uint64)
        for band in range(self.bands):
            live = np.flatnonzero(~flags)
            if not len(live):
                break
            pairs = self._candidates(keys[live, band], live, band)
            found = (pairs & _LOW).astype(np.int64)
            keep = allowed[self._owners[np.searchsorted(self._starts, found, side="right") - 1]]
            if len(checked):
                at = np.minimum(np.searchsorted(checked, pairs), len(checked) - 1)
                keep &= checked[at] != pairs
            if not keep.any():
                continue
            pairs, found = pairs[keep], found[keep]
            rows = (pairs >> np.uint64(32)).astype(np.int64)
            first = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
            rank = np.arange(len(rows)) - np.repeat(first, np.diff(np.r_[first, len(rows)]))
            begin, width, done = 0, 1, np.zeros(len(rows), dtype=bool)
            while begin <= rank.max():          # a row's first candidate, then 2, 4, ... more
                pick = np.flatnonzero((rank >= begin) & (rank < begin + width))
                pick = pick[~flags[rows[pick]]]
                for part in range(0, len(pick), VERIFY_PAIRS):
                    chosen = pick[part:part + VERIFY_PAIRS]
                    similar = self._similar(rows[chosen] + offset, found[chosen], store)
                    flags[rows[chosen[similar]]] = True
                done[pick] = True
                begin, width = begin + width, width * 2
            checked = np.concatenate([checked, pairs[done]])
            checked.sort()
        return flags

    def _similar(self, rows: np.ndarray, found: np.ndarray, store: _Signatures) -> np.ndarray:
        """Whether each row of this task (index into ``store``) and earlier row (id) reach the
        threshold."""
        order = np.argsort(found, kind="stable")
        rows, found = rows[order], found[order]
        theirs = np.empty((len(found), self.num_perm), dtype=np.uint32)
        segment = np.searchsorted(self._starts, found, side="right") - 1
        cuts = np.flatnonzero(np.r_[True, segment[1:] != segment[:-1], True])
        for a, b in zip(cuts[:-1].tolist(), cuts[1:].tolist()):
            owner = self._segments[int(segment[a])]
            theirs[a:b] = owner.take(found[a:b] - owner.start)
        equal = np.count_nonzero(store.take(rows) == theirs, axis=1)
        similar = np.empty(len(order), dtype=bool)
        similar[order] = equal / self.num_perm >= self.threshold   # rensa's jaccard, in f64
        return similar

    def _insert(self, task_id: str, keys: np.ndarray, store: _Signatures) -> None:
        """Index a task's rows as a new level, merged with the last levels while they are at most
        twice the size of what is being merged (so levels roughly double, oldest first)."""
        if task_id not in self._numbers:
            self._numbers[task_id] = len(self._tasks)
            self._tasks.append(task_id)
        store.task, store.start = self._numbers[task_id], self._rows
        rows = len(keys)
        if rows:
            merged: list[_Level] = []
            size = rows
            while self._levels and self._levels[-1].rows <= 2 * size:
                merged.insert(0, self._levels.pop())
                size += merged[0].rows
            start = merged[0].start if merged else self._rows
            level = _Level(start, size, self.bands,
                           self._path(".ids") if size * self.bands * 4 > RAM_IDS else None)
            new_ids = np.arange(self._rows, self._rows + rows, dtype=np.uint32)
            position = np.arange(size, dtype=np.uint64)

            def sort_band(band: int) -> tuple[np.ndarray, np.ndarray]:
                # the keys of every merged level and the task, each entry tagged with its
                # position: one sort orders them by key, then position (= row order)
                order = np.concatenate([*(old.keys[band] for old in merged), keys[:, band]]
                                       ).astype(np.uint64) << np.uint64(32)
                order |= position
                order.sort()
                return (order >> np.uint64(32)).astype(np.uint32), (order & _LOW).astype(np.int64)

            # THREADS bands sorted at once (numpy sorts without the GIL); their row ids are
            # read and written in band order, and the merged keys freed as each band is done
            pool = self._threads()
            for first in range(0, self.bands, THREADS):
                bands = range(first, min(first + THREADS, self.bands))
                done = pool.map(sort_band, bands) if pool is not None else map(sort_band, bands)
                for band, (band_keys, at) in zip(bands, list(done)):
                    ids = np.concatenate([*(old.ids(band) for old in merged), new_ids])
                    level.put(band, band_keys, ids[at])
                    for old in merged:
                        old.keys[band] = None
            level.finish()
            for old in merged:
                old.remove()
            self._levels.append(level)
        self._segments.append(store)
        self._starts = np.append(self._starts, self._rows)
        self._owners = np.append(self._owners, np.int32(store.task))
        self._rows += rows


def near_duplicate_flags(texts_by_task: dict[str, list[str]], *, threshold: float, ngram: int,
                         num_perm: int, exempt: list[list[str]]) -> dict[str, list[bool]]:
    """For each task (in the given order), which rows nearly duplicate a row of an EARLIER task."""
    with NearDuplicates(threshold=threshold, ngram=ngram, num_perm=num_perm,
                        exempt=exempt) as index:
        return {task_id: index.add_task(task_id, texts) for task_id, texts in texts_by_task.items()}

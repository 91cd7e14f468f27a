"""Every random choice in flanzh is a hash of (seed, task, row key, purpose): reproducible, and
independent per task, so adding a task never reshuffles another.

A row's key is hashed once (``key_hashes``, vectorised over the UTF-8 bytes of a whole column);
each purpose then derives its own 64-bit value from that with a splitmix64 mix
(``derive``). Both steps exist twice, in numpy for whole columns and in plain Python for one row
(few-shot exemplars, previews), and a test proves the two agree. Nothing depends on Python's
``hash`` or on a library's internal hash, so the same inputs give the same choices everywhere.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import xxhash

_SEP = "\x1f"
HASH = "__hash"          # column of each row key's hash (key_hashes), for every per-row choice
_MASK = (1 << 64) - 1
_M1, _M2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB      # splitmix64's finaliser constants
_GOLDEN = 0x9E3779B97F4A7C15


def _prefix(seed: int, task: str) -> int:
    return xxhash.xxh64_intdigest(f"{seed}{_SEP}{task}".encode("utf-8"))


def purpose_constant(purpose: str) -> int:
    return xxhash.xxh64_intdigest(purpose.encode("utf-8"))


# --- one value at a time (plain Python ints) ---------------------------------------------------

def mix(x: int) -> int:
    """splitmix64's finaliser: a bijection of 64-bit integers that spreads every input bit."""
    x = (x ^ (x >> 30)) * _M1 & _MASK
    x = (x ^ (x >> 27)) * _M2 & _MASK
    return x ^ (x >> 31)


def key_hash(seed: int, task: str, key: str) -> int:
    """The 64-bit hash of one row key (equal to ``key_hashes`` on a one-row column)."""
    data = key.encode("utf-8")
    state = mix(_prefix(seed, task) ^ (len(data) * _GOLDEN & _MASK))
    padded = data + b"\0" * (-len(data) % 8)
    for i in range(0, len(padded), 8):
        state = mix(state ^ int.from_bytes(padded[i:i + 8], "little"))
    return state


def derive_one(base: int, purpose: str) -> int:
    return mix(base ^ purpose_constant(purpose))


def stable_hash(seed: int, task: str, key: str, purpose: str) -> int:
    """A 64-bit hash of (seed, task, key, purpose), the same on every machine."""
    return derive_one(key_hash(seed, task, key), purpose)


def pick(seed: int, task: str, key: str, purpose: str, n: int) -> int:
    """An index in ``range(n)`` chosen by the hash."""
    return stable_hash(seed, task, key, purpose) % n


def slot_value(value: int, slot: int) -> int:
    """The ``slot``-th value of a stream seeded by ``value`` (equal to ``slot_values``)."""
    return mix((value + slot * _GOLDEN) & _MASK)


def permutation_of(value: int, n: int) -> list[int]:
    """A permutation of ``range(n)``: the order of n hashes derived from ``value`` (the same
    order ``permutations`` gives for a whole column)."""
    keys = [mix((value + j * _GOLDEN) & _MASK) for j in range(n)]
    return sorted(range(n), key=keys.__getitem__)


def distinct_draws(value: int, count: int, n: int) -> list[int]:
    """``min(count, n)`` distinct indices in ``range(n)``, in drawn order; cost grows with
    ``count``, not ``n`` (a few-shot query draws 1-5 exemplars from a pool of any size)."""
    chosen: list[int] = []
    j = 0
    while len(chosen) < min(count, n):
        index = mix((value + j * _GOLDEN) & _MASK) % n
        if index not in chosen:
            chosen.append(index)
        j += 1
    return chosen


# --- whole columns (numpy uint64, wrapping arithmetic) -----------------------------------------

def _mix_array(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> np.uint64(30))
    x *= np.uint64(_M1)
    x ^= x >> np.uint64(27)
    x *= np.uint64(_M2)
    x ^= x >> np.uint64(31)
    return x


def _utf8_buffers(keys) -> tuple[np.ndarray, np.ndarray]:
    """The UTF-8 bytes of every key back to back, and each key's start offset (plus the end);
    ``keys`` a list, polars Series or Arrow array of str."""
    import polars as pl

    if isinstance(keys, pl.Series):
        keys = keys.cast(pl.Utf8).to_arrow()
    array = pa.array(keys, type=pa.large_string()) if not isinstance(keys, pa.Array) else keys
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    array = array.cast(pa.large_string())
    if array.null_count:
        raise ValueError("row keys must not be null")
    _, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[array.offset:array.offset + len(array) + 1]
    data = (np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None
            else np.zeros(0, dtype=np.uint8))
    return data, offsets


def keys_digest(keys) -> str:
    """The xxh3-128 digest of a column of keys (their UTF-8 bytes and where each starts): which
    rows a step kept, for a cache key, read at memory speed instead of hashed key by key."""
    data, offsets = _utf8_buffers(keys)
    start = int(offsets[0])
    digest = xxhash.xxh3_128((offsets - start).astype("<i8").tobytes())
    digest.update(data[start:int(offsets[-1])].tobytes())
    return digest.hexdigest()


def key_hashes(seed: int, task: str, keys) -> np.ndarray:
    """``key_hash`` of every key in ``keys`` (a list, polars Series or Arrow array of str)."""
    return _key_hashes(seed, [task], keys)[0]


def _key_hashes(seed: int, tasks: list[str], keys) -> list[np.ndarray]:
    """``key_hashes`` for each of ``tasks`` (a row each), in one pass over the keys' bytes."""
    data, offsets = _utf8_buffers(keys)
    starts, lengths = offsets[:-1], np.diff(offsets)
    # every 8-byte little-endian word of the data, by the byte it starts at: read in place
    # (unaligned), gathered straight into words
    padded = np.concatenate([data, np.zeros(8, dtype=np.uint8)])
    words = np.ndarray(shape=(max(len(data), 1),), dtype="<u8", buffer=padded, strides=(1,))
    with np.errstate(over="ignore"):
        spread = lengths.astype(np.uint64) * np.uint64(_GOLDEN)
        states = [_mix_array(np.uint64(_prefix(seed, task)) ^ spread) for task in tasks]
        n_words = -(-lengths // 8)
        fewest = int(n_words.min()) if len(n_words) else 0
        for j in range(int(n_words.max()) if len(n_words) else 0):
            # rows with a word j: all of them (a slice, no gather) while every key is that long
            live = slice(None) if j < fewest else np.flatnonzero(n_words > j)
            word = words[starts[live] + 8 * j]
            left = lengths[live] - 8 * j                   # bytes of this row in the word
            short = left < 8                               # the row's last, partial word
            word[short] &= (np.uint64(1) << (8 * left[short]).astype(np.uint64)) - np.uint64(1)
            for state in states:
                state[live] = _mix_array(state[live] ^ word)
    return states


def derive(base: np.ndarray, purpose: str) -> np.ndarray:
    """The per-purpose hash of every row (``derive_one`` over a column)."""
    with np.errstate(over="ignore"):
        return _mix_array(base ^ np.uint64(purpose_constant(purpose)))


def uniform(values: np.ndarray) -> np.ndarray:
    """Hashes as floats in [0, 1) (the top 53 bits)."""
    return (values >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def uniform_one(value: int) -> float:
    return (value >> 11) * (1.0 / (1 << 53))


def sort_keys(values: np.ndarray, n: int) -> np.ndarray:
    """The (rows, n) keys whose ascending order is each row's permutation."""
    with np.errstate(over="ignore"):
        steps = np.arange(n, dtype=np.uint64) * np.uint64(_GOLDEN)
        return _mix_array(values[:, None] + steps[None, :])


def permutations(values: np.ndarray, n: int) -> np.ndarray:
    """One permutation of ``range(n)`` per row, as a (rows, n) array (``permutation_of``)."""
    return np.argsort(sort_keys(values, n), axis=1, kind="stable")


_HEX_PAIRS = np.frombuffer(b"".join(f"{i:02x}".encode() for i in range(256)), dtype="<u2")


def hex_ids(high: np.ndarray, low: np.ndarray) -> pa.Array:
    """32-character lowercase hex strings of two 64-bit columns, built without Python strings."""
    raw = np.stack([high, low], axis=1).astype(">u8").view(np.uint8)
    raw = raw.reshape(len(high), 16)
    text = _HEX_PAIRS[raw]                     # two hex characters per byte
    offsets = np.arange(0, 32 * len(high) + 1, 32, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), len(high),
                                 [None, pa.py_buffer(offsets), pa.py_buffer(text.tobytes())])


def record_ids(task: str, parts) -> pa.Array:
    """The stable output id of every record: 128 bits of hash over (task, split, key, template,
    format), given ``parts`` as a string column of those joined by \\x1f."""
    high, low = _key_hashes(0, [f"{task}{_SEP}id-high", f"{task}{_SEP}id-low"], parts)
    return hex_ids(high, low)


def slot_values(values: np.ndarray, slot: int) -> np.ndarray:
    """``slot_value`` for a whole column."""
    with np.errstate(over="ignore"):
        return _mix_array(values + np.uint64(slot) * np.uint64(_GOLDEN))


def distinct_draws_many(values: np.ndarray, counts: np.ndarray, n: int, width: int) -> np.ndarray:
    """``distinct_draws`` for every row: a (rows, width) array of indices, -1 past each row's
    ``min(count, n)`` draws. Rows not done after a few rounds of candidates (tiny ``n``) finish
    one by one in Python, so the result always equals ``distinct_draws``."""
    rows = len(values)
    out = np.full((rows, width), -1, dtype=np.int64)
    if rows == 0 or n == 0:
        return out
    wanted = np.minimum(counts, n)
    have = np.zeros(rows, dtype=np.int64)
    with np.errstate(over="ignore"):
        for j in range(4 * width + 8):
            if (have >= wanted).all():
                break
            candidate = (_mix_array(values + np.uint64(j) * np.uint64(_GOLDEN))
                         % np.uint64(n)).astype(np.int64)
            fresh = (have < wanted) & ~(out == candidate[:, None]).any(axis=1)
            out[fresh, have[fresh]] = candidate[fresh]
            have += fresh
    for row in np.flatnonzero(have < wanted):
        drawn = distinct_draws(int(values[row]), int(counts[row]), n)
        out[row, :len(drawn)] = drawn
    return out

"""Near-duplicate detection across tasks (flanzh.corpus.near_dedup.NearDuplicates): planted duplicates are
found, what must not be flagged is not, pathological buckets stay cheap, the numpy shingle
hashes equal a plain Python definition, and the flags agree with the former implementation
(one rensa RMinHash object a row, rensa's RMinHashLSH) except where the true Jaccard similarity is
within 0.05 of the threshold."""

import gc
import random
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from flanzh.corpus import near_dedup as dedup
from flanzh.corpus.near_dedup import NearDuplicates, near_duplicate_flags
from flanzh.hashing import mix
from flanzh.read.textnorm import normalise_texts

SETTINGS = dict(threshold=0.85, ngram=5, num_perm=128)
CJK = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]


def text(rng: random.Random, length: int = 200) -> str:
    return "".join(rng.choice(CJK) for _ in range(length))


def changed(source: str, rng: random.Random, count: int) -> str:
    """``source`` with ``count`` characters replaced, at least 10 apart (each replacement
    removes 5 of the text's 5-grams and adds 5 new ones)."""
    chars = list(source)
    for at in rng.sample(range(0, len(chars), 10), count):
        chars[at] = rng.choice([c for c in CJK[:50] if c != chars[at]])
    return "".join(chars)


def shingles(norm: str, n: int = 5) -> set[str]:
    return {norm} if len(norm) <= n else {norm[i:i + n] for i in range(len(norm) - n + 1)}


def jaccard(x: set[str], y: set[str]) -> float:
    return len(x & y) / len(x | y)


def rensa_objects_flags(texts_by_task, *, threshold, ngram, num_perm, exempt):
    """The former implementation: one rensa RMinHash object a row, shingles as strings."""
    from rensa import RMinHash, RMinHashLSH

    lsh = RMinHashLSH(threshold=threshold, num_perm=num_perm, num_bands=num_perm // 8)
    exempt = {frozenset(pair) for pair in exempt}
    signatures, owner, result = [], [], {}
    for task_id, texts in texts_by_task.items():
        hashes = []
        for norm in normalise_texts(texts):
            minhash = RMinHash(num_perm=num_perm, seed=dedup.MINHASH_SEED)
            minhash.update([norm] if len(norm) <= ngram else
                           [norm[i:i + ngram] for i in range(len(norm) - ngram + 1)])
            hashes.append(minhash)
        flags = []
        for minhash in hashes:
            flags.append(any(
                owner[c] != task_id and frozenset((task_id, owner[c])) not in exempt
                and minhash.jaccard(signatures[c]) >= threshold for c in lsh.query(minhash)))
        for minhash in hashes:
            lsh.insert(len(signatures), minhash)
            signatures.append(minhash)
            owner.append(task_id)
        result[task_id] = flags
    return result


# --- what is flagged and what is not ------------------------------------------------------------

def test_one_character_changed_in_a_later_task_is_flagged():
    rng = random.Random(1)
    originals = [text(rng) for _ in range(20)]
    flags = near_duplicate_flags({"a": originals, "b": [changed(originals[7], rng, 1), text(rng)]},
                                 exempt=[], **SETTINGS)
    assert flags == {"a": [False] * 20, "b": [True, False]}


def test_copies_within_one_task_are_not_flagged():
    rng = random.Random(2)
    same = text(rng)
    flags = near_duplicate_flags({"a": [same, same, changed(same, rng, 1), same]}, exempt=[],
                                 **SETTINGS)
    assert flags == {"a": [False] * 4}


def test_exempt_pairs_are_not_flagged_but_other_tasks_are():
    rng = random.Random(3)
    source = text(rng)
    flags = near_duplicate_flags({"a": [source], "b": [source], "c": [source]},
                                 exempt=[["b", "a"]], **SETTINGS)
    assert flags == {"a": [False], "b": [False], "c": [True]}
    # c is exempt from a but not from b, which holds the text too
    flags = near_duplicate_flags({"a": [source], "b": [source], "c": [source]},
                                 exempt=[["a", "b"], ["a", "c"], ["b", "c"]], **SETTINGS)
    assert flags == {"a": [False], "b": [False], "c": [False]}


def test_unrelated_texts_are_not_flagged():
    rng = random.Random(4)
    flags = near_duplicate_flags({f"t{k}": [text(rng, rng.randint(20, 300)) for _ in range(300)]
                                  for k in range(4)}, exempt=[], **SETTINGS)
    assert not any(any(f) for f in flags.values())


def test_width_case_and_punctuation_variants_are_flagged():
    rng = random.Random(5)
    body = [text(rng, 40) for _ in range(4)]
    plain = f"{body[0]}ABCD1234{body[1]}hello{body[2]}{body[3]}"
    variant = f"{body[0]}，ＡＢＣＤ１２３４！{body[1]} Ｈｅｌｌｏ。{body[2]}\n“{body[3]}”？"
    flags = near_duplicate_flags({"a": [plain], "b": [variant]}, exempt=[], **SETTINGS)
    assert flags == {"a": [False], "b": [True]}


def test_short_and_empty_texts_are_one_shingle_each():
    later = ["你好！", None, "  ", "你好呀", "五个字的话", "五个字的"]
    flags = near_duplicate_flags({"a": ["你好", "", "五个字的话"], "b": later}, exempt=[],
                                 **SETTINGS)
    assert flags == {"a": [False, False, False], "b": [True, True, True, False, True, False]}


def test_a_huge_bucket_costs_only_the_capped_candidates():
    started = time.perf_counter()
    with NearDuplicates(exempt=[], **SETTINGS) as index:
        assert not any(index.add_task("a", ["是的"] * 10_000))
        _, keys = dedup._sign_batch(pl.Series(["是的"]), index.ngram, index.num_perm)
        for band in range(index.bands):
            found = index._candidates(keys[:, band], np.array([0]), band) & np.uint64(0xFFFFFFFF)
            assert found.tolist() == list(range(dedup.BUCKET_CAP))  # the bucket's earliest rows
        assert index.add_task("b", ["是的。", "不是"]) == [True, False]
        assert index.add_task("c", ["是的"] * 10_000) == [True] * 10_000
    assert time.perf_counter() - started < 20


# --- properties of the implementation ----------------------------------------------------------

def reference_token_hashes(norm: str, n: int) -> list[int]:
    """The shingle hash as defined in dedup._token_hashes, in plain Python."""
    base, golden = int(dedup._GRAM_BASE), dedup._LENGTH
    grams = [norm] if len(norm) < n else [norm[i:i + n] for i in range(len(norm) - n + 1)]
    out = []
    for gram in grams:
        poly = 0
        for char in gram:
            poly = (poly * base + ord(char)) & dedup._MASK
        out.append(mix(poly ^ ((len(gram) + 1) * golden & dedup._MASK)))
    return out


@pytest.mark.parametrize("n", [1, 2, 5])
def test_shingle_hashes_equal_a_plain_python_definition(n):
    rng = random.Random(n)
    texts = [text(rng, rng.choice([0, 1, n - 1, n, n + 1, 7, 30])) for _ in range(200)]
    texts += ["A😀b", "ＡＢＣ，ＤＥ", "", "𠀀𠀁𠀂𠀃𠀄𠀅"]
    points, lengths = dedup._normalised_points(pl.Series(texts, dtype=pl.Utf8))
    tokens, offsets = dedup._token_hashes(points, lengths, n)
    assert offsets[0] == 0 and offsets[-1] == len(tokens)
    for i, norm in enumerate(normalise_texts(texts)):
        assert tokens[offsets[i]:offsets[i + 1]].tolist() == reference_token_hashes(norm, n)


def test_flags_do_not_depend_on_batches_threads_memory_or_blocks(monkeypatch, tmp_path):
    rng = random.Random(6)
    base = [text(rng, rng.randint(3, 250)) for _ in range(600)]
    by_task = {f"t{k}": [changed(t, rng, rng.randint(0, 4)) if len(t) >= 200 and rng.random() < 0.5
                         else text(rng, rng.randint(3, 250)) for t in base] for k in range(3)}
    by_task["t0"] = base
    for k, rows in ((3, 150), (4, 100)):          # smaller tasks: several index levels
        by_task[f"t{k}"] = [changed(t, rng, 1) if len(t) >= 200 else t for t in base[:rows]]
    exempt = [["t1", "t2"]]
    expected = near_duplicate_flags(by_task, exempt=exempt, **SETTINGS)
    assert 50 < sum(map(sum, expected.values())) < 1000
    monkeypatch.setattr(dedup, "BATCH_ROWS", 37)
    monkeypatch.setattr(dedup, "BATCH_CHARS", 999)
    monkeypatch.setattr(dedup, "QUERY_ROWS", 50)
    monkeypatch.setattr(dedup, "VERIFY_PAIRS", 7)
    monkeypatch.setattr(dedup, "RAM_SIGNATURES", 0)          # every task's signatures on disk
    monkeypatch.setattr(dedup, "RAM_IDS", 0)                 # and every index level's row ids
    monkeypatch.setattr(dedup, "READ_GAP", 3)
    for threads in (1, 2):
        monkeypatch.setattr(dedup, "THREADS", threads)
        index = NearDuplicates(exempt=exempt, folder=tmp_path / "near", **SETTINGS)
        assert {k: index.add_task(k, v) for k, v in by_task.items()} == expected
        assert len(list((tmp_path / "near").rglob("*.npy"))) == 5
        assert [level.rows for level in index._levels] == [1800, 250]
        assert len(list((tmp_path / "near").rglob("*.ids"))) == 2
        index.close()
        assert not list((tmp_path / "near").rglob("*.*"))


@pytest.mark.parametrize("in_ram", [True, False])
def test_rows_signed_ahead_give_the_flags_of_rows_signed_by_add_task(monkeypatch, tmp_path,
                                                                     in_ram):
    # a build's read units sign their task's rows (sign_to_file); decontamination may then
    # remove some, so only the rows still there (positions) are indexed
    rng = random.Random(8)
    base = [text(rng, rng.randint(3, 250)) for _ in range(300)]
    by_task = {"t0": base, "t1": [changed(t, rng, 1) if len(t) >= 200 else text(rng) for t in base],
               "t2": [changed(t, rng, 2) if len(t) >= 200 else t for t in base[:120]]}
    kept = {"t0": None, "t1": np.flatnonzero(np.arange(300) % 3 != 0), "t2": np.arange(0)}
    monkeypatch.setattr(dedup, "BATCH_ROWS", 29)             # several batches a task
    monkeypatch.setattr(dedup, "QUERY_ROWS", 40)
    if not in_ram:
        monkeypatch.setattr(dedup, "RAM_SIGNATURES", 0)
    plain = NearDuplicates(exempt=[], **SETTINGS)
    expected = {k: plain.add_task(k, v if kept[k] is None else [v[i] for i in kept[k]])
                for k, v in by_task.items()}
    plain.close()
    assert sum(expected["t1"]) > 20 and sum(expected["t0"]) == 0
    index = NearDuplicates(exempt=[], folder=tmp_path / "near", **SETTINGS)
    for task_id, rows in by_task.items():
        path = tmp_path / f"{task_id}.npy"
        keys = dedup.sign_to_file(rows, path, ngram=5, num_perm=128)
        assert np.load(path).shape == (len(rows), 128) and keys.shape == (len(rows), 16)
        assert index.add_task(task_id, signed=(path, keys, kept[task_id])) == expected[task_id]
    index.close()


def test_temporary_folder_goes_with_the_object(monkeypatch):
    monkeypatch.setattr(dedup, "RAM_SIGNATURES", 0)
    index = NearDuplicates(exempt=[], **SETTINGS)
    index.add_task("a", ["一二三四五六七八九十"] * 3)
    folder = index._tmp
    assert list(Path(folder).glob("*.npy"))
    del index
    gc.collect()
    assert not Path(folder).exists()


def test_empty_tasks_and_pipeline_style_calls():
    with NearDuplicates(exempt=[], **SETTINGS) as index:
        assert index.add_task("a", []) == []
        assert index.add_task("b", ["一二三四五六七八九十"]) == [False]
        assert index.add_task("c", pl.Series(["一二三四五六七八九十"])) == [True]
        assert index.add_task("d", []) == []
        assert len(index) == 2
        index.close()                                   # empty again, still usable
        assert len(index) == 0
        assert index.add_task("c", ["一二三四五六七八九十"]) == [False]
        assert index.add_task("e", ["一二三四五六七八九十"]) == [True]


# --- agreement with the former implementation --------------------------------------------------

def test_flags_agree_with_the_rensa_object_implementation():
    rng = random.Random(7)
    tasks = {f"t{k}": [text(rng, rng.randint(150, 250)) for _ in range(800)] for k in range(4)}
    planted = 0
    for k in range(1, 4):                  # near-duplicates of earlier tasks, at several levels
        for i in range(0, 800, 4):
            source = tasks[f"t{rng.randrange(k)}"][rng.randrange(800)]
            tasks[f"t{k}"][i] = changed(source, rng, rng.choice([0, 1, 2, 3, 4, 5, 6, 10]))
            planted += 1
    exempt = [["t1", "t3"]]
    ours = near_duplicate_flags(tasks, exempt=exempt, **SETTINGS)
    theirs = rensa_objects_flags(tasks, exempt=exempt, **SETTINGS)
    assert planted * 0.4 < sum(map(sum, ours.values())) < planted
    sets = {task_id: [shingles(norm) for norm in normalise_texts(texts)]
            for task_id, texts in tasks.items()}
    names = list(tasks)
    disagreements = 0
    for k, task_id in enumerate(names):
        for i, (a, b) in enumerate(zip(ours[task_id], theirs[task_id])):
            if a == b:
                continue
            disagreements += 1
            best = max(jaccard(sets[task_id][i], other) for earlier in names[:k]
                       if frozenset((task_id, earlier)) not in {frozenset(p) for p in exempt}
                       for other in sets[earlier])
            assert abs(best - SETTINGS["threshold"]) <= 0.05, (task_id, i, a, b, best)
    assert disagreements < planted * 0.1

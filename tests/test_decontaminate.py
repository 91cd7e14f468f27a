"""Decontamination and the normalisation it compares on: the fast paths (per-character table
lookup instead of NFKC, sampled hashed n-gram lookup) against the straightforward definitions
(textnorm.normalise_texts, and a Python set of every evaluation n-gram)."""

import pickle
import random
import unicodedata

import numpy as np
import polars as pl
import pytest

from flanzh.corpus import decontaminate as decon
from flanzh.corpus.decontaminate import EvalIndex, decontaminate
from flanzh.read.textnorm import (COMPOSING_STARTERS, DELETED, PER_CHARACTER_RANGES, SLOW,
                                  normalise_texts, normalised_codepoints, per_character_table)


def rebuilt(texts) -> list[str]:
    """normalised_codepoints back as one string per row, in row order."""
    points, starts, rows = normalised_codepoints(pl.Series(texts, dtype=pl.Utf8))
    out = [None] * len(texts)
    for k, row in enumerate(rows.tolist()):
        assert out[row] is None or out[row] == "", "a row with two non-empty segments"
        out[row] = "".join(map(chr, points[starts[k]:starts[k + 1]].tolist()))
    return out


def plain_owners(eval_sets: dict[str, list[str]], corpus: list[str], n: int) -> list[str | None]:
    """The straightforward lookup: each row's first n-gram found in a set of every evaluation
    n-gram, named after the first evaluation set holding it."""
    owner_of: dict[str, str] = {}
    for name, texts in eval_sets.items():
        for t in normalise_texts(texts):
            for i in range(len(t) - n + 1):
                owner_of.setdefault(t[i:i + n], name)
    owners = []
    for t in normalise_texts(corpus):
        owners.append(next((owner_of[t[i:i + n]] for i in range(len(t) - n + 1)
                            if t[i:i + n] in owner_of), None))
    return owners


def indexed_owners(eval_sets: dict[str, list[str]], corpus, n: int) -> list[str | None]:
    index = EvalIndex(n)
    for name, texts in eval_sets.items():
        index.add(name, texts)
    return index.matches(corpus)


# -- normalisation ------------------------------------------------------------------------------

def test_textnorm_cjk_and_printable_ascii_are_nfkc_stable():
    for code in [*range(0x4E00, 0xA000), *range(0x3400, 0x4DC0), *range(0x20, 0x7F)]:
        assert unicodedata.normalize("NFKC", chr(code)) == chr(code)
    table = per_character_table()
    assert (table[0x4E00:0xA000] == np.arange(0x4E00, 0xA000)).all()
    assert table[ord("A")] == ord("a") and table[ord("Ａ")] == ord("a")
    assert table[ord("，")] == DELETED and table[ord(" ")] == DELETED and table[ord("_")] == DELETED
    assert table[0x1F600] == SLOW and table[ord("가")] == SLOW


def _second_halves() -> set[int]:
    """Every character that is the second half of a canonical (two-character) decomposition,
    Hangul syllables included, from Python's Unicode database."""
    second = set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))     # Hangul V and T jamo
    for code in range(0x110000):
        parts = unicodedata.decomposition(chr(code)).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            second.add(int(parts[1], 16))
    return second


def test_textnorm_per_character_table_only_holds_characters_that_normalise_alone():
    """What makes the table lookup equal to NFKC + lower + punctuation removal, checked for every
    character in it: its NFKD is all starters, none of which composes with a preceding character,
    so NFKC never reorders or composes across characters; no capital sigma (the one context-
    dependent lower-case mapping); and it normalises to at most one character."""
    second = _second_halves()
    starters = {c for c in second if unicodedata.combining(chr(c)) == 0}
    assert starters <= COMPOSING_STARTERS, sorted(map(hex, starters - COMPOSING_STARTERS))
    table = per_character_table()
    fast = np.flatnonzero(table != SLOW)
    assert len(fast) > 30_000
    in_ranges = np.zeros(0x110000, dtype=bool)
    for low, high in PER_CHARACTER_RANGES:
        in_ranges[low:high + 1] = True
    assert in_ranges[fast].all()
    for code in fast.tolist():
        char = chr(code)
        assert unicodedata.category(char) not in ("Cn", "Cs")
        nfkd = unicodedata.normalize("NFKD", char)
        assert unicodedata.normalize("NFKC", char) == nfkd, hex(code)
        for part in nfkd:
            assert unicodedata.combining(part) == 0 and ord(part) not in second, hex(code)
            assert part != "\u03a3"
    chars = [chr(c) for c in fast.tolist()]
    expected = normalise_texts(chars)
    assert all(len(e) <= 1 for e in expected)
    got = [chr(table[ord(c)]) if table[ord(c)] != DELETED else "" for c in chars]
    assert got == expected


def test_textnorm_codepoints_equal_normalise_texts_on_tricky_text():
    texts = ["ＡＢＣ，你好 World！", None, "", "가나", "ㄱㅏ", "ｶﾞｷﾞ", "e\u0301", "x😀y", "ΣΑΣ ΟΔΟΣ",
             "İstanbul", "ﬁle ㍿ ① ⑩ ½ ℃ Ⅻ", "\u200b\u200d\ufeff中文", "中\u0301文", "中文\n\n英文",
             "Ｈｅｌｌｏ　ｗｏｒｌｄ", "花呗（借呗）……——“余额宝”", "\u3099\u309a", "ﾊﾟﾝ", "㉮㉯",
             "Ǆ ǅ ǆ", "µ ß ẞ", "\u00a0\u2003\u3000", "#idiom#", "{{x}}", "a_b-c.d", "١٢٣", "ⅰⅱ"]
    assert rebuilt(texts) == normalise_texts(texts)


def test_textnorm_codepoints_equal_normalise_texts_on_random_mixes():
    """Random strings over the table's characters (so the per-character claim is exercised on
    sequences, not just one character at a time), plus a few others that force the slow path."""
    rng = random.Random(11)
    table = per_character_table()
    fast = [chr(c) for c in np.flatnonzero(table != SLOW).tolist()]
    non_cjk = [c for c in fast if not 0x3400 <= ord(c) <= 0x9FFF]
    others = ["\u0301", "\u3099", "가", "ㅏ", "😀", "\U00020000", "Σ", "\u1161", "\u0b3e"]
    texts = ["".join(rng.choice(non_cjk) for _ in range(rng.randint(0, 12)))
             for _ in range(20_000)]
    texts += ["".join(rng.choice(fast if rng.random() < 0.8 else others)
                      for _ in range(rng.randint(0, 30))) for _ in range(5_000)]
    assert rebuilt(texts) == normalise_texts(texts)


# -- decontamination ----------------------------------------------------------------------------

def _planted_corpus(seed: int):
    rng = random.Random(seed)
    common = "花呗借呗余额宝账单额度还款分期利息逾期提前手续费银行卡绑定冻结解除自动扣款失败原因"
    latin = "abcdefghijKLMNOPqrstuvwxyz0123456789"

    def chinese(size):
        return "".join(rng.choice(common) for _ in range(size))

    def mixed(size):          # CJK with Latin letters and digits, which have full-width twins
        return "".join(rng.choice(common if rng.random() < 0.7 else latin) for _ in range(size))

    def vary(text):
        """The same normalised text: full/half width, case, punctuation, whitespace changed."""
        out = []
        for ch in text:
            r = rng.random()
            if "!" <= ch <= "~" and r < 0.3:
                ch = chr(ord(ch) + 0xFEE0)                 # full width
            elif "！" <= ch <= "～" and r < 0.3:
                ch = chr(ord(ch) - 0xFEE0)                 # half width
            if ch.isalpha() and ch.isascii() and rng.random() < 0.3:
                ch = ch.swapcase()
            out.append(ch)
            if rng.random() < 0.15:
                out.append(rng.choice(["，", "。", " ", "\u3000", "\n", "…", "-", "_", "（", "!"]))
        return "".join(out)

    eval_sets = {
        "dev": [mixed(rng.randint(5, 60)) for _ in range(150)],
        "test": [chinese(rng.randint(5, 60)) for _ in range(150)],
        "extra": ["ΣΟΦΙΑ ИСТИНА " + mixed(20), "Ｈｅｌｌｏ，ｗｏｒｌｄ！花呗借呗余额宝",
                  "가나다라마바사 😀 " + chinese(15), "e\u0301cole ｶﾞｷﾞｸﾞ " + chinese(10)],
    }
    eval_sets["test"].append(eval_sets["dev"][3])        # the same text in two sets: dev owns it
    all_eval = [t for texts in eval_sets.values() for t in texts]
    corpus = []
    for _ in range(3000):
        source = rng.choice(all_eval)
        r = rng.random()
        if r < 0.3 and len(source) > 14:                   # a planted span, varied
            a = rng.randrange(0, len(source) - 12)
            span = source[a:a + rng.randint(10, 20)]
            corpus.append(mixed(rng.randint(0, 20)) + vary(span) + mixed(rng.randint(0, 20)))
        elif r < 0.4:                                     # mixed scripts: the slow path
            corpus.append(rng.choice(["😀", "가", "Σ", "é", "ｶﾞ", "①"]) + vary(source)
                          + rng.choice(["", "ΟΔΟΣ", "\u0301"]))
        elif r < 0.5:
            corpus.append(vary(source))
        else:
            corpus.append(mixed(rng.randint(0, 80)))
    corpus += [None, "", "花", vary(eval_sets["extra"][1]), "HELLO world 花呗借呗余额宝!"]
    return eval_sets, corpus


@pytest.mark.parametrize("n", [1, 2, 5, 8, 13, 20])
def test_decontamination_matches_the_plain_set_lookup_on_planted_variants(n, monkeypatch):
    eval_sets, corpus = _planted_corpus(seed=n)
    expected = plain_owners(eval_sets, corpus, n)
    assert indexed_owners(eval_sets, corpus, n) == expected
    if n == 13:
        hits = sum(o is not None for o in expected)
        assert 400 < hits < len(corpus) - 400                 # both kinds well represented
        assert {"dev", "test", "extra"} <= set(expected)
    # many small batches, on threads: the same answer
    monkeypatch.setattr(decon, "BATCH_CHARS", 500)
    monkeypatch.setattr(decon, "THREADS", 3)
    assert indexed_owners(eval_sets, pl.Series(corpus, dtype=pl.Utf8), n) == expected


def test_decontaminate_drops_the_matching_rows_and_counts_them_per_set():
    eval_sets, corpus = _planted_corpus(seed=4)
    expected = plain_owners(eval_sets, corpus, 13)
    index = EvalIndex(13)
    for name, texts in eval_sets.items():
        index.add(name, texts)
    frame = pl.DataFrame({"i": range(len(corpus)), "text": corpus})
    kept, dropped = decontaminate(frame, frame["text"], index)
    assert kept["i"].to_list() == [i for i, o in enumerate(expected) if o is None]
    assert dropped == {f"contaminated:{name}": sum(o == name for o in expected)
                       for name in set(expected) - {None}}
    again = pickle.loads(pickle.dumps(index))                 # an index can go to a worker
    assert again.matches(corpus) == expected


def test_decontamination_survives_hash_collisions():
    """Two different 13-grams with the same 32-bit hash: the index keeps both, and a hash hit on
    the wrong one is not a match."""
    base = decon._BASE
    prefix = "花呗借呗余额宝账单额度"
    first = prefix + "\u4e80\u4e00"
    # x * B + y is unchanged when x drops by 256 and y grows by 256 * B mod 2^32
    second = prefix + chr(0x4E80 - 256) + chr(0x4E00 + (256 * base) % (1 << 32))
    assert normalise_texts([first, second]) == [first, second]
    hashes = [decon._Windows(np.array(list(map(ord, t)), dtype=np.uint32)).every(13)
              for t in (first, second)]
    assert hashes[0][0] == hashes[1][0]                         # really a collision

    index = EvalIndex(13)
    index.add("dev", ["前面" + first + "后面"])
    assert index.matches([second, first, "x" + second]) == [None, "dev", None]
    index.add("test", [second])
    assert index.matches([second, first, "x" + second]) == ["test", "dev", "test"]


def test_decontamination_of_nothing():
    index = EvalIndex(13)
    assert index.matches(["花呗借呗余额宝账单额度还款分期"]) == [None]
    index.add("dev", ["短", "", None])
    assert index.matches([]) == []
    assert index.matches(["花呗借呗余额宝账单额度还款分期", None]) == [None, None]
    assert index.sizes == {"dev": 3}

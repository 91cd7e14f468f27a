"""Planted decontamination cases: evaluation items, training rows and which rows really leak.

Text is random over 3,000 CJK ideographs, so two texts never share 13 characters by chance; what
they share is planted:

- boilerplate: a stock instruction that is the whole question of many evaluation items, and a
  release-note phrase inside many evaluation passages; both also in many training rows (no leak);
- source boilerplate: a phrase in a few evaluation passages and in many rows of the training set
  (no leak);
- leaks: training rows equal to an evaluation item up to width, case, punctuation, zero-width and
  combining characters (long items and items shorter than n, like AFQMC questions), and rows
  holding a long span of an evaluation passage.

Used by tests/test_decontaminate_policy.py and printed by bench/bench.py.
"""

from __future__ import annotations

import random

INSTRUCTION = "请选出与试题内容一致的一项"                  # 13 characters: the C3 case
RELEASE_NOTE = "更新内容：稳定性改进和错误修复，优化用户体验"   # the IFLYTEK case
SOURCE_PHRASE = "我也很高兴认识你你在做什么呢"                  # the persona-chat case
NOISE = ["，", "。", " ", "\u3000", "！", "\u200b", "\u200c", "\u200d", "\ufe0f", "\u0301", "-"]


def _vary(rng: random.Random, text: str) -> str:
    """The same text after normalisation: full/half width, case, punctuation, invisible and
    combining characters changed."""
    out = []
    for ch in text:
        if "!" <= ch <= "~" and rng.random() < 0.3:
            ch = chr(ord(ch) + 0xFEE0)
        if ch.isascii() and ch.isalpha() and rng.random() < 0.5:
            ch = ch.swapcase()
        out.append(ch)
        if rng.random() < 0.2:
            out.append(rng.choice(NOISE))
    return "".join(out)


def planted_cases(seed: int = 0, items: int = 400, rows: int = 3000
                  ) -> tuple[list[list[str]], list[list[str]], list[bool]]:
    """(evaluation items, training rows, whether each row leaks); an item or row is its compared
    texts (passage, question)."""
    rng = random.Random(seed)
    alphabet = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]

    def text(low, high):
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))

    def with_phrase(phrase, low, high):
        body = text(low, high)
        at = rng.randint(0, len(body))
        return body[:at] + phrase + body[at:]

    eval_items = []
    for i in range(items):
        kind = i % 8
        if kind == 0:                      # a stock instruction as the whole question
            eval_items.append([text(20, 80), INSTRUCTION])
        elif kind == 1:                    # release-note boilerplate inside the passage
            eval_items.append([with_phrase(RELEASE_NOTE, 10, 60), text(6, 15)])
        elif kind in (2, 3):               # short items (AFQMC-like question pairs)
            eval_items.append([text(5, 12), text(5, 12)])
        else:
            eval_items.append([text(20, 120), text(6, 20)])
    for i in range(3):                     # in a few evaluation items only
        eval_items[4 + 8 * i][0] = with_phrase(SOURCE_PHRASE, 10, 40)

    train, leaked = [], []
    for _ in range(rows):
        r = rng.random()
        if r < 0.12:                       # a leaked item, varied
            item = rng.choice(eval_items)
            if item[1] == INSTRUCTION or RELEASE_NOTE in item[0] or SOURCE_PHRASE in item[0]:
                item = eval_items[rng.randrange(items // 8) * 8 + 2]
            train.append([_vary(rng, item[0]), _vary(rng, item[1])])
            leaked.append(True)
        elif r < 0.18:                     # a short evaluation text as a whole field
            item = eval_items[rng.randrange(items // 8) * 8 + rng.choice((2, 3))]
            train.append([_vary(rng, rng.choice(item)), text(6, 20)])
            leaked.append(True)
        elif r < 0.24:                     # a long span of an evaluation passage
            item = eval_items[rng.randrange(items // 8) * 8 + rng.choice((5, 6, 7))]
            at = rng.randrange(0, max(1, len(item[0]) - 20))
            span = item[0][at:at + rng.randint(16, 20)]
            train.append([text(0, 30) + _vary(rng, span) + text(0, 30), text(6, 20)])
            leaked.append(len(span) >= 16)
        elif r < 0.40:                     # boilerplate: the instruction as the question
            train.append([text(20, 80), _vary(rng, INSTRUCTION)])
            leaked.append(False)
        elif r < 0.55:                     # boilerplate inside a passage
            train.append([with_phrase(rng.choice([RELEASE_NOTE, SOURCE_PHRASE]), 10, 60),
                          text(6, 20)])
            leaked.append(False)
        else:
            train.append([text(10, 100), text(5, 20)])
            leaked.append(False)
    return eval_items, train, leaked


def precision_recall(removed: list[bool], leaked: list[bool]) -> tuple[float, float]:
    hits = sum(r and t for r, t in zip(removed, leaked))
    precision = hits / max(sum(removed), 1)
    recall = hits / max(sum(leaked), 1)
    return precision, recall


def flattened(items: list[list[str]]):
    """(texts, item of each text) of items made of several texts."""
    texts = [t for item in items for t in item]
    at = [i for i, item in enumerate(items) for _ in item]
    return texts, at

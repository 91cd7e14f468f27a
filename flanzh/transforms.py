"""Text transforms a spec can apply to a field (``transform: [...]``), and the length policy
(``truncate``) that cuts whole sentences or turns, never in the middle of one."""

from __future__ import annotations

import re
from functools import cache

# A space between two CJK characters is a word-segmentation artefact (e.g. Douban's
# "烟台 十一 哪 好玩"); spaces next to Latin letters or digits are kept.
_CJK = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]"
_NEAR = r"[0-9!-/:-@\[-`{-~]"      # digits and ASCII punctuation
# A space is a segmentation artefact between two CJK characters, or between a CJK character and
# a digit or punctuation mark ("有 2 个", "吗 ?"); between Latin words it is real and kept.
_CJK_SPACE = re.compile(rf"(?<={_CJK})[ \t]+(?={_CJK}|{_NEAR})|(?<={_NEAR})[ \t]+(?={_CJK})")
# after Chinese or ASCII sentence-ending marks, and after a "." that is followed by Chinese text
# (scientific abstracts often end Chinese sentences with a half-width full stop)
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;…\n])|(?<=\.)(?=[\u4e00-\u9fff])")


def join_cjk_spaces(text: str) -> str:
    if " " not in text and "\t" not in text:      # most rows: skip the regex
        return text
    return _CJK_SPACE.sub("", text)


def strip(text: str) -> str:
    return text.strip()


@cache
def _converter(config: str):
    import opencc

    return opencc.OpenCC(config)


def t2s(text: str) -> str:
    """Traditional to Simplified Chinese, character by character (OpenCC ``t2s``)."""
    return _converter("t2s").convert(text)


def tw2s(text: str) -> str:
    """Taiwan-standard Traditional to Simplified Chinese (OpenCC ``tw2s``: also 著 -> 着, ...)."""
    return _converter("tw2s").convert(text)


TRANSFORMS = {"join_cjk_spaces": join_cjk_spaces, "strip": strip, "t2s": t2s, "tw2s": tw2s}


def apply_transforms(value, names: list[str]):
    """Apply ``names`` in order to a string, or to each string of a list."""
    if value is None:
        return None
    if isinstance(value, list):
        return [apply_transforms(v, names) for v in value]
    for name in names:
        value = TRANSFORMS[name](value)
    return value


def split_sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text) if s]


def truncate(value, max_chars: int, keep: str):
    """Cut ``value`` to at most ``max_chars`` characters by whole units: sentences of a string,
    items (turns) of a list. ``keep`` is ``head`` (documents) or ``tail`` (dialogue history: the
    latest turns). Returns (value, was_cut); value is None when even one unit is too long."""
    if value is None:
        return None, False
    units = value if isinstance(value, list) else split_sentences(value)
    if sum(len(u) for u in units) <= max_chars:
        return value, False
    ordered = units if keep == "head" else list(reversed(units))
    kept, total = [], 0
    for unit in ordered:
        if total + len(unit) > max_chars:
            break
        kept.append(unit)
        total += len(unit)
    if not kept:
        return None, True
    if keep == "tail":
        kept.reverse()
    return (kept if isinstance(value, list) else "".join(kept)), True

"""Ways Chinese prompts show answer options, as jinja2 filters over the row's shuffled ``options``.

    {{ options | abc }}        A. 相同\nB. 不同
    {{ options | abc_inline }} A. 相同  B. 不同
    {{ options | jiayi }}      甲、相同\n乙、不同
    {{ options | circled }}    ①相同 ②不同
    {{ options | numbered }}   1. 相同\n2. 不同
    {{ options | dunhao }}     相同、不同
    {{ options | huo }}        相同或不同 (the last two joined by 或)
    {{ options | lines }}      相同\n不同
    {{ options | letter_of(label) }}            B   (the label's letter in the abc style)
    {{ options | letter_of(label, "jiayi") }}   乙
"""

from __future__ import annotations

ABC = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
JIAYI = "甲乙丙丁戊己庚辛壬癸"
CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
NUMBERS = [str(i) for i in range(1, 100)]

MARKERS = {"abc": ABC, "jiayi": JIAYI, "circled": CIRCLED, "numbered": NUMBERS}


def _markers(style: str, count: int):
    markers = MARKERS[style]
    if count > len(markers):
        raise ValueError(f"{count} options are too many for the {style} style (at most {len(markers)})")
    return markers[:count]


def abc(options) -> str:
    """One option a line, lettered: ``A. 相同`` / ``B. 不同``."""
    return "\n".join(f"{m}. {o}" for m, o in zip(_markers("abc", len(options)), options))


def abc_inline(options) -> str:
    """Lettered on one line: ``A. 相同  B. 不同``."""
    return "  ".join(f"{m}. {o}" for m, o in zip(_markers("abc", len(options)), options))


def jiayi(options) -> str:
    """One a line, numbered with 甲乙丙: ``甲、相同`` / ``乙、不同``."""
    return "\n".join(f"{m}、{o}" for m, o in zip(_markers("jiayi", len(options)), options))


def circled(options) -> str:
    """On one line with circled numbers: ``①相同 ②不同``."""
    return " ".join(f"{m}{o}" for m, o in zip(_markers("circled", len(options)), options))


def numbered(options) -> str:
    """One a line, numbered: ``1. 相同`` / ``2. 不同``."""
    return "\n".join(f"{m}. {o}" for m, o in zip(_markers("numbered", len(options)), options))


def dunhao(options) -> str:
    """Joined with 、: ``相同、不同``."""
    return "、".join(options)


def huo(options) -> str:
    """Joined with 、 and the last two with 或: ``甲、乙或丙``."""
    options = list(options)
    if len(options) < 2:
        return "".join(options)
    return "、".join(options[:-1]) + "或" + options[-1]


def lines(options) -> str:
    """One option a line, unmarked."""
    return "\n".join(options)


def letter_of(options, value, style: str = "abc") -> str:
    """The marker of ``value`` among ``options`` in ``style`` (abc, jiayi, circled, numbered)."""
    options = list(options)
    if value not in options:
        raise ValueError(f"{value!r} is not among the options {options}")
    return _markers(style, len(options))[options.index(value)]


MAX_SPLIT_PARTS = 1000


def split(value, separator: str) -> list[str]:
    """A text cut at ``separator`` (not empty), e.g. ``{{ note | split('★') | first }}`` for the
    part of ``～…★<source>`` before the star; at most 1,000 parts."""
    if not isinstance(value, str) or not isinstance(separator, str) or not separator:
        raise ValueError("split takes a text and a non-empty separator")
    parts = value.split(separator, MAX_SPLIT_PARTS - 1)
    return parts


FILTERS = {f.__name__: f for f in (abc, abc_inline, jiayi, circled, numbered, dunhao, huo, lines,
                                   letter_of, split)}

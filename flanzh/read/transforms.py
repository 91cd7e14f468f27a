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


# Taiwan usage that OpenCC's tw2sp phrase table leaves as it is, in Simplified characters: words
# a mainland reader would not write. Longest first, so 机车驾照 wins over 机车.
_TAIWAN_WORDS = {
    "牠们": "它们", "牠": "它", "机车驾照": "摩托车驾照", "骑机车": "骑摩托车", "超商": "便利店",
    "公尺": "米", "公分": "厘米", "计程车": "出租车", "脚踏车": "自行车", "捷运": "地铁",
    "冷气机": "空调", "优格": "酸奶", "鲔鱼": "金枪鱼", "部落格": "博客", "寮国": "老挝",
    "纽西兰": "新西兰", "雪梨": "悉尼", "义大利": "意大利", "奈及利亚": "尼日利亚",
}
_TAIWAN_RE = re.compile("|".join(sorted(map(re.escape, _TAIWAN_WORDS), key=len, reverse=True)))
_CORNER_QUOTES = str.maketrans({"「": "“", "」": "”", "『": "‘", "』": "’"})


def tw2sp(text: str) -> str:
    """Taiwan Traditional to mainland Simplified with phrases (OpenCC ``tw2sp``: 讯息 -> 消息,
    软体 -> 软件), then Taiwan words it leaves (牠, 超商, 公尺) and corner quotes 「」『』 -> “”‘’."""
    text = _converter("tw2sp").convert(text)
    return _TAIWAN_RE.sub(lambda m: _TAIWAN_WORDS[m.group()], text).translate(_CORNER_QUOTES)


_CJK_CHAR = r"[\u3400-\u4dbf\u4e00-\u9fff\u3000-\u303f\uff01-\uff5e“”‘’…—]"
_HALF_TO_FULL = {",": "，", "?": "？", "!": "！", ":": "：", ";": "；", "(": "（", ")": "）"}
# a half-width mark touching Chinese text on either side; not inside numbers (3,000 or 10:30)
_HALF_MARK = re.compile(rf"(?<={_CJK_CHAR})[ ]*([,?!:;()])|([,?!:;()])[ ]*(?={_CJK_CHAR})")
# a full stop after Chinese text, at the end or before Chinese text / a quote (not 3.5, not a.b)
_HALF_STOP = re.compile(rf"(?<={_CJK_CHAR})\.(?=$|[\s“”\u3400-\u9fff])")
_DOUBLED = re.compile(r"([。！？；，、])[，,、]+")      # iflytek's "。," artefact


def fullwidth_punct(text: str) -> str:
    """Half-width punctuation inside Chinese text to full width: ``嗯,那个,…吧.`` -> ``嗯，那个，…吧。``
    (marks between Latin words and in numbers are left alone), and a sentence mark doubled by a
    comma (``。,``) kept once."""
    if not any(c in text for c in ",.?!:;()"):
        return _DOUBLED.sub(r"\1", text) if "，" in text or "、" in text else text
    text = _HALF_MARK.sub(lambda m: _HALF_TO_FULL[m.group(1) or m.group(2)], text)
    text = _HALF_STOP.sub("。", text)
    return _DOUBLED.sub(r"\1", text)


# a full-width ． that stays: between two letters or digits (３．５, Ａ．Ｂ．Ｃ, o．w．f), or after
# an item number that starts a line, a list or a sentence (\n1．论文摘要, 原因有四：1．成本压力;
# not a ratio's second number: 比是2：3．两人)
_ALNUM = "0-9０-９A-Za-zＡ-Ｚａ-ｚ"
_KEPT_STOP = re.compile(rf"(?<=[{_ALNUM}])．(?=[{_ALNUM}])"
                        rf"|(?:^|(?<=[\s。；;！？!?])|(?<=(?<![0-9０-９])[：:]))[0-9０-９]{{1,2}}．")


def fullwidth_stop(text: str) -> str:
    """The full-width full stop ． that some sources (Math23K: 修了(3/20)千米．两天…) end Chinese
    sentences with, as 。; kept where it is not a full stop: between two letters or digits (a
    decimal point ３．５, a list Ａ．Ｂ．Ｃ, an abbreviation o．w．f), or after an item number at the
    start of a line, a list or a sentence (1．论文摘要)."""
    if "．" not in text:
        return text
    out, last = [], 0
    for match in _KEPT_STOP.finditer(text):         # the kept ones, left as they are
        out.append(text[last:match.start()].replace("．", "。"))
        out.append(match.group())
        last = match.end()
    out.append(text[last:].replace("．", "。"))
    return "".join(out)


# C0/C1 controls (not the line break), zero-width characters and the BOM; a tab becomes a space
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2060\ufeff]")


def drop_control(text: str) -> str:
    """Control and zero-width characters removed, tabs and carriage returns as spaces/none."""
    if text.isprintable():
        return text
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\t", " ").replace("\r", "\n"))


TRANSFORMS = {"join_cjk_spaces": join_cjk_spaces, "strip": strip, "t2s": t2s, "tw2s": tw2s,
              "tw2sp": tw2sp, "fullwidth_punct": fullwidth_punct, "fullwidth_stop": fullwidth_stop,
              "drop_control": drop_control}
# the transforms that clean source text; the manifest counts the values each one changed
CLEANING = ("tw2sp", "fullwidth_punct", "fullwidth_stop", "drop_control", "debris")


def remove_debris(text: str, debris: list) -> str:
    """Web debris a spec names: a string is removed wherever it stands; ``{from: 原标题：}``
    removes from the marker to the end of its line. Literal text only (no regular expressions:
    specs are contributed text)."""
    for item in debris:
        if isinstance(item, str):
            text = text.replace(item, "")
        else:
            marker = item["from"]
            while marker in text:
                start = text.index(marker)
                end = text.find("\n", start)
                text = text[:start] + ("" if end < 0 else text[end + 1:])
    return text


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

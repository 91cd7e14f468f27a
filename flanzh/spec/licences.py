"""A spec's free-text licence as a hub licence id, and whether it allows commercial use."""

from __future__ import annotations

import json
import re
from pathlib import Path


# The hub's allowed metadata values, kept as data with their source (schemas/hub_metadata.json).
HUB_METADATA = json.loads(
    (Path(__file__).parent / "schemas" / "hub_metadata.json").read_text("utf-8"))
HUB_LICENSES = set(HUB_METADATA["license"])
COMMERCIAL = set(HUB_METADATA["commercial_use"])


# Free-text licence (its leading part, normalised: lower case, no spaces, '-' or '_') -> HF id,
# for the names that are not Creative Commons (those are parsed below).
_LICENSES = {
    "mit": "mit",
    "apache2.0": "apache-2.0", "apachelicense2.0": "apache-2.0", "apache": "apache-2.0",
    "gpl3.0": "gpl-3.0", "gplv3": "gpl-3.0", "gpl2.0": "gpl-2.0", "gplv2": "gpl-2.0",
    "bsd3clause": "bsd-3-clause", "bsd2clause": "bsd-2-clause", "cc0": "cc0-1.0",
    "cc01.0": "cc0-1.0", "unknown": "unknown", "n/v": "unknown",
}
# Creative Commons: "CC BY-NC-SA 3.0", "CC-BY-4.0", "cc by 3.0"; without a version -> not
# mapped (the hub has no version-less id but the family name `cc`, which says nothing).
_CC = re.compile(r"^cc[\s_-]*by((?:[\s_-]*(?:nc|nd|sa))*)[\s_-]*(\d\.\d)\b", re.I)


def hf_license(text: str) -> str:
    """The hub licence id of a spec's free-text licence: decided by its leading part (before any
    parenthesis, ';' or ','), ``unknown`` when it says so or is not verified, ``other`` when it is
    a licence the hub has no id for (千言 terms, competition terms)."""
    head = re.split(r"[(;,]", text or "", maxsplit=1)[0].strip()
    cc = _CC.match(head)
    if cc:
        parts = re.findall(r"nc|nd|sa", cc.group(1).lower())
        order = [p for p in ("nc", "nd", "sa") if p in parts]
        licence = "-".join(["cc", "by", *order, cc.group(2)])
        return licence if licence in HUB_LICENSES else "other"
    key = re.sub(r"[\s_\-]+", "", head.lower()).removesuffix("license").removesuffix("licence")
    if not key:
        return "unknown"
    return _LICENSES.get(key, "other")


def commercial_use(licence_id: str) -> bool:
    """Whether records under hub licence ``licence_id`` may be used commercially (see
    schemas/hub_metadata.json for the reading this rests on)."""
    return licence_id in COMMERCIAL

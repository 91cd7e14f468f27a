"""Broken sources never crash the build and are never skipped silently."""

import json

import pytest

from flanzh.build.pipeline import build
from flanzh.errors import BuildError


def good(i, label="1"):
    return json.dumps({"sentence1": f"花呗第{i}个问题怎么办", "sentence2": f"借呗第{i}个问题",
                       "label": label}, ensure_ascii=False).encode("utf-8")


def test_every_kind_of_bad_row_is_counted_with_file_and_line(mini_project, tmp_path):
    path = mini_project.samples_dir / "sim_afqmc" / "train.json"
    huge = json.dumps({"sentence1": "长" * (10 * 1024 * 1024 // 3), "sentence2": "短",
                       "label": "1"}, ensure_ascii=False).encode("utf-8")
    lines = [
        b"\xef\xbb\xbf" + good(0),                                        # 1: BOM
        good(1) + b"\r",                                                  # 2: CRLF
        b'{"sentence1": "broken", "sentence2": ',                         # 3: bad JSON
        json.dumps({"sentence1": ["列表"], "sentence2": "x", "label": "1"},
                   ensure_ascii=False).encode(),                          # 4: wrong type
        json.dumps({"sentence2": "缺少第一句", "label": "1"}, ensure_ascii=False).encode(),  # 5
        good(5, label="7"),                                               # 6: unknown label
        json.dumps({"sentence1": "  ", "sentence2": "空", "label": "0"}, ensure_ascii=False).encode(),
        b'{"sentence1": "\xff\xfe bad bytes", "sentence2": "x", "label": "1"}',  # 8: invalid UTF-8
        huge,                                                             # 9: a 10 MB row
        *[good(i) for i in range(10, 30)],
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    manifest = build(mini_project, tmp_path / "out")
    entry = manifest["tasks"]["sim_afqmc"]
    assert entry["rows_read"] == 29
    assert entry["dropped"] == {
        "bad_json": 1, "wrong_type:sentence1": 1, "missing_field:sentence1": 1,
        "invalid_label:label": 1, "empty_field:sentence1": 1, "invalid_encoding": 1,
        "inputs_too_long": 1,
    }
    assert entry["rows_written"] == 22
    rejects = [json.loads(l) for l in (tmp_path / "out" / "rejects.jsonl").read_text("utf-8").splitlines()]
    by_reason = {r["reason"]: r for r in rejects}
    assert by_reason["bad_json"]["file"] == "samples/sim_afqmc/train.json"
    assert by_reason["bad_json"]["line"] == 3
    assert by_reason["wrong_type:sentence1"]["line"] == 4
    assert by_reason["invalid_encoding"]["line"] == 8
    assert by_reason["invalid_label:label"]["source_key"] == "3"      # 4th parsed row
    assert '"label": "7"' in by_reason["invalid_label:label"]["excerpt"]


def test_mostly_broken_source_fails_clearly(mini_project, tmp_path):
    path = mini_project.samples_dir / "sim_afqmc" / "train.json"
    path.write_bytes(b"\n".join([good(0), good(1)] + [b"{not json"] * 8) + b"\n")
    with pytest.raises(BuildError) as error:
        build(mini_project, tmp_path / "out")
    assert str(error.value) == (
        "task sim_afqmc: 8 of 10 source rows (80%) were rejected (bad_json 8), over the maximum "
        "of 50%; see the examples in rejects.jsonl of a build with --max-reject-rate 1, fix the "
        "source or raise max_reject_rate in the spec")
    manifest = build(mini_project, tmp_path / "out", max_reject_rate=1.0)
    assert manifest["tasks"]["sim_afqmc"]["dropped"] == {"bad_json": 8}


def test_a_wrong_encoding_is_still_one_clear_error(mini_project, tmp_path):
    from flanzh.errors import SourceError

    path = mini_project.samples_dir / "sim_afqmc" / "train.json"
    path.write_bytes(b"\n".join(good(i).decode().encode("gb18030") for i in range(5)) + b"\n")
    with pytest.raises(SourceError) as error:
        build(mini_project, tmp_path / "out")
    assert str(error.value).endswith("cannot decode as utf-8 (invalid start byte); try "
                                     "source.encoding: gb18030")

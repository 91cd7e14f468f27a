"""`flanzh doctor`, `build --tasks available` and `preview --data-dir`: what a user with a folder
of downloads learns before a long build."""

import gzip
import json
import shutil
import zipfile

import pytest
from typer.testing import CliRunner

from conftest import PROJECT
from flanzh.cli import app, main
from flanzh.contrib.doctor import (JSON_CONCATENATED, JSON_DOCUMENT, JSON_LINES, JSON_ONE_LINE,
                                   TEXT_BLOCKS, TEXT_LINES, _copy_prefix, sniff)
from flanzh.read.normalise import normalise
from flanzh.read.sources import SourceMode, read_split
from flanzh.spec.specs import load_task

SAMPLES = PROJECT.samples_dir


def run_cli(args, monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", ["flanzh", "--root", str(PROJECT.root), *args])
    try:
        main()
        code = 0
    except SystemExit as exit_info:
        code = exit_info.code
    return code, capsys.readouterr()


def problem_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("✗ ")]


def downloads(tmp_path, *task_ids):
    """A data folder holding copies of the bundled samples of ``task_ids``."""
    data = tmp_path / "data"
    for task_id in task_ids:
        shutil.copytree(SAMPLES / task_id, data / task_id)
    return data


def afqmc_rows(n, bad_from=None):
    return "".join(json.dumps({"sentence1": f"花呗第{i}期可以提前还吗", "sentence2": f"第{i}期花呗能不能提前还清",
                               "label": "x" if bad_from is not None and i >= bad_from else "1"},
                              ensure_ascii=False) + "\n" for i in range(n))


# --- layouts ---------------------------------------------------------------------------------

@pytest.mark.parametrize("content, kind", [
    ('{"a": 1}\n{"a": 2}\n', JSON_LINES),
    ('{\n "data": [\n  {"a": 1}\n ]\n}\n', JSON_DOCUMENT),
    ('[{"a": 1}, {"a": 2}]', JSON_DOCUMENT),
    ('{"data": [{"a": 1}, {"a": 2}]}', JSON_ONE_LINE),
    ('{"a": 1}{"a": 2}{"a": 3}', JSON_CONCATENATED),
    ('{"a": 1}\n{"a": 2', JSON_LINES),            # a broken line: the reader counts it
    ('{\n "a": 1\n', "not valid JSON"),
    ("label\ttext\n1\t好\n", "TSV"),
    ('label,review\n1,"好,很好"\n', "CSV"),
    ("第一句。\n第二句。\n", TEXT_LINES),
    ("我 O\n爱 O\n\n北 B-LOC\n京 I-LOC\n", TEXT_BLOCKS),
])
def test_sniff_names_the_layout(tmp_path, content, kind):
    path = tmp_path / "f"
    path.write_text(content, "utf-8")
    assert sniff(path, "utf-8").kind == kind


def test_sniff_sees_packing_and_encoding(tmp_path):
    text = tmp_path / "a.tsv.gz"
    text.write_bytes(gzip.compress("中文\tEnglish\n".encode("utf-8")))
    assert sniff(text, "utf-8").describe() == "gzip: TSV (2 columns), utf-8"
    damaged = tmp_path / "b.tsv.gz"
    damaged.write_bytes(b"\x1f\x8b\x08\x00garbage")
    assert sniff(damaged, "utf-8").kind == "damaged gzip"
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("train.json", "{}")
    assert sniff(archive, "utf-8").kind == "zip archive"
    gbk = tmp_path / "gbk.json"
    gbk.write_bytes('{"句子": "今天天气很好"}\n{"句子": "明天下雨"}\n'.encode("gbk"))
    layout = sniff(gbk, "utf-8")
    assert (layout.kind, layout.encoding, layout.bad_byte) == (JSON_LINES, "gb18030", 2)


def test_a_prefix_keeps_whole_records(tmp_path):
    csv_file = tmp_path / "a.csv"
    csv_file.write_text('label,review\n1,"第一行\n还是第一条"\n0,第二条\n1,第三条\n', "utf-8")
    cut = tmp_path / "cut.csv"
    assert _copy_prefix(csv_file, cut, sniff(csv_file, "utf-8"), 2, False) is False
    assert cut.read_text("utf-8") == 'label,review\n1,"第一行\n还是第一条"\n0,第二条\n'
    conll = tmp_path / "a.txt"
    conll.write_text("我 O\n爱 O\n\n北 B-LOC\n京 I-LOC\n\n天 O\n", "utf-8")
    cut = tmp_path / "cut.txt"
    assert _copy_prefix(conll, cut, sniff(conll, "utf-8"), 1, True) is False
    assert cut.read_text("utf-8") == "我 O\n爱 O\n\n"
    packed = tmp_path / "a.tsv.gz"
    packed.write_bytes(gzip.compress("中\tzh\n英\ten\n法\tfr\n德\tde\n".encode("utf-8")))
    cut = tmp_path / "cut.tsv.gz"
    # the first line may be a header: it comes on top of the rows asked for
    assert _copy_prefix(packed, cut, sniff(packed, "utf-8"), 2, False) is False
    assert gzip.decompress(cut.read_bytes()).decode("utf-8") == "中\tzh\n英\ten\n法\tfr\n"


# --- the command -----------------------------------------------------------------------------

def where_to_get(task_id: str) -> str:
    """The download hint a message gives for ``task_id``, as its spec says it."""
    source = load_task(PROJECT, task_id).source
    return f"download {source['dataset']} from {source['download']}"


def test_doctor_on_the_bundled_samples(monkeypatch, capsys):
    code, out = run_cli(["doctor", "--tasks", "sim_afqmc,mrc_cmrc2018,mt_wikititles_en_zh"],
                        monkeypatch, capsys)
    assert code == 0, out.err
    assert out.err == ""
    assert out.out.splitlines()[-1] == "3 tasks: 3 ready, 0 with problems, 0 with missing files"
    for cell in ("JSON lines, utf-8", "one JSON document, utf-8", "gzip: TSV (2 columns), utf-8",
                 "wrong_column_count 1"):
        assert cell in out.out
    # an example of each drop, where it is
    assert ("  mt_wikititles_en_zh: wrong_column_count: samples/mt_wikititles_en_zh/"
            "wikititles-v1.zh-en.tsv.gz: line 21: 鲁迅\\tLu Xun\\tLu Hsun") in out.out.splitlines()


def test_doctor_finds_no_problem_in_any_bundled_sample_even_cut_short(monkeypatch, capsys):
    """Every reader on a prefix of a few records: cutting files must not invent problems
    (parts joined by id, parallel files, blank-line blocks, whole documents)."""
    code, out = run_cli(["doctor", "--rows", "5"], monkeypatch, capsys)
    assert problem_lines(out.out) == []
    assert code == 0, out.err
    n = len(PROJECT_IDS)
    assert out.out.splitlines()[-1] == f"{n} tasks: {n} ready, 0 with problems, 0 with missing files"


def test_doctor_names_each_problem_and_its_fix(tmp_path, monkeypatch, capsys):
    data = downloads(tmp_path, "sim_afqmc", "cls_chnsenticorp_htl", "cls_tnews",
                     "mt_wikititles_en_zh", "senti_eprstmt")
    (data / "sim_afqmc" / "dev.json").unlink()
    htl = data / "cls_chnsenticorp_htl" / "ChnSentiCorp_htl_all.csv"
    htl.write_text(htl.read_text("utf-8").replace("label,review", "label,text", 1), "utf-8")
    tnews = data / "cls_tnews" / "train.json"
    tnews.write_bytes(tnews.read_text("utf-8").encode("gb18030"))
    titles = data / "mt_wikititles_en_zh" / "wikititles-v1.zh-en.tsv.gz"
    titles.write_bytes(gzip.decompress(titles.read_bytes()))
    eprstmt = data / "senti_eprstmt" / "train_few_all.json"
    with zipfile.ZipFile(tmp_path / "x.zip", "w") as z:
        z.write(eprstmt, "train_few_all.json")
    shutil.move(tmp_path / "x.zip", eprstmt)
    ids = "sim_afqmc,cls_chnsenticorp_htl,cls_tnews,mt_wikititles_en_zh,senti_eprstmt,cls_iflytek"
    code, out = run_cli(["doctor", "--data-dir", str(data), "--tasks", ids], monkeypatch, capsys)
    assert code == 1
    with pytest.raises(UnicodeDecodeError) as undecodable:
        tnews.read_bytes().decode("utf-8")
    byte = undecodable.value.start
    assert problem_lines(out.out) == [
        f"✗ sim_afqmc: missing dev.json under {data}/sim_afqmc/; {where_to_get('sim_afqmc')}",
        "✗ cls_chnsenticorp_htl: ChnSentiCorp_htl_all.csv: header has no column review (it has "
        "label, text; the sample's is label, review)",
        "✗ cls_chnsenticorp_htl: task_specs/cls_chnsenticorp_htl.yaml: $.fields.review: source "
        "column 'review' does not exist; the reader gives: label, text",
        f"✗ cls_tnews: train.json: byte {byte}: cannot decode as utf-8 (source.encoding); the file "
        "looks like gb18030: set source.encoding: gb18030 if this copy is the one you want, or "
        "download the utf-8 copy the spec describes",
        "✗ mt_wikititles_en_zh: wikititles-v1.zh-en.tsv.gz is named .gz but is not "
        "gzip-compressed; download the .gz file again",
        f"✗ senti_eprstmt: train_few_all.json is a zip archive; unpack it and put the file(s) it "
        f"holds under {data}/senti_eprstmt/ as source.files names them",
        f"✗ cls_iflytek: missing train.json, dev.json under {data}/cls_iflytek/; "
        f"{where_to_get('cls_iflytek')}",
    ]
    assert out.out.splitlines()[-1] == "6 tasks: 0 ready, 4 with problems, 2 with missing files"
    assert out.err == ("Error: 6 of 6 tasks not ready: sim_afqmc, cls_chnsenticorp_htl, "
                       "cls_tnews, mt_wikititles_en_zh, senti_eprstmt, cls_iflytek\n")


def test_doctor_reads_a_bounded_prefix_and_counts_what_the_build_would(tmp_path, monkeypatch,
                                                                        capsys):
    data = downloads(tmp_path, "sim_afqmc")
    train = data / "sim_afqmc" / "train.json"
    # bad labels only past the prefix: a prefix of 50 rows sees none of them
    train.write_text(afqmc_rows(2000, bad_from=1000), "utf-8")
    code, out = run_cli(["doctor", "--data-dir", str(data), "--tasks", "sim_afqmc", "--rows", "50"],
                        monkeypatch, capsys)
    assert code == 0, out.out
    row = next(line for line in out.out.splitlines() if "train.json" in line)
    cells = [cell.strip() for cell in row.split("│")]
    assert cells[6:8] == ["50+", "50"]          # rows read (the file goes on), rows kept
    assert "invalid_label" not in out.out
    # bad rows inside the prefix: counted by reason, as the build counts them on the same rows
    train.write_text(afqmc_rows(40, bad_from=30), "utf-8")
    code, out = run_cli(["doctor", "--data-dir", str(data), "--tasks", "sim_afqmc"],
                        monkeypatch, capsys)
    assert code == 0, out.out
    task = load_task(PROJECT, "sim_afqmc")
    _, dropped, _ = normalise(task, read_split(PROJECT, task, "train",
                                               SourceMode("data_dir", data)).frame, "train")
    assert dropped == {"invalid_label:label": 10}
    assert "invalid_label:label 10" in out.out
    assert ('  sim_afqmc: invalid_label:label: train row 30: {"sentence1": "花呗第30期可以提前还吗", '
            '"sentence2": "第30期花呗能不能提前还清", "label": "x"}') in out.out.splitlines()


def test_doctor_hints_at_near_names_accepts_other_layouts_the_reader_reads_and_refuses_empty(
        tmp_path, monkeypatch, capsys):
    data = downloads(tmp_path, "nli_ocnli", "math_math23k", "cls_tnews")
    # OCNLI's repository has train.3k.json and train.10k.json; the spec names the 50k file
    (data / "nli_ocnli" / "train.50k.json").rename(data / "nli_ocnli" / "train.10k.json")
    # Math23K as one JSON array (the MWPToolkit split), where the sample has objects back to back
    math = data / "math_math23k" / "Math_23K.json"
    objects, text, decoder = [], math.read_text("utf-8").strip(), json.JSONDecoder()
    while text:
        value, end = decoder.raw_decode(text)
        objects.append(value)
        text = text[end:].strip()
    math.write_text(json.dumps(objects, ensure_ascii=False, indent=2), "utf-8")
    (data / "cls_tnews" / "train.json").write_text("", "utf-8")
    code, out = run_cli(["doctor", "--data-dir", str(data), "--tasks",
                         "nli_ocnli,math_math23k,cls_tnews"], monkeypatch, capsys)
    assert code == 1
    assert problem_lines(out.out) == [
        f"✗ nli_ocnli: missing train.50k.json (here: train.10k.json; rename it if it holds the same "
        f"data) under {data}/nli_ocnli/; {where_to_get('nli_ocnli')}",
        "✗ cls_tnews: train.json is empty; download it again"]
    assert ("  math_math23k: Math_23K.json is one JSON document; the reader expects JSON objects "
            "back to back (as in the bundled sample), but it reads it") in out.out.splitlines()
    assert out.out.splitlines()[-1] == "3 tasks: 1 ready, 1 with problems, 1 with missing files"


def test_doctor_says_when_the_build_would_stop_on_rejects(tmp_path, monkeypatch, capsys):
    data = downloads(tmp_path, "sim_afqmc")
    (data / "sim_afqmc" / "train.json").write_text(afqmc_rows(20, bad_from=5), "utf-8")
    code, out = run_cli(["doctor", "--data-dir", str(data), "--tasks", "sim_afqmc"],
                        monkeypatch, capsys)
    assert code == 1
    assert problem_lines(out.out) == [
        "✗ sim_afqmc: 15 of 20 rows checked (75%) would be rejected (invalid_label:label 15), "
        "over the maximum of 50%: the build would stop here"]
    assert out.err == "Error: 1 of 1 tasks not ready: sim_afqmc\n"


def test_doctor_reports_a_reader_error_on_the_users_file(tmp_path, monkeypatch, capsys):
    data = downloads(tmp_path, "mrc_cmrc2018")
    train = data / "mrc_cmrc2018" / "train.json"
    text = train.read_text("utf-8")
    train.write_text(text[:len(text) // 2], "utf-8")        # an interrupted download
    code, out = run_cli(["doctor", "--data-dir", str(data), "--tasks", "mrc_cmrc2018"],
                        monkeypatch, capsys)
    assert code == 1
    shape, reader = problem_lines(out.out)
    assert shape == ("✗ mrc_cmrc2018: train.json is not valid JSON (cut short by an interrupted "
                     "download?); the reader expects one JSON document (as in the bundled sample)")
    assert reader.startswith(f"✗ mrc_cmrc2018: {data}/mrc_cmrc2018/train.json: line ")
    assert "flanzh-doctor-" not in out.out          # the user's path, not the temporary prefix


def test_doctor_available_checks_only_the_tasks_with_all_files(tmp_path, monkeypatch, capsys):
    data = downloads(tmp_path, "sim_afqmc", "cls_tnews")
    (data / "cls_tnews" / "dev.json").unlink()
    code, out = run_cli(["doctor", "--data-dir", str(data), "--tasks", "available"],
                        monkeypatch, capsys)
    assert code == 0, out.err
    lines = out.out.splitlines()
    assert (f"skipped cls_tnews: missing dev.json under {data}/cls_tnews/; download TNEWS from "
            "https://github.com/CLUEbenchmark/CLUE (tnews_public.zip, from the CLUE dataset links)"
            ) in lines
    assert sum(line.startswith("skipped ") for line in lines) == len(PROJECT_IDS) - 1
    assert lines[-1] == "1 tasks: 1 ready, 0 with problems, 0 with missing files"
    (data / "sim_afqmc" / "dev.json").unlink()
    code, out = run_cli(["doctor", "--data-dir", str(data), "--tasks", "available"],
                        monkeypatch, capsys)
    assert code == 1
    assert out.err == (f"Error: no task has all its files under {data}; the lines above say "
                       "what each needs\n")


# --- build --tasks available, preview --data-dir ----------------------------------------------

PROJECT_IDS = sorted(p.stem for p in PROJECT.specs_dir.glob("*.yaml"))


def test_build_available_builds_the_tasks_that_are_there_and_says_what_it_skipped(
        tmp_path, monkeypatch, capsys):
    data = downloads(tmp_path, "sim_afqmc", "cls_tnews")
    (data / "cls_tnews" / "dev.json").unlink()
    out = tmp_path / "out"
    code, printed = run_cli(["build", "--data-dir", str(data), "--tasks", "available", "--out",
                             str(out)], monkeypatch, capsys)
    assert code == 0, printed.err
    lines = printed.out.splitlines()
    skipped = [line for line in lines if line.startswith("skipped ")]
    assert len(skipped) == len(PROJECT_IDS) - 1
    assert (f"skipped cls_tnews: missing dev.json under {data}/cls_tnews/; download TNEWS from "
            "https://github.com/CLUEbenchmark/CLUE (tnews_public.zip, from the CLUE dataset links)"
            ) in skipped
    assert lines[len(skipped)].startswith("built 1 tasks from downloaded raw files: ")
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert list(manifest["tasks"]) == ["sim_afqmc"]


def test_build_available_needs_a_data_dir_and_one_ready_task(tmp_path, monkeypatch, capsys):
    code, printed = run_cli(["build", "--tasks", "available", "--out", str(tmp_path / "o")],
                            monkeypatch, capsys)
    assert code == 1
    assert printed.err == ("Error: --tasks available picks the tasks whose files are under "
                           "--data-dir; give --data-dir DIR\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    code, printed = run_cli(["build", "--data-dir", str(empty), "--tasks", "available", "--out",
                             str(tmp_path / "o")], monkeypatch, capsys)
    assert code == 1
    assert printed.err == (f"Error: no task has all its files under {empty}; run `flanzh doctor "
                           f"--data-dir {empty}` to see what each needs\n")


def test_preview_renders_rows_of_the_users_files(tmp_path):
    data = downloads(tmp_path, "sim_afqmc")
    (data / "sim_afqmc" / "train.json").write_text(afqmc_rows(3), "utf-8")
    result = CliRunner().invoke(app, ["--root", str(PROJECT.root), "preview", "sim_afqmc",
                                      "--data-dir", str(data), "-n", "2"])
    assert result.exit_code == 0, result.output
    assert "花呗第0期可以提前还吗" in result.output and "花呗第1期可以提前还吗" in result.output
    sample = CliRunner().invoke(app, ["--root", str(PROJECT.root), "preview", "sim_afqmc", "-n", "2"])
    assert "花呗第0期" not in sample.output


def test_a_json_document_too_large_to_read_is_named_not_read(monkeypatch):
    from flanzh.contrib import doctor

    monkeypatch.setattr(doctor, "WHOLE_DOCUMENT_MAX", 1000)
    [report] = doctor.check(PROJECT, [load_task(PROJECT, "nli_cinlid")], SourceMode())
    assert report.status == "ready" and report.splits == {}
    assert report.notes == ["train.json: one JSON document over 1000 B; rows not checked (the "
                            "build reads it whole)"]

"""A build streams: records are rendered in batches into shard-sized parts, exact duplicates are
found by hash within and across tasks, and the per-task units run on any executor with the same
bytes out."""

import json

from hypothesis import given
from hypothesis import strategies as st

import polars as pl
import pytest
import yaml

from flanzh.build.pipeline import build
import flanzh.build.pipeline as pipeline
from test_corpus import clone_task, policy, rows_of


def shard_bytes(out):
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*.parquet"))}


@pytest.fixture
def twin_project(mini_project):
    rows = [json.loads(line) for line in (mini_project.samples_dir / "sim_afqmc" / "train.json")
            .read_text("utf-8").splitlines()]
    clone_task(mini_project, "sim_twin", rows)
    # both tasks keep two templates without options, so about half the twin's rows draw the
    # same template as sim_afqmc's and are exact duplicates, whatever the templates' wording
    for task_id in ("sim_afqmc", "sim_twin"):
        path = mini_project.templates_dir / f"{task_id}.yaml"
        document = yaml.safe_load(path.read_text("utf-8"))
        document["templates"] = [t for t in document["templates"]
                                 if t["id"] in ("sim_afqmc_02", "sim_afqmc_04")]
        path.write_text(yaml.safe_dump(document, allow_unicode=True), "utf-8")
    return mini_project


def test_small_batches_and_shards_give_the_same_records(twin_project, tmp_path, monkeypatch):
    mixture = policy(tmp_path, dedup={"exact": True, "near": {"enabled": False}},
                     formats={"weights": {"zs_opt": 1, "zs_noopt": 1}})
    whole = build(twin_project, tmp_path / "whole", mixture=mixture, use_cache=False)
    monkeypatch.setattr(pipeline, "RENDER_BATCH", 7)
    small = build(twin_project, tmp_path / "small", mixture=mixture, shard_rows=4, use_cache=False)
    for task in ("sim_afqmc", "sim_twin"):
        a, b = whole["tasks"][task], small["tasks"][task]
        assert a["rows_written"] == b["rows_written"] and a["dropped"] == b["dropped"]
        assert rows_of(tmp_path / "whole", whole, task).equals(rows_of(tmp_path / "small", small, task))
        shards = [pl.read_parquet(tmp_path / "small" / s).height for s in b["shards"]]
        assert all(0 < n <= 4 for n in shards) and sum(shards) == b["rows_written"]
    # the twin lost rows to its sibling: some of its parts were rewritten, none is empty
    assert small["tasks"]["sim_twin"]["dropped"]["duplicate"] >= 1


def test_cached_parts_are_linked_not_moved(twin_project, tmp_path):
    out = tmp_path / "out"
    first = build(twin_project, out)
    cache = tmp_path / ".out.cache" / "render"
    parts = sorted(cache.rglob("part-*.parquet"))
    assert parts
    (twin_project.templates_dir / "sim_twin.yaml").write_text(
        (twin_project.templates_dir / "sim_twin.yaml").read_text("utf-8") + "\n", "utf-8")
    second = build(twin_project, out)            # the twin re-renders; sim_afqmc comes from cache
    assert all(p.is_file() for p in parts if "sim_afqmc" in str(p))
    assert first["tasks"]["sim_afqmc"] == second["tasks"]["sim_afqmc"]


@pytest.mark.parametrize("executor", ["process", "ray"])
def test_every_executor_writes_the_same_bytes(twin_project, tmp_path, executor):
    if executor == "ray":
        pytest.importorskip("ray")
    mixture = policy(tmp_path, dedup={"exact": True, "near": {"enabled": True, "threshold": 0.85,
                                                              "ngram": 5, "num_perm": 128,
                                                              "exempt": []}})
    serial = build(twin_project, tmp_path / "serial", mixture=mixture, use_cache=False)
    other = build(twin_project, tmp_path / executor, mixture=mixture, use_cache=False,
                  executor=executor, workers=2)
    assert other == serial
    assert shard_bytes(tmp_path / executor) == shard_bytes(tmp_path / "serial")
    import flanzh.executors

    assert flanzh.executors._UNIT_POOLS == {}      # idle workers do not outlive the build's units


def test_an_unknown_executor_is_refused_before_reading(twin_project, tmp_path):
    from flanzh.errors import BuildError

    with pytest.raises(BuildError) as error:
        build(twin_project, tmp_path / "out", executor="spark")
    assert str(error.value) == "unknown executor 'spark'; choose one of: serial, process, ray"
    assert not (tmp_path / "out").exists()


@given(st.lists(st.lists(st.integers(0, 40), max_size=30), max_size=12))
def test_seen_hashes_flags_exactly_the_repeats(batches):
    import numpy as np

    from flanzh.corpus.exact_dedup import SeenHashes

    seen, plain = SeenHashes(), set()
    for batch in batches:
        flags = seen.first_seen(np.array(batch, dtype=np.uint64)).tolist()
        expected = []
        for value in batch:
            expected.append(value in plain)
            plain.add(value)
        assert flags == expected


def test_record_hashes_are_equal_exactly_for_equal_records():
    import polars as pl

    from flanzh.corpus.exact_dedup import record_hashes

    frame = pl.DataFrame({"inputs": ["问题一", "问题一", "答案甲", "问题一", "问题一", ""],
                          "targets": ["答案甲", "答案甲", "问题一", "答案乙", "", "问题一答案甲"],
                          "other": ["a", "b", "c", "d", "e", "f"]})
    hashes = record_hashes(frame).tolist()
    assert hashes[0] == hashes[1]                    # the same record (other columns ignored)
    assert len(set(hashes[1:])) == 5                 # swapped, another target, split elsewhere


def _hash_batches():
    """Batches of random 64-bit hashes with repeats within and across batches, enough to grow a
    SeenHashes table several times over (with hashes equal in their low bits, which must not pile
    up in a slot, and 0); the same batches on every call."""
    import numpy as np

    generator = np.random.default_rng(5)
    pool = np.concatenate([generator.integers(0, 2**64 - 1, 60_000, dtype=np.uint64),
                           np.arange(1, 5_001, dtype=np.uint64) << np.uint64(40),
                           np.array([0], dtype=np.uint64)])
    for size in [1, 7, 5_000, 20_000, 30_000, 40_000]:
        yield generator.choice(pool, size)


def test_seen_hashes_as_it_grows_agrees_with_a_set():
    from flanzh.corpus.exact_dedup import SeenHashes

    seen, plain = SeenHashes(), set()
    for batch in _hash_batches():
        flags = seen.first_seen(batch).tolist()
        expected = []
        for value in batch.tolist():
            expected.append(value in plain)
            plain.add(value)
        assert flags == expected
    assert len(seen) == len(plain)
    assert len(seen.table) > 1 << 12
    # sized for what is expected at once, it flags the same
    sized, again = SeenHashes(expected=len(plain)), SeenHashes()
    for batch in _hash_batches():
        assert sized.first_seen(batch).tolist() == again.first_seen(batch).tolist()
    assert len(sized.table) == len(again.table)


@given(st.lists(st.sets(st.integers(0, 60), max_size=30), max_size=12))
def test_seen_in_earlier_flags_exactly_what_an_earlier_group_holds(groups):
    import numpy as np

    from flanzh.corpus.exact_dedup import seen_in_earlier

    arrays = [np.array(sorted(g, reverse=True), dtype=np.uint64) for g in groups]
    flags = seen_in_earlier(arrays)
    assert len(flags) == len(groups)
    earlier: set = set()
    for array, flag in zip(arrays, flags):
        assert flag.tolist() == [int(v) in earlier for v in array]
        earlier |= {int(v) for v in array}


@pytest.mark.parametrize("inputs_max_chars", [None, 160])
def test_refit_records_do_not_depend_on_how_the_plan_is_cut_into_batches(mini_project, tmp_path,
                                                                          monkeypatch,
                                                                          inputs_max_chars):
    # rows repeated to fill a quota, drawn into wordy templates in several formats: each record
    # too long for its template is refit on its own and takes the place of the one it replaces,
    # so one batch or batches of 7 give the same records in the same order
    path = mini_project.templates_dir / "sim_afqmc.yaml"
    document = yaml.safe_load(path.read_text("utf-8"))
    for template in document["templates"][:4]:
        template["target"] = "{{ label }}" + "（" + "很" * 60 + "）"
        template["target_in_choices"] = False
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), "utf-8")
    spec_path = mini_project.specs_dir / "sim_afqmc.yaml"
    spec = yaml.safe_load(spec_path.read_text("utf-8"))
    spec["limits"] = {**spec.get("limits", {}), "targets_max_chars": 40}
    if inputs_max_chars:      # few-shot records whose exemplars do not fit come back zero-shot
        spec["limits"]["inputs_max_chars"] = inputs_max_chars
    spec_path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), "utf-8")
    mixture = policy(tmp_path, total=150, max_repeat=6,
                     formats={"weights": {"zs_opt": 1, "zs_noopt": 1, "fs_opt": 1, "fs_noopt": 1},
                              "max_exemplars": 2, "exemplar_pool": 0.2})
    whole = build(mini_project, tmp_path / "whole", task_ids=["sim_afqmc"], mixture=mixture,
                  use_cache=False)
    monkeypatch.setattr(pipeline, "RENDER_BATCH", 7)
    small = build(mini_project, tmp_path / "small", task_ids=["sim_afqmc"], mixture=mixture,
                  use_cache=False)
    a, b = whole["tasks"]["sim_afqmc"], small["tasks"]["sim_afqmc"]
    assert a["rows_repeated"] > 0 and a["dropped"] == b["dropped"]
    assert rows_of(tmp_path / "whole", whole, "sim_afqmc").equals(
        rows_of(tmp_path / "small", small, "sim_afqmc"))
    # and the same bytes: a row group is written from one chunk, however the batches were cut
    assert shard_bytes(tmp_path / "whole") == shard_bytes(tmp_path / "small")


def test_a_parts_bytes_do_not_depend_on_how_its_records_were_chunked(tmp_path):
    # parquet's dictionary fallback follows the arrow chunks it is fed: 60k distinct texts in
    # two chunks gave other bytes than in one, before each row group was written from one chunk
    from flanzh.build.writer import write_records

    texts = [f"第{i}条记录的输入文字，内容各不相同，编号{i * 7919 % 100003}" for i in range(60000)]
    chunked = pl.concat([pl.DataFrame({"inputs": texts[:17000]}),
                         pl.DataFrame({"inputs": texts[17000:]})], rechunk=False)
    assert chunked.n_chunks() == 2
    write_records(chunked, tmp_path / "chunked.parquet")
    write_records(chunked.rechunk(), tmp_path / "whole.parquet")
    assert (tmp_path / "chunked.parquet").read_bytes() == (tmp_path / "whole.parquet").read_bytes()


def test_only_the_record_columns_of_few_values_are_dictionary_encoded(tmp_path):
    """Arrow tries a dictionary on every column unless told; on the ids and texts it gives up
    after a page, which cost time and size. The columns named for it are record columns."""
    import pyarrow.parquet as pq

    from flanzh.build.writer import DICTIONARY_COLUMNS, write_records
    from flanzh.render.records import RECORD_SCHEMA

    assert set(DICTIONARY_COLUMNS) < set(RECORD_SCHEMA)
    n = 3000
    records = pl.DataFrame({
        "id": [f"{i:032x}" for i in range(n)], "task": "sim_afqmc", "category": "相似度",
        "source": "afqmc", "template_id": [f"sim_afqmc_{i % 12:02d}" for i in range(n)],
        "format": "zs_opt", "exemplars": [i % 4 for i in range(n)],
        "inputs": [f"第{i}个问题的输入" for i in range(n)], "targets": ["是", "否"] * (n // 2),
        "source_split": "train", "source_key": [str(i) for i in range(n)], "license": "apache-2.0",
        "commercial_use": True}, schema=RECORD_SCHEMA)
    write_records(records, tmp_path / "records.parquet")
    meta = pq.ParquetFile(tmp_path / "records.parquet").metadata.row_group(0)
    encoded = {meta.column(j).path_in_schema for j in range(meta.num_columns)
               if "RLE_DICTIONARY" in meta.column(j).encodings}
    assert encoded == set(DICTIONARY_COLUMNS)
    assert pl.read_parquet(tmp_path / "records.parquet").equals(records)


def test_seen_in_earlier_over_hashes_of_every_partition():
    # real hashes spread over all 16 partitions (top bits); repeats across groups in each
    import numpy as np

    from flanzh.corpus.exact_dedup import seen_in_earlier

    rng = np.random.default_rng(7)
    pool = rng.integers(0, 2**64 - 1, 5000, dtype=np.uint64, endpoint=True)
    groups = [np.unique(rng.choice(pool, size=rng.integers(0, 800))) for _ in range(9)]
    assert len({int(v) >> 60 for g in groups for v in g}) == 16
    earlier: set = set()
    for group, flag in zip(groups, seen_in_earlier(groups)):
        assert flag.tolist() == [int(v) in earlier for v in group]
        earlier |= {int(v) for v in group}


def test_a_failed_process_build_leaves_no_workers_behind(twin_project, tmp_path):
    import flanzh.executors
    from flanzh.errors import SourceError

    # an extra evaluation file that is not there: the build fails after its pool has started
    mixture = policy(tmp_path, decontamination={"enabled": True, "ngram": 13,
                                                "extra": [str(tmp_path / "missing.jsonl")]})
    with pytest.raises(SourceError, match="no such evaluation file"):
        build(twin_project, tmp_path / "out", mixture=mixture, use_cache=False,
              executor="process", workers=2)
    assert flanzh.executors._UNIT_POOLS == {}
    assert not (tmp_path / "out").exists()

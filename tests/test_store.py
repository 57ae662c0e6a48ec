"""Tests of flag3d.data.store: round trips, crash safety, locking, errors, validation."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Iterator, List

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flag3d.data import Store
from flag3d.data import store as store_mod
from flag3d.errors import StoreError
from flag3d.skeleton import Sequence


def walk(k: int, t: int = 40, layout: str = "flag3d24", v: int = 24, c: int = 3, **meta) -> Sequence:
    """A deterministic random-walk sequence whose values encode ``k``."""
    rng = np.random.default_rng(k)
    joints = np.cumsum(rng.normal(0, 0.01, (t, v, c)), axis=0).astype(np.float32) + k
    m = {"id": f"q{k:04d}", "activity": f"A{k % 3 + 1:03d}", "subject": f"P{k % 4:02d}",
         "source": "test", "synthetic": True}
    m.update(meta)
    return Sequence(joints, layout, fps=30, meta=m)


def make(tmp_path: Path, n: int = 6, **kw) -> Store:
    st = Store.create(tmp_path / "st")
    assert st.append((walk(k) for k in range(n)), **kw) == n
    return st


# ------------------------------------------------------------------ round trips
def test_round_trip_all_fields(tmp_path):
    rng = np.random.default_rng(1)
    two_d = Sequence(
        rng.uniform(0, 500, (2, 15, 17, 2)), "coco17", fps=25,
        confidence=rng.uniform(0, 1, (2, 15, 17)), times=np.arange(15) * 0.04 + 3.0,
        meta={"id": "pair", "label": 41, "split": "train", "units": "px", "img_shape": [480, 640],
              "view": "front", "domain": "real", "repetitions": [(0, 7), (7, 15)],
              "quality": [[1, 0, 1], [0, 0, 1]], "score": 6.5, "correct": False,
              "nested": {"a": [1, 2.5, None, "x"], "b": {"c": True}}},
    )
    one_person_axis = Sequence(rng.normal(size=(1, 9, 25, 3)), "ntu25", fps=30, meta={"id": "m1"})
    three_d = walk(3, repetitions=[[0, 20], [20, 40]], seed=np.int64(12), weights=np.array([0.5, 1.0]))
    st = Store.create(tmp_path / "st")
    assert st.append([two_d, one_person_axis, three_d]) == 3
    st = Store.open(tmp_path / "st")  # from disk, not from the writer's memory
    got = st.get("pair")
    np.testing.assert_array_equal(got.joints, two_d.joints)
    np.testing.assert_array_equal(got.confidence, two_d.confidence)
    np.testing.assert_array_equal(got.times, two_d.times)
    assert got.joints.shape == (2, 15, 17, 2) and got.layout == "coco17" and got.fps == 25
    assert got.meta == {**two_d.meta, "repetitions": [[0, 7], [7, 15]]}
    assert got.path == f"{tmp_path / 'st'}#pair"
    m1 = st[1]
    assert m1.joints.shape == (1, 9, 25, 3) and m1.has_persons and m1.confidence is None
    assert m1.times is None and m1.meta == {"id": "m1"}
    q = st["q0003"]
    np.testing.assert_array_equal(q.joints, three_d.joints)
    assert q.meta["seed"] == 12 and q.meta["weights"] == [0.5, 1.0]
    assert q.meta["repetitions"] == [[0, 20], [20, 40]]
    assert q.joints.flags.writeable  # a fresh array, not a view of a read-only buffer
    row = st.manifest.set_index("id").loc["pair"]
    assert (row["label"], row["split"], row["layout"], row["dims"], row["frames"], row["persons"]) == \
        (41, "train", "coco17", 2, 15, 2)
    assert list(row["rep_start"]) == [0, 7] and list(row["rep_end"]) == [7, 15]
    assert [list(r) for r in row["quality"]] == [[1, 0, 1], [0, 0, 1]]


def test_values_that_do_not_fit_their_column_round_trip_exactly(tmp_path):
    odd = {"id": "odd", "subject": 3, "score": 7, "label": "jump", "quality": [[0.5, 1.0]],
           "view": 2, "split": None, "synthetic": "yes", "repetitions": [[0, 5, 9]]}
    st = Store.create(tmp_path / "st")
    st.append([Sequence(np.zeros((10, 17, 2)), "coco17", meta=dict(odd))])
    st = Store.open(tmp_path / "st")
    assert st[0].meta == odd
    assert type(st[0].meta["score"]) is int and st[0].meta["subject"] == 3
    row = st.table.to_pylist()[0]
    assert row["subject"] == "3" and row["score"] == 7.0 and row["view"] == "2"  # for queries
    assert row["label"] is None and row["quality"] is None and row["rep_start"] is None
    assert list(st.select(subject="3")) == [0]


def test_missing_ids_are_generated_and_kept(tmp_path):
    st = Store.create(tmp_path / "st")
    seqs = [Sequence(np.zeros((4, 17, 2)), "coco17", meta={"activity": "A001"}) for _ in range(3)]
    st.append(seqs, id_prefix="clip")
    assert st.ids == ["clip0000000", "clip0000001", "clip0000002"]
    assert st[2].meta == {"id": "clip0000002", "activity": "A001"}


def test_iteration_order_filters_and_indexing(tmp_path):
    st = make(tmp_path, 8)
    assert [s.meta["id"] for s in st] == [f"q{k:04d}" for k in range(8)]
    assert [s.meta["id"] for s in st.iter([5, 1, -1])] == ["q0005", "q0001", "q0007"]
    assert [s.meta["id"] for s in st.iter(activity="A002")] == ["q0001", "q0004", "q0007"]
    assert [s.meta["id"] for s in st.iter([7, 4, 0], activity=["A002", "A001"])] == \
        ["q0007", "q0004", "q0000"]
    assert list(st.select(subject="P01", activity="A002")) == [1]
    assert list(st.select(split=None)) == list(range(8))  # None filters nothing
    np.testing.assert_array_equal(st[-1].joints, walk(7).joints)
    assert "q0003" in st and "nope" not in st
    with pytest.raises(StoreError, match=r"row 8 is out of range \(the store has 8 sequences\)"):
        st[8]
    with pytest.raises(StoreError, match="cannot select by 'colour'"):
        st.select(colour="red")
    with pytest.raises(StoreError, match="cannot select label = 'x': column label holds int32 values"):
        st.select(label="x")
    assert list(st.select(synthetic=True, frames=[40])) == list(range(8))


def test_append_more_later_and_refresh(tmp_path):
    st = make(tmp_path, 3)
    reader = Store.open(st.path)
    st.append([walk(10), walk(11)])
    assert len(st) == 5 and len(reader) == 3
    reader.refresh()
    assert reader.ids[-2:] == ["q0010", "q0011"]
    np.testing.assert_array_equal(reader.get("q0011").joints, walk(11).joints)


def test_pickled_store_reopens(tmp_path):
    st = make(tmp_path, 2)
    again = pickle.loads(pickle.dumps(st))  # safe: our own bytes
    assert len(again) == 2 and again[1].meta["id"] == "q0001"


def test_summary_counts(tmp_path):
    st = make(tmp_path, 6)
    st.append([Sequence(np.zeros((10, 17, 2)), "coco17", fps=10, meta={"id": "real"})])
    s = st.summary()
    assert s["rows"] == 7 and s["frames"] == 6 * 40 + 10
    assert s["hours"] == pytest.approx((6 * 40 / 30 + 1.0) / 3600)
    assert s["synthetic"] == 6
    assert s["layouts"] == {"coco17-c2": 1, "flag3d24-c3": 6}
    assert s["activity"] == {"(none)": 1, "A001": 2, "A002": 2, "A003": 2}
    assert s["source"] == {"(none)": 1, "test": 6}


def test_array_files_are_flat_float32_groups(tmp_path):
    st = make(tmp_path, 3)
    raw = np.fromfile(st.path / "arrays" / "flag3d24-c3.f32", np.float32)
    assert raw.size == 3 * 40 * 24 * 3
    np.testing.assert_array_equal(raw[40 * 72:80 * 72].reshape(40, 24, 3), walk(1).joints)
    assert st.table.column("offset").to_pylist() == [0, 40, 80]
    assert json.loads((st.path / "store.json").read_text())["format"] == "flag3d-store"


# ------------------------------------------------------------------ bad input
def test_duplicate_ids(tmp_path):
    st = make(tmp_path, 2)
    with pytest.raises(StoreError, match=r"duplicate id 'q0001' \(already in the store\)"):
        st.append([walk(5), walk(1)])
    assert st.ids == ["q0000", "q0001"]  # q0005 was in the chunk that failed
    assert st.append([walk(5), walk(1)], on_duplicate="skip") == 1
    assert Store.open(st.path).ids == ["q0000", "q0001", "q0005"]


def test_layout_requirement_and_bad_annotations(tmp_path):
    st = Store.create(tmp_path / "st")
    with pytest.raises(StoreError, match="sequence 'c' has layout coco17, but layout flag3d24 was required"):
        st.append([Sequence(np.zeros((5, 17, 2)), "coco17", meta={"id": "c"})], layout="flag3d24")
    with pytest.raises(StoreError, match=r"repetition 1 \[30, 45\] ends after the last frame \(40 frames\)"):
        st.append([walk(0, repetitions=[[0, 30], [30, 45]])])
    with pytest.raises(StoreError, match="quality has 1 rows for 2 repetitions"):
        st.append([walk(0, repetitions=[[0, 20], [20, 40]], quality=[[1, 1, 1]])])
    with pytest.raises(StoreError, match=r"meta\['bad'\] holds a value of type object"):
        st.append([walk(0, bad=object())])
    with pytest.raises(StoreError, match="can only store Sequence objects, got ndarray"):
        st.append([np.zeros((5, 24, 3))])
    assert len(Store.open(st.path)) == 0


def test_open_and_create_errors(tmp_path):
    with pytest.raises(StoreError, match=r"nowhere: no such store"):
        Store.open(tmp_path / "nowhere")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "x.txt").write_text("hello")
    with pytest.raises(StoreError, match=r"plain: not a flag3d store \(no store.json\)"):
        Store.open(tmp_path / "plain")
    with pytest.raises(StoreError, match="folder is not empty and is not a flag3d store"):
        Store.create(tmp_path / "plain", overwrite=True)
    assert (tmp_path / "plain" / "x.txt").exists()
    st = make(tmp_path, 2)
    with pytest.raises(StoreError, match="a store already exists here"):
        Store.create(st.path)
    assert len(Store.create(st.path, overwrite=True)) == 0
    (st.path / "manifest.parquet").write_bytes(b"garbage")
    with pytest.raises(StoreError, match="manifest.parquet is unreadable"):
        Store.open(st.path)
    with pytest.raises(StoreError, match=r"no sequence with id 'zzz'"):
        make(tmp_path / "b", 1).get("zzz")


def test_truncated_array_file(tmp_path):
    st = make(tmp_path, 3)
    path = st.path / "arrays" / "flag3d24-c3.f32"
    os.truncate(path, path.stat().st_size - 100)
    st = Store.open(st.path)
    assert st[1].meta["id"] == "q0001"  # rows before the cut still read
    with pytest.raises(StoreError, match=r"st: array file arrays/flag3d24-c3.f32 is truncated: sequence 'q0002'"):
        st[2]
    report = st.validate()
    assert not report.ok and report.num_problems == 1
    assert "row 2 (id 'q0002'): array file arrays/flag3d24-c3.f32 is truncated" in report.problems[0]
    with pytest.raises(StoreError, match="is truncated .* run 'flag3d data validate'"):
        st.append([walk(9)])


def _edit_manifest(st: Store, column: str, values: list) -> Store:
    t = st.table
    t = t.set_column(t.schema.get_field_index(column), t.schema.field(column),
                     pa.array(values, type=t.schema.field(column).type))
    pq.write_table(t, st.path / "manifest.parquet")
    return Store.open(st.path)


def test_layout_mismatching_its_group_is_refused(tmp_path):
    st = make(tmp_path, 2)
    st = _edit_manifest(st, "array", ["flag3d24-c3", "coco17-c2"])
    with pytest.raises(StoreError, match="sequence 'q0001' has layout flag3d24 with C=3 but sits in array group coco17-c2"):
        st[1]
    assert any("does not match its array group coco17-c2" in p for p in st.validate().problems)


# ---------------------------------------------------------------- validation
def test_validate_clean_and_corrupt(tmp_path):
    st = make(tmp_path, 4, chunk_size=3)
    rep = st.validate()
    assert rep.ok and rep.frames == 4 * 40 and rep.summary().startswith("store is valid: 4 sequences")
    # NaN written into sequence 2, frame 5
    with open(st.path / "arrays" / "flag3d24-c3.f32", "r+b") as f:
        f.seek((2 * 40 + 5) * 72 * 4 + 8)
        f.write(np.float32(np.nan).tobytes())
    rep = st.validate()
    assert rep.num_problems == 1
    assert rep.problems[0] == "row 2 (id 'q0002'): joints contain NaN or inf (frame row 5 of the sequence)"
    with pytest.raises(StoreError, match=r"st#q0002: joints contain NaN in 1 of 40 frames"):
        st[2]
    assert st.validate(values=False).ok
    st = _edit_manifest(st, "id", ["a", "b", "a", "c"])
    st = _edit_manifest(st, "rep_start", [None, [0], None, None])
    st = _edit_manifest(st, "rep_end", [None, [50], None, None])
    problems = st.validate(values=False).problems
    assert "row 2 (id 'a'): repeats the id of row 0" in problems
    assert "row 1 (id 'b'): repetition 0 [0, 50] ends after the last frame (40 frames)" in problems


def test_validate_finds_overlapping_rows(tmp_path):
    st = make(tmp_path, 3)
    st = _edit_manifest(st, "offset", [0, 30, 80])
    assert "row 1 (id 'q0001'): shares bytes of arrays/flag3d24-c3.f32 with another row" in \
        st.validate(values=False).problems


# --------------------------------------------------------------- crash safety
def failing(n_ok: int) -> Iterator[Sequence]:
    for k in range(n_ok):
        yield walk(100 + k)
    raise RuntimeError("reader died")


def test_failure_mid_append_keeps_committed_chunks(tmp_path):
    st = make(tmp_path, 3)
    with pytest.raises(RuntimeError, match="reader died"):
        st.append(failing(5), chunk_size=2)
    again = Store.open(st.path)
    # chunks [100, 101] and [102, 103] were committed; 104 was in the unfinished chunk
    assert again.ids == ["q0000", "q0001", "q0002", "q0100", "q0101", "q0102", "q0103"]
    assert len(st) == 7  # the writer's own view matches the disk
    np.testing.assert_array_equal(again.get("q0103").joints, walk(103).joints)
    arr = st.path / "arrays" / "flag3d24-c3.f32"
    assert arr.stat().st_size == 8 * 40 * 72 * 4  # q0104's bytes are there, unreferenced
    rep = again.validate()
    assert rep.ok and "11520 bytes past the last committed row" in rep.notes[0]
    again.append([walk(200)])  # reclaims the garbage before writing
    assert arr.stat().st_size == 8 * 40 * 72 * 4
    assert again.table.column("offset").to_pylist()[-1] == 7 * 40
    np.testing.assert_array_equal(Store.open(st.path).get("q0200").joints, walk(200).joints)
    assert Store.open(st.path).validate().ok


def test_failure_with_single_commit_is_all_or_nothing(tmp_path):
    st = make(tmp_path, 2)
    with pytest.raises(RuntimeError):
        st.append(failing(5), chunk_size=None)
    assert Store.open(st.path).ids == ["q0000", "q0001"]


def test_failure_while_writing_the_manifest_keeps_the_old_one(tmp_path, monkeypatch):
    st = make(tmp_path, 2)

    def broken(table, where, **kw):
        Path(where).write_bytes(b"half a parquet file")
        raise OSError("disk full")

    monkeypatch.setattr(store_mod.pq, "write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        st.append([walk(7)])
    monkeypatch.undo()
    assert Store.open(st.path).ids == ["q0000", "q0001"]
    assert sorted(p.name for p in st.path.iterdir()) == [".lock", "arrays", "manifest.parquet", "store.json"]


_KILL_SCRIPT = """
import os, sys, numpy as np
from flag3d.data import Store
from flag3d.skeleton import Sequence
st = Store.open(sys.argv[1])
def gen():
    for k in range(7):
        yield Sequence(np.full((40, 24, 3), k, np.float32), "flag3d24", meta={"id": f"k{k}"})
    os._exit(9)  # killed: no exception handler, no cleanup
st.append(gen(), chunk_size=3)
"""


def test_killed_writer_loses_only_its_unfinished_chunk(tmp_path):
    st = make(tmp_path, 1)
    proc = subprocess.run([sys.executable, "-c", _KILL_SCRIPT, str(st.path)], capture_output=True)
    assert proc.returncode == 9, proc.stderr.decode()
    again = Store.open(st.path)
    assert again.ids == ["q0000", "k0", "k1", "k2", "k3", "k4", "k5"]
    assert again.get("k5").joints[0, 0, 0] == 5
    again.append([walk(50)])  # the dead writer's lock is gone with it
    assert len(Store.open(st.path)) == 8


# -------------------------------------------------------------------- locking
def test_second_writer_is_refused(tmp_path):
    st = make(tmp_path, 1)
    other = Store.open(st.path)
    seen: List[str] = []

    def gen():
        yield walk(20)
        with pytest.raises(StoreError, match=r"another writer holds the store lock \(pid \d+ on "):
            other.append([walk(21)])
        with pytest.raises(StoreError, match="another writer holds the store lock"):
            other.set_split(["train"] * len(other))
        seen.append("checked")
        yield walk(22)

    assert st.append(gen()) == 2
    assert seen == ["checked"]
    assert other.append([walk(21)]) == 1  # free again
    assert Store.open(st.path).ids == ["q0000", "q0020", "q0022", "q0021"]


# -------------------------------------------------------------------- splits
def test_set_split_atomic_and_mapping(tmp_path):
    st = make(tmp_path, 4)
    st.append([walk(9, split=None)])  # a verbatim null split in meta_json
    st.set_split(["train", "train", "test", None, "val"])
    again = Store.open(st.path)
    assert again.table.column("split").to_pylist() == ["train", "train", "test", None, "val"]
    assert again.get("q0009").meta["split"] == "val"  # the column now wins
    assert "split" not in again.get("q0003").meta
    again.set_split({"q0003": "test"})
    assert list(Store.open(st.path).select(split="test")) == [2, 3]
    with pytest.raises(StoreError, match="got 2 split names for 5 sequences"):
        again.set_split(["train", "test"])
    with pytest.raises(StoreError, match="no sequence with id 'nope'"):
        again.set_split({"nope": "test"})
    with pytest.raises(StoreError, match="split names must be strings, got 3"):
        again.set_split({"q0000": 3})


# -------------------------------------------------------------------- memory
def test_iteration_memory_is_bounded(tmp_path):
    st = Store.create(tmp_path / "st")
    block = np.zeros((100, 24, 3), np.float32)  # 28.8 kB per sequence, 8.6 MB in all
    st.append(Sequence(block + k, "flag3d24", meta={"id": f"m{k}"}) for k in range(300))
    st = Store.open(st.path)
    tracemalloc.start()
    total = 0.0
    for seq in st:
        total += float(seq.joints[0, 0, 0])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert total == sum(range(300))
    assert peak < 1_000_000, peak  # a few sequences at a time, never the corpus

"""Tests of flag3d.data.splits: explicit, random and protocol splits, and writing them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from flag3d.data import Store
from flag3d.data.splits import (
    PROTOCOLS, SplitError, protocol_split, split_by_activity, split_by_subject,
)
from flag3d.errors import StoreError
from flag3d.skeleton import Sequence

ACTIVITIES = [f"A{k:03d}" for k in range(1, 61)]


def test_explicit_lists_give_known_assignment():
    subjects = ["s01", "s02", "s08", "s03", "s09", "s08"]
    got = split_by_subject(subjects, train=["s01", "s02", "s03"], test=["s08", "s09"])
    assert list(got) == ["train", "train", "test", "train", "test", "test"]
    # one list alone: the rest is the other split; comma-separated names are accepted
    assert list(split_by_subject(subjects, test="s08,s09")) == list(got)
    assert list(split_by_subject(subjects, train=["s01,s02", "s03"])) == list(got)


def test_bad_lists_are_refused():
    subjects = ["s01", "s02", "s03"]
    with pytest.raises(SplitError, match="subject s02 listed for both train and test"):
        split_by_subject(subjects, train=["s01", "s02"], test=["s02", "s03"])
    with pytest.raises(SplitError, match=r"none of the test subjects \(S1\) appear in the manifest \(subjects: s01, s02, s03\)"):
        split_by_subject(subjects, test=["S1"])
    with pytest.raises(SplitError, match="subjects s03 are in neither the train nor the test list"):
        split_by_subject(subjects, train=["s01"], test=["s02"])
    with pytest.raises(SplitError, match="1 of 3 rows have no subject; cannot split by subject"):
        split_by_subject(["s01", None, "s02"], test=["s02"])
    with pytest.raises(SplitError, match="only one subject"):
        split_by_subject(["s01", "s01"])
    with pytest.raises(SplitError, match="test fraction must be between 0 and 1"):
        split_by_subject(subjects, test_fraction=1.5)
    assert issubclass(SplitError, StoreError)


def test_random_activity_split_is_seeded_and_pinned():
    got = split_by_activity(ACTIVITIES, seed=0)  # default: FLAG3D++ 50 train : 10 test
    test = sorted(a for a, s in zip(ACTIVITIES, got) if s == "test")
    assert test == ["A005", "A009", "A017", "A021", "A028", "A035", "A043", "A052", "A053", "A058"]
    assert list(split_by_activity(ACTIVITIES, seed=0)) == list(got)
    other = split_by_activity(ACTIVITIES, seed=1)
    assert (other == "test").sum() == 10 and list(other) != list(got)
    assert (split_by_activity(ACTIVITIES, n_test=12, seed=3) == "test").sum() == 12


def test_random_split_keeps_groups_whole():
    rng = np.random.default_rng(0)
    rows = [f"P{k:02d}" for k in rng.integers(0, 10, 500)]
    got = split_by_subject(rows, test_fraction=0.3, seed=4)
    by_subject = {}
    for s, split in zip(rows, got):
        by_subject.setdefault(s, set()).add(split)
    assert all(len(v) == 1 for v in by_subject.values())
    assert sum(v == {"test"} for v in by_subject.values()) == 3
    subjects = [f"P{k:02d}" for k in range(1, 11)]
    test = sorted(s for s, x in zip(subjects, split_by_subject(subjects, seed=0)) if x == "test")
    assert test == ["P03", "P05", "P07"]


def test_protocols():
    uiprmd = [f"s{k:02d}" for k in range(1, 11)] * 2
    got = protocol_split("uiprmd", uiprmd)
    assert [s for s, x in zip(uiprmd[:10], got[:10]) if x == "test"] == ["s08", "s09", "s10"]
    flag3d = [f"P{k:03d}" for k in (4, 1, 10, 7, 2, 3, 9, 8, 5, 6)]
    got = protocol_split("flag3d", flag3d)
    assert sorted(s for s, x in zip(flag3d, got) if x == "test") == ["P008", "P009", "P010"]
    with pytest.raises(SplitError, match=r"protocol flag3d expects 10 subjects, the manifest has 9"):
        protocol_split("flag3d", flag3d[:9])
    counting = protocol_split("flag3d-counting", ACTIVITIES)
    assert (counting == "test").sum() == 10 and list(counting) == list(split_by_activity(ACTIVITIES, seed=0))
    quality = protocol_split("flag3d-quality", [f"P{k:02d}" for k in range(1, 11)])
    assert (quality == "test").sum() == 2
    with pytest.raises(SplitError, match="unknown protocol 'ntu'; known: flag3d, flag3d-quality"):
        protocol_split("ntu", ACTIVITIES)
    assert set(PROTOCOLS) == {"flag3d", "flag3d-quality", "flag3d-counting", "uiprmd"}


def test_manifest_inputs_and_store_round_trip(tmp_path):
    st = Store.create(tmp_path / "st")
    st.append(
        Sequence(np.zeros((5, 22, 3)), "uiprmd22",
                 meta={"id": f"m01_s{s:02d}_e{e:02d}", "subject": f"s{s:02d}", "activity": "m01"})
        for s in range(1, 11) for e in range(1, 3)
    )
    frame = pd.DataFrame({"subject": st.table.column("subject").to_pylist()})
    table = pa.table({"subject": st.table.column("subject")})
    expected = protocol_split("uiprmd", st)
    assert list(protocol_split("uiprmd", frame)) == list(expected)
    assert list(protocol_split("uiprmd", table)) == list(expected)
    with pytest.raises(SplitError, match="the manifest has no column 'subject'"):
        split_by_subject(pd.DataFrame({"x": [1]}))
    st.set_split(expected)
    again = Store.open(st.path)
    test_ids = [again.ids[i] for i in again.select(split="test")]
    assert test_ids == [f"m01_s{s:02d}_e{e:02d}" for s in (8, 9, 10) for e in (1, 2)]
    assert again.get("m01_s08_e02").meta["split"] == "test"

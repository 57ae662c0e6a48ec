"""Tests for flag3d.io.repcount: the RepCount-A annotation CSV reader."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import shared_path

from flag3d.errors import FormatError
from flag3d.io.repcount import RepCountItem, normalize_class, read_repcount_csv

HEADER = ",Unnamed: 0,type,name,count," + ",".join(f"L{i}" for i in range(1, 9)) + "\n"


def _csv(tmp_path: Path, body: str, name: str = "new_valid.csv") -> Path:
    p = tmp_path / name
    p.write_text(HEADER + body)
    return p


@pytest.mark.parametrize("raw,canonical", [
    ("squant", "squat"), ("squat", "squat"), ("jumpjacks", "jump_jack"),
    ("jump_jack", "jump_jack"), ("pullups", "pull_up"), ("pull_up", "pull_up"),
    ("pushups", "push_up"), ("push_up", "push_up"), ("frontraise", "front_raise"),
    ("front_raise", "front_raise"), ("benchpressing", "bench_pressing"),
    ("bench_pressing", "bench_pressing"), ("battle_rope", "battle_rope"),
    ("pommelhorse", "pommel_horse"), ("situp", "sit_up"), ("others", "others"),
    ("Push Ups", "push_up"), ("Rowing Machine", "rowing_machine"),
])
def test_normalize_class(raw: str, canonical: str) -> None:
    assert normalize_class(raw) == canonical


def test_read_small_file(tmp_path: Path) -> None:
    p = _csv(tmp_path, "0,7,frontraise,a.mp4,2,3,38,38.0,109.0,,,,\n"
                       "1,9,pullups,b.mp4,3,0,10,10.0,20.0,,,,\n")
    a, b = read_repcount_csv(p)
    assert a == RepCountItem(file="new_valid.csv", split="val", index=0, video="a.mp4",
                             raw_type="frontraise", action="front_raise", count=2,
                             boundaries=[(3, 38), (38, 109)])
    assert a.consistent and not b.consistent and b.count == 3 and len(b.boundaries) == 2


@pytest.mark.parametrize("body,message", [
    ("0,0,squat,a.mp4,2,3,38,38.0,,,,,\n", r"row 1 \(a\.mp4\): 3 boundary frames, expected"),
    ("0,0,squat,a.mp4,1,3,,38.0,40,,,,\n", r"row 1 \(a\.mp4\): a gap among the L columns"),
    ("0,0,squat,a.mp4,1,30,20,,,,,,\n", r"row 1 \(a\.mp4\): repetition 1 ends before it starts"),
    ("0,0,squat,a.mp4,1,3.5,20,,,,,,\n", r"row 1: L1 = '3\.5' is not a frame index"),
    ("0,0,squat,a.mp4,,3,20,,,,,,\n", r"row 1: count = '' is not a number"),
])
def test_bad_rows(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(FormatError, match=r"new_valid\.csv: " + message):
        read_repcount_csv(_csv(tmp_path, body))


def test_unreadable_files(tmp_path: Path) -> None:
    p = tmp_path / "garbage.csv"
    p.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(FormatError, match=r"garbage\.csv: not a text CSV file"):
        read_repcount_csv(p)
    p = tmp_path / "nocount.csv"
    p.write_text(",Unnamed: 0,type,name,L1,L2\n0,0,squat,a.mp4,1,2\n")
    with pytest.raises(FormatError, match=r"nocount\.csv: not a RepCount-A CSV: no column count"):
        read_repcount_csv(p)
    p = tmp_path / "empty.csv"
    p.write_text("")
    with pytest.raises(FormatError, match=r"empty\.csv: empty file$"):
        read_repcount_csv(p)


# ------------------------------------------------------------------ real data
@pytest.mark.realdata
@pytest.mark.parametrize("name,rows,split", [
    ("new_train.csv", 646, "train"), ("new_valid.csv", 128, "val"), ("new_test.csv", 250, "test"),
])
def test_real_row_counts(name: str, rows: int, split: str) -> None:
    items = read_repcount_csv(shared_path("repcount-a", name))
    assert len(items) == rows and {it.split for it in items} == {split}


@pytest.mark.realdata
def test_real_classes_rows_and_consistency() -> None:
    items = [it for name in ("new_train.csv", "new_valid.csv", "new_test.csv")
             for it in read_repcount_csv(shared_path("repcount-a", name))]
    assert {it.action for it in items} == {
        "squat", "jump_jack", "pull_up", "push_up", "front_raise", "bench_pressing",
        "battle_rope", "pommel_horse", "sit_up", "others"}
    by_video = {it.video: it for it in items}
    known = by_video["test1463.mp4"]
    assert (known.raw_type, known.action, known.count, known.file) == (
        "pullups", "pull_up", 7, "new_train.csv")
    assert known.boundaries[0] == (21, 60) and known.boundaries[-1] == (246, 279)
    bad = [(it.file, it.video, it.count, len(it.boundaries)) for it in items if not it.consistent]
    assert bad == [("new_test.csv", "test118.mp4", 6, 5)]
    assert sum(it.count for it in items if it.split == "val") == sum(
        len(it.boundaries) for it in items if it.split == "val")

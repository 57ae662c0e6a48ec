"""Tests for flag3d.io.flag3d_rac: FLAG3D++ counting folders and single .npy arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from flag3d.errors import FormatError, LayoutError, SequenceError
from flag3d.io import detect_format, iter_sequences, read_sequence, write_sequences
from flag3d.io.flag3d_rac import load_npy, read_flag3d_rac, write_flag3d_rac
from flag3d.skeleton import Sequence


def _released(root: Path) -> Path:
    """A folder laid out like the release: End = last frame of the repetition (inclusive)."""
    rng = np.random.default_rng(1)
    (root / "skeleton").mkdir(parents=True)
    for name, t in (("A052P01T01", 40), ("A007P02T03", 30), ("B123", 10)):
        np.save(root / "skeleton" / f"{name}.npy", rng.normal(size=(t, 24, 3)))
    (root / "train_rac").mkdir()
    (root / "train_rac" / "A052P01T01.csv").write_text("Sta,End,note\n2,11,x\n11,25,y\n30,39,z\n")
    (root / "val_rac").mkdir()
    (root / "val_rac" / "A007P02T03.csv").write_text("Sta,End\n0.0,29.0\n")
    return root


def test_read_released_layout(tmp_path: Path) -> None:
    root = _released(tmp_path / "rac")
    assert detect_format(root) == "flag3d-rac"
    seqs = {s.meta["id"]: s for s in iter_sequences(root)}
    assert sorted(seqs) == ["A007P02T03", "A052P01T01", "B123"]
    a = seqs["A052P01T01"]
    assert a.layout == "flag3d24" and a.joints.shape == (40, 24, 3) and a.fps == 30.0
    assert a.meta["activity"] == "A052" and a.meta["split"] == "train"
    assert a.meta["repetitions"] == [[2, 12], [11, 26], [30, 40]]  # End + 1, shared frame 11 kept
    assert not a.synthetic and a.meta["source"] == "flag3d-rac"
    assert seqs["A007P02T03"].meta["split"] == "val"
    assert seqs["A007P02T03"].meta["repetitions"] == [[0, 30]]
    b = seqs["B123"]
    assert "split" not in b.meta and "repetitions" not in b.meta and "activity" not in b.meta
    assert [s.meta["id"] for s in read_flag3d_rac(root, split="val")] == ["A007P02T03"]


def test_released_preprocessing_is_opt_in(tmp_path: Path) -> None:
    root = _released(tmp_path / "rac")
    raw = np.load(root / "skeleton" / "B123.npy")
    plain = next(s for s in read_flag3d_rac(root) if s.meta["id"] == "B123")
    np.testing.assert_array_equal(plain.joints, raw.astype(np.float32))
    pre = next(s for s in read_flag3d_rac(root, released_preprocessing=True)
               if s.meta["id"] == "B123")
    expected = raw - raw[:, :1]
    expected[..., 2] *= -1
    np.testing.assert_allclose(pre.joints, expected, atol=1e-6)
    assert (pre.joints[:, 0] == 0).all() and "preprocessing" in pre.meta


def test_round_trip_exact_with_synthetic_marking(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    syn = Sequence(rng.normal(size=(50, 24, 3)), "flag3d24", fps=30,
                   meta={"id": "A057_syn0", "split": "train", "synthetic": True,
                         "repetitions": [[0, 10], [9, 30], [35, 50]]})
    real = Sequence(rng.normal(size=(20, 24, 3)), "flag3d24",
                    meta={"id": "A010_r", "split": "test", "repetitions": []})
    bare = Sequence(rng.normal(size=(5, 24, 3)), "flag3d24", meta={"id": "nolabel"})
    root = tmp_path / "out"
    write_sequences(root, [syn, real, bare], "flag3d-rac")
    assert (root / "train_rac" / "A057_syn0.csv").read_text().splitlines() == [
        "Sta,End,source", "0,9,synthetic", "9,29,synthetic", "35,49,synthetic"]
    assert (root / "test_rac" / "A010_r.csv").read_text() == "Sta,End\n"
    note = (root / "SYNTHETIC.txt").read_text()
    assert "GENERATED" in note and note.splitlines()[-1] == "A057_syn0"
    back = {s.meta["id"]: s for s in read_flag3d_rac(root)}
    for orig in (syn, real, bare):
        got = back[orig.meta["id"]]
        np.testing.assert_array_equal(got.joints, orig.joints)
        assert got.meta.get("repetitions") == orig.meta.get("repetitions")
        assert got.meta.get("split") == orig.meta.get("split")
        assert got.synthetic == orig.synthetic


def test_writer_refuses_other_layouts_and_bad_repetitions(tmp_path: Path) -> None:
    ntu = Sequence(np.zeros((5, 25, 3)), "ntu25", meta={"id": "n"})
    with pytest.raises(LayoutError, match=r"sequence n is in layout ntu25; .*"
                                          r"flag3d\.skeleton\.convert\.convert\(seq, 'flag3d24'\)"):
        write_flag3d_rac(tmp_path / "o", [ntu])
    s = Sequence(np.zeros((5, 24, 3)), "flag3d24", meta={"id": "s", "repetitions": [[0, 5]]})
    with pytest.raises(FormatError, match=r"sequence s has repetitions but no meta\['split'\]"):
        write_flag3d_rac(tmp_path / "o", [s])
    write_flag3d_rac(tmp_path / "o", [s], default_split="train")
    assert (tmp_path / "o" / "train_rac" / "s.csv").read_text() == "Sta,End\n0,4\n"
    bad = s.replace(meta={"id": "s", "split": "train", "repetitions": [[0, 6]]})
    with pytest.raises(FormatError, match=r"repetition 0 \[0, 6\) is outside the 5 frames"):
        write_flag3d_rac(tmp_path / "o2", [bad])


@pytest.mark.parametrize("csv_text,message", [
    ("Sta,End\n5,3\n", r"row 1: Sta=5, End=3 not within 0 <= Sta <= End < 40"),
    ("Sta,End\n0,40\n", r"row 1: Sta=0, End=40 not within"),
    ("Sta,End\n0,10\n20,30\n9,15\n", r"row 3: repetition 9-15 overlaps or precedes the previous"),
    ("Sta,End\n0,10\n5,20\n", r"row 2: repetition 5-20 overlaps"),
    ("Sta,End\n0,abc\n", r"row 1: End = 'abc' is not a frame index"),
    ("Start,Stop\n0,1\n", r"needs columns Sta and End, found Start, Stop"),
    ("", r"empty file"),
])
def test_csv_errors_name_file_and_row(tmp_path: Path, csv_text: str, message: str) -> None:
    root = tmp_path / "r"
    (root / "skeleton").mkdir(parents=True)
    np.save(root / "skeleton" / "A001x.npy", np.zeros((40, 24, 3), np.float32))
    (root / "train_rac").mkdir()
    (root / "train_rac" / "A001x.csv").write_text(csv_text)
    with pytest.raises(FormatError, match=r"train_rac/A001x\.csv: " + message):
        list(read_flag3d_rac(root))


def test_truncated_npy_names_header_and_size(tmp_path: Path) -> None:
    p = tmp_path / "A001.npy"
    np.save(p, np.zeros((300, 24, 3), np.float32))
    data = p.read_bytes()
    p.write_bytes(data[:128 + 1234])  # the v1.0 header is 128 bytes
    with pytest.raises(FormatError, match=r"A001\.npy: truncated \.npy: header says \(300, 24, 3\) "
                                          r"float32 but the file holds 1234 bytes of data "
                                          r"\(expected 86400\)"):
        load_npy(p)
    root = tmp_path / "rac"
    (root / "skeleton").mkdir(parents=True)
    (root / "skeleton" / "A001.npy").write_bytes(data[:500])
    with pytest.raises(FormatError, match=r"truncated \.npy"):
        list(iter_sequences(root))


def test_npy_safety_and_empty(tmp_path: Path) -> None:
    (tmp_path / "e.npy").write_bytes(b"")
    with pytest.raises(FormatError, match=r"e\.npy: empty file$"):
        load_npy(tmp_path / "e.npy")
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(FormatError, match=r"o\.npy: the \.npy holds Python objects; refused"):
        load_npy(tmp_path / "o.npy")
    (tmp_path / "t.npy").write_text("hello, not numpy")
    with pytest.raises(FormatError, match=r"t\.npy: not a \.npy file"):
        load_npy(tmp_path / "t.npy")


def test_nan_and_wrong_joint_count(tmp_path: Path) -> None:
    root = tmp_path / "rac"
    (root / "skeleton").mkdir(parents=True)
    arr = np.zeros((10, 24, 3), np.float32)
    arr[4, 1, 0] = np.nan
    np.save(root / "skeleton" / "A001n.npy", arr)
    with pytest.raises(SequenceError, match=r"skeleton/A001n\.npy: joints contain NaN in 1 of 10 "
                                            r"frames \(first at frame 4\)"):
        list(read_flag3d_rac(root))
    np.save(root / "skeleton" / "A001n.npy", np.zeros((10, 25, 3), np.float32))
    with pytest.raises(LayoutError, match=r"A001n\.npy: joints have 25 joints on axis V but "
                                          r"layout flag3d24 has 24"):
        list(read_flag3d_rac(root))


def test_single_npy_format(tmp_path: Path) -> None:
    p = tmp_path / "clip.npy"
    arr = np.random.default_rng(3).normal(size=(12, 24, 3)).astype(np.float32)
    np.save(p, arr)
    assert detect_format(p) == "npy"
    s = read_sequence(p)
    assert s.layout == "flag3d24" and s.meta["id"] == "clip"
    np.testing.assert_array_equal(s.joints, arr)
    np.save(p, np.zeros((12, 17, 2), np.float32))
    with pytest.raises(LayoutError, match=r"cannot tell the layout of 17 joints; pass layout="):
        read_sequence(p)
    assert read_sequence(p, layout="coco17").layout == "coco17"
    with pytest.raises(LayoutError, match=r"joints have 17 joints on axis V but layout ntu25"):
        read_sequence(p, layout="ntu25")

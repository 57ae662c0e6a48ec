"""Tests for flag3d.io.npz: the single-sequence .npz / .json formats and npz folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from flag3d.errors import FormatError, LayoutError, SequenceError
from flag3d.io import detect_format, iter_sequences, read_sequence, write_sequences
from flag3d.io.npz import read_json, read_npz, write_json, write_npz
from flag3d.skeleton import Sequence


@pytest.fixture
def seq() -> Sequence:
    rng = np.random.default_rng(5)
    return Sequence(rng.normal(size=(2, 7, 17, 2)) * 100, "coco17", fps=29.97,
                    confidence=rng.uniform(size=(2, 7, 17)),
                    times=np.cumsum(rng.uniform(0.02, 0.05, size=7)),
                    meta={"id": "clip1", "synthetic": True, "source": "synthetic",
                          "repetitions": [[0, 3], [3, 7]], "img_shape": [480, 640],
                          "units": "px", "label": np.int64(4)})


def _same(a: Sequence, b: Sequence) -> None:
    assert a.layout == b.layout and a.fps == b.fps
    np.testing.assert_array_equal(a.joints, b.joints)  # exact float32 equality
    np.testing.assert_array_equal(a.confidence, b.confidence)
    np.testing.assert_array_equal(a.times, b.times)
    assert a.joints.dtype == np.float32


@pytest.mark.parametrize("fmt,suffix", [("npz", ".npz"), ("json", ".json")])
def test_round_trip_exact(tmp_path: Path, seq: Sequence, fmt: str, suffix: str) -> None:
    p = tmp_path / f"clip1{suffix}"
    write_sequences(p, [seq], fmt)
    assert detect_format(p) == fmt
    back = read_sequence(p)
    _same(back, seq)
    assert back.meta == {"id": "clip1", "synthetic": True, "source": "synthetic",
                         "repetitions": [[0, 3], [3, 7]], "img_shape": [480, 640],
                         "units": "px", "label": 4}
    assert back.synthetic and back.path == str(p)


def test_round_trip_3d_without_optional_arrays(tmp_path: Path) -> None:
    s = Sequence(np.random.default_rng(0).normal(size=(5, 24, 3)), "flag3d24", meta={})
    for name, writer, reader in (("a.npz", write_npz, read_npz), ("a.json", write_json, read_json)):
        writer(tmp_path / name, [s])
        (back,) = reader(tmp_path / name)
        _same(back, s)
        assert back.confidence is None and back.times is None and back.meta == {}


def test_file_layouts_are_as_documented(tmp_path: Path, seq: Sequence) -> None:
    write_npz(tmp_path / "a.npz", [seq])
    with np.load(tmp_path / "a.npz", allow_pickle=False) as data:
        assert sorted(data.files) == ["confidence", "joints", "meta", "times"]
        head = json.loads(str(data["meta"]))
    assert (head["format"], head["version"], head["layout"]) == ("flag3d-sequence", 1, "coco17")
    write_json(tmp_path / "a.json", [seq])
    doc = json.loads((tmp_path / "a.json").read_text())
    assert list(doc) == ["format", "version", "layout", "fps", "joints", "confidence", "times",
                         "meta"]
    assert np.asarray(doc["joints"]).shape == (2, 7, 17, 2)


def test_npz_dir(tmp_path: Path, seq: Sequence) -> None:
    other = seq.replace(meta={"id": "clip0"})
    folder = tmp_path / "seqs"
    write_sequences(folder, [seq, other], "npz-dir")
    assert sorted(q.name for q in folder.iterdir()) == ["clip0.npz", "clip1.npz"]
    write_json(folder / "clip2.json", [seq.replace(meta={"id": "clip2"})])
    assert detect_format(folder) == "npz-dir"
    assert [s.meta["id"] for s in iter_sequences(folder)] == ["clip0", "clip1", "clip2"]
    (folder / "notes.json").write_text('{"hello": 1}')
    with pytest.raises(FormatError, match="cannot tell the format"):
        detect_format(folder)
    with pytest.raises(FormatError, match=r"duplicated or not a valid file name"):
        write_sequences(tmp_path / "d", [seq, seq], "npz-dir")


def test_writer_errors(tmp_path: Path, seq: Sequence) -> None:
    with pytest.raises(FormatError, match=r"a npz file holds exactly one sequence, got 2"):
        write_npz(tmp_path / "x.npz", [seq, seq])
    bad = seq.replace(meta={"obj": object()})
    with pytest.raises(FormatError, match=r"x\.json: meta is not JSON-serialisable"):
        write_json(tmp_path / "x.json", [bad])


def test_empty_truncated_and_foreign_files(tmp_path: Path, seq: Sequence) -> None:
    for name in ("e.npz", "e.json"):
        (tmp_path / name).write_bytes(b"")
        with pytest.raises(FormatError, match=rf"{name.replace('.', '[.]')}: empty file$"):
            read_sequence(tmp_path / name, fmt=name.split(".")[1])
    write_npz(tmp_path / "a.npz", [seq])
    data = (tmp_path / "a.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError, match=r"cut\.npz: (not a readable|truncated or corrupt) \.npz"):
        list(read_npz(tmp_path / "cut.npz"))
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(FormatError, match=r"other\.npz: no joints or meta array \(found: x\)"):
        list(read_npz(tmp_path / "other.npz"))
    np.savez(tmp_path / "obj.npz", joints=np.array([None, 1], dtype=object), meta=np.array("{}"))
    with pytest.raises(FormatError, match=r"obj\.npz: array 'joints' holds Python objects; "
                                          r"refused"):
        list(read_npz(tmp_path / "obj.npz"))
    (tmp_path / "v2.json").write_text('{"format": "flag3d-sequence", "version": 2}')
    with pytest.raises(FormatError, match=r"v2\.json: flag3d-sequence version 2 is not supported"):
        list(read_json(tmp_path / "v2.json"))
    (tmp_path / "bad.json").write_text('{"format": "flag3d-sequence", "version": 1, ')
    with pytest.raises(FormatError, match=r"bad\.json: not valid JSON"):
        list(read_json(tmp_path / "bad.json"))


def test_nan_and_wrong_joint_count(tmp_path: Path, seq: Sequence) -> None:
    head = json.dumps({"format": "flag3d-sequence", "version": 1, "layout": "coco17", "fps": 30,
                       "meta": {}})
    joints = np.zeros((6, 17, 2), np.float32)
    joints[2, 0, 0] = np.nan
    np.savez(tmp_path / "nan.npz", joints=joints, meta=np.array(head))
    with pytest.raises(SequenceError, match=r"nan\.npz: joints contain NaN in 1 of 6 frames "
                                            r"\(first at frame 2\)"):
        list(read_npz(tmp_path / "nan.npz"))
    np.savez(tmp_path / "v.npz", joints=np.zeros((6, 18, 2)), meta=np.array(head))
    with pytest.raises(LayoutError, match=r"v\.npz: joints have 18 joints on axis V but layout "
                                          r"coco17 has 17"):
        list(read_npz(tmp_path / "v.npz"))
    doc = json.loads(head) | {"joints": [[[0.0, float("nan")]] * 17] * 3}
    (tmp_path / "nan.json").write_text(json.dumps(doc))
    with pytest.raises(SequenceError, match=r"nan\.json: joints contain NaN in 3 of 3 frames"):
        list(read_json(tmp_path / "nan.json"))

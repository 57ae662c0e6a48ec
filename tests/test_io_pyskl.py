"""Tests for flag3d.io.pyskl: restricted unpickling, reading and writing PYSKL pickles."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
from pathlib import Path

import numpy as np
import pytest

from flag3d.errors import FormatError, LayoutError, SequenceError, UnsafePickleError
from flag3d.io import detect_format, iter_sequences, read_sequence, write_sequences
from flag3d.io.pyskl import RestrictedUnpickler, load_pyskl_dict, read_pyskl, write_pyskl
from flag3d.skeleton import Sequence


def _ann(sid: str, label: int, m: int = 1, t: int = 6, v: int = 25, c: int = 3,
         **extra: object) -> dict:
    rng = np.random.default_rng(label)
    ann = {"frame_dir": sid, "label": label, "total_frames": t,
           "keypoint": rng.normal(size=(m, t, v, c)).astype(np.float32)}
    if c == 2:
        ann["keypoint_score"] = rng.uniform(size=(m, t, v)).astype(np.float16)
        ann["img_shape"] = (1080, 1920)
        ann["original_shape"] = (1080, 1920)
    ann.update(extra)
    return ann


def _dump(path: Path, obj: object, protocol: int = 4) -> Path:
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    return path


@pytest.fixture
def pkl3d(tmp_path: Path) -> Path:
    data = {"split": {"train": ["A001_s1", "A002_s1"], "val": ["A003_s2"]},
            "annotations": [_ann("A001_s1", 0), _ann("A002_s1", 1),
                            _ann("A003_s2", 2, activity="A003")]}
    return _dump(tmp_path / "flag3d.pkl", data)


# ------------------------------------------------------------------ safety
class _Evil:
    def __init__(self, func: object, args: tuple) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple:
        return (self.func, self.args)


def test_os_system_pickle_is_refused_and_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    boom = _Evil(os.system, (f"touch {marker}",))
    evil = {"split": {}, "annotations": [_ann("x", 0)], "boom": boom}
    p = _dump(tmp_path / "evil.pkl", evil)
    with pytest.raises(UnsafePickleError, match=r"evil\.pkl: refused to load posix\.system"):
        list(read_pyskl(p))
    assert not marker.exists()


@pytest.mark.parametrize("func,args,name", [
    (eval, ("1+1",), "builtins.eval"),
    (subprocess.Popen, (["true"],), "subprocess.Popen"),
    (getattr, ("x", "upper"), "builtins.getattr"),
    (np.load, ("x.npy",), "numpy.load"),
])
def test_other_callables_are_refused(tmp_path: Path, func: object, args: tuple,
                                     name: str) -> None:
    p = _dump(tmp_path / "bad.pkl", {"annotations": [], "x": _Evil(func, args)}, protocol=2)
    with pytest.raises(UnsafePickleError, match=rf"bad\.pkl: refused to load {name}\b"):
        load_pyskl_dict(p)


def test_codecs_encode_only_for_latin1_bytes(tmp_path: Path) -> None:
    import codecs
    p = _dump(tmp_path / "c.pkl", {"x": _Evil(codecs.encode, ("abc", "rot13"))}, protocol=2)
    with pytest.raises(FormatError, match=r"c\.pkl: .*refused _codecs\.encode with encoding 'rot13'"):
        load_pyskl_dict(p)


def test_unpickler_rebuilds_numpy_and_containers_only() -> None:
    from collections import OrderedDict
    obj = OrderedDict(a=np.arange(6, dtype=np.int16).reshape(2, 3)[:, ::2], b=np.float64(2.5),
                      c={1, 2}, d=b"raw", e=np.zeros(3, ">f4"))
    for proto in (2, 4, 5):
        back = RestrictedUnpickler(io.BytesIO(pickle.dumps(obj, protocol=proto))).load()
        assert back["a"].tolist() == [[0, 2], [3, 5]] and back["b"] == 2.5
        assert back["c"] == {1, 2} and back["d"] == b"raw"
        assert back["e"].dtype == pickle.loads(pickle.dumps(obj["e"], protocol=proto)).dtype  # safe: our own bytes


def test_numpy1_pickle_names_are_accepted(tmp_path: Path) -> None:
    """PYSKL pickles were written with numpy 1.x: their arrays name numpy.core.multiarray."""
    raw = pickle.dumps({"split": {"train": ["a"]}, "annotations": [_ann("a", 4)]}, protocol=2)
    assert b"numpy._core.multiarray" in raw
    old = raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    p = tmp_path / "old.pkl"
    p.write_bytes(old)
    (seq,) = read_pyskl(p)
    assert seq.meta["label"] == 4 and seq.joints.shape == (6, 25, 3)


# ------------------------------------------------------------------ reading
def test_read_3d(pkl3d: Path) -> None:
    seqs = list(iter_sequences(pkl3d))
    assert [s.meta["id"] for s in seqs] == ["A001_s1", "A002_s1", "A003_s2"]
    assert [s.meta["split"] for s in seqs] == ["train", "train", "val"]
    s = seqs[2]
    assert s.layout == "ntu25" and s.joints.shape == (6, 25, 3) and s.fps == 30.0
    assert s.meta["label"] == 2 and s.meta["activity"] == "A003" and s.meta["units"] == "m"
    assert s.meta["source"] == "pyskl" and s.confidence is None
    np.testing.assert_array_equal(s.joints, _ann("A003_s2", 2)["keypoint"][0])
    assert detect_format(pkl3d) == "pyskl"


def test_split_filter_and_multiple_splits(tmp_path: Path) -> None:
    data = {"split": {"xsub_train": ["a", "b"], "xview_val": ["a"]},
            "annotations": [_ann("a", 0), _ann("b", 1)]}
    p = _dump(tmp_path / "s.pkl", data)
    a, b = read_pyskl(p)
    assert a.meta["split"] == "xsub_train" and a.meta["splits"] == ["xsub_train", "xview_val"]
    assert "splits" not in b.meta
    (only,) = read_pyskl(p, split="xview_val")
    assert only.meta["id"] == "a" and only.meta["split"] == "xview_val"
    with pytest.raises(FormatError, match=r"no split 'test' \(splits: xsub_train, xview_val\)"):
        list(read_pyskl(p, split="test"))


def test_read_2d_multi_person(tmp_path: Path) -> None:
    data = {"split": {"train": ["v1"]}, "annotations": [_ann("v1", 7, m=2, v=17, c=2)]}
    (s,) = read_pyskl(_dump(tmp_path / "flag2d.pkl", data))
    assert s.layout == "coco17" and s.joints.shape == (2, 6, 17, 2)
    assert s.confidence.shape == (2, 6, 17) and s.confidence.dtype == np.float32
    assert s.meta["img_shape"] == [1080, 1920] and s.meta["original_shape"] == [1080, 1920]
    assert s.meta["units"] == "px"


def test_drop_empty_persons(tmp_path: Path) -> None:
    ann = _ann("p", 1, m=2)
    ann["keypoint"][1] = 0
    (s,) = read_pyskl(_dump(tmp_path / "p.pkl", {"annotations": [ann]}), drop_empty_persons=True)
    assert s.joints.shape == (6, 25, 3)
    (s2,) = read_pyskl(tmp_path / "p.pkl")
    assert s2.joints.shape == (2, 6, 25, 3)


def test_layout_inference_and_override(tmp_path: Path) -> None:
    p = _dump(tmp_path / "h.pkl", {"annotations": [_ann("h", 0, v=17, c=3)]})
    with pytest.raises(LayoutError, match=r"V=17, C=3; pass layout="):
        list(read_pyskl(p))
    (s,) = read_pyskl(p, layout="h36m17")
    assert s.layout == "h36m17"
    (s,) = read_pyskl(_dump(tmp_path / "f.pkl", {"annotations": [_ann("f", 0, v=24)]}))
    assert s.layout == "flag3d24"


# ------------------------------------------------------------------ errors
def test_empty_and_truncated(tmp_path: Path, pkl3d: Path) -> None:
    (tmp_path / "e.pkl").write_bytes(b"")
    with pytest.raises(FormatError, match=r"e\.pkl: empty file$"):
        list(read_pyskl(tmp_path / "e.pkl"))
    cut = tmp_path / "cut.pkl"
    cut.write_bytes(pkl3d.read_bytes()[:700])
    with pytest.raises(FormatError, match=r"cut\.pkl: truncated or corrupt pickle"):
        list(read_pyskl(cut))


@pytest.mark.parametrize("data,message", [
    ([1, 2], r"not a PYSKL annotation pickle: top level is a list, expected a dict"),
    ({"split": {}}, r"not a PYSKL annotation pickle: no 'annotations' list \(keys: split\)"),
    ({"annotations": [{"frame_dir": "z", "keypoint": np.zeros((1, 2, 25, 3))}]},
     r"sample z: no 'label'"),
    ({"annotations": [{"frame_dir": "z", "label": 1, "keypoint": [1, 2]}]},
     r"sample z: 'keypoint' is missing or not a numeric array"),
    ({"annotations": [{"frame_dir": "z", "label": 1, "keypoint": np.zeros((2, 25, 3))}]},
     r"sample z: 'keypoint' has shape \(2, 25, 3\), expected \(M, T, V, C\)"),
    ({"annotations": [_ann("z", 1, total_frames=9)]},
     r"sample z: total_frames is 9 but 'keypoint' has 6 frames"),
    ({"split": {"train": "abc"}, "annotations": []}, r"split 'train' is a str"),
])
def test_structure_errors(tmp_path: Path, data: object, message: str) -> None:
    p = _dump(tmp_path / "bad.pkl", data)
    with pytest.raises(FormatError, match=r"bad\.pkl: " + message):
        list(read_pyskl(p))


def test_nan_and_wrong_joint_count(tmp_path: Path) -> None:
    ann = _ann("n", 0)
    ann["keypoint"][0, 3, 2, 1] = np.nan
    p = _dump(tmp_path / "nan.pkl", {"annotations": [ann]})
    with pytest.raises(SequenceError, match=r"nan\.pkl: sample n: joints contain NaN in 1 of 6 "
                                            r"frames \(first at frame 3\)"):
        list(read_pyskl(p))
    p = _dump(tmp_path / "v.pkl", {"annotations": [_ann("w", 0, v=18, c=2)]})
    with pytest.raises(LayoutError, match=r"v\.pkl: sample w: joints have 18 joints on axis V "
                                          r"but layout coco17 has 17"):
        list(read_pyskl(p, layout="coco17"))


# ------------------------------------------------------------------ writing
def test_round_trip_3d_and_2d(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    s3 = Sequence(rng.normal(size=(9, 25, 3)), "ntu25", fps=25,
                  meta={"id": "A010_x", "label": 9, "split": "train", "activity": "A010",
                        "repetitions": [[0, 4], [4, 9]], "units": "m"})
    s2 = Sequence(rng.uniform(0, 500, size=(2, 9, 17, 2)), "coco17",
                  meta={"id": "v2", "label": 3, "splits": ["val", "test"], "img_shape": [480, 640]})
    p = tmp_path / "out.pkl"
    write_sequences(p, [s3, s2], "pyskl")
    raw = load_pyskl_dict(p)
    assert raw["split"] == {"train": ["A010_x"], "val": ["v2"], "test": ["v2"]}
    a3, a2 = raw["annotations"]
    assert a3["keypoint"].shape == (1, 9, 25, 3) and a3["keypoint"].dtype == np.float32
    assert "keypoint_score" not in a3 and a3["total_frames"] == 9
    assert a2["keypoint_score"].shape == (2, 9, 17) and (a2["keypoint_score"] == 1).all()
    assert a2["img_shape"] == (480, 640) and "synthetic" not in raw
    r3, r2 = read_pyskl(p)
    np.testing.assert_array_equal(r3.joints, s3.joints)
    np.testing.assert_array_equal(r2.joints, s2.joints)
    assert r3.fps == 25.0 and r3.meta["repetitions"] == [[0, 4], [4, 9]]
    assert r3.meta["activity"] == "A010" and r3.meta["split"] == "train"
    assert r2.meta["splits"] == ["val", "test"] and r2.meta["img_shape"] == [480, 640]


def test_synthetic_flag_is_written_everywhere(tmp_path: Path) -> None:
    syn = Sequence(np.zeros((4, 25, 3)), "ntu25",
                   meta={"id": "g", "label": 0, "synthetic": True, "source": "synthetic"})
    real = Sequence(np.zeros((4, 25, 3)), "ntu25", meta={"id": "r", "label": 1})
    p = tmp_path / "syn.pkl"
    write_pyskl(p, [syn, real], split={"train": ["g", "r"]})
    raw = load_pyskl_dict(p)
    assert raw["synthetic"] is True and raw["annotations"][0]["synthetic"] is True
    g, r = read_pyskl(p)
    assert g.synthetic and g.meta["source"] == "synthetic"
    assert r.synthetic  # the top-level flag marks the whole file


def test_writer_errors(tmp_path: Path) -> None:
    s = Sequence(np.zeros((4, 25, 3)), "ntu25", meta={"id": "a"})
    with pytest.raises(FormatError, match=r"x\.pkl: sequence a has no integer meta\['label'\]"):
        write_pyskl(tmp_path / "x.pkl", [s])
    s = s.replace(meta={"id": "a", "label": 0})
    with pytest.raises(FormatError, match=r"duplicate sample ids \['a'\]"):
        write_pyskl(tmp_path / "x.pkl", [s, s])
    assert read_sequence(_write_one(tmp_path, s)).meta["id"] == "a"


def _write_one(tmp_path: Path, s: Sequence) -> Path:
    p = tmp_path / "one.pickle"
    write_pyskl(p, [s])
    return p

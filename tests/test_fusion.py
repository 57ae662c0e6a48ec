"""Score fusion: known values, id alignment, default 2:2:1:1 coefficients, clear errors."""

import numpy as np
import pytest

from flag3d.errors import Flag3dError, FormatError
from flag3d.metrics.recognition import recognition_report, topk_accuracy
from flag3d.tasks.fusion import (
    DEFAULT_COEFS, fuse, fuse_files, load_scores, parse_coefs, save_scores,
)

CLASSES = ["A017", "A020", "A049"]
IDS = ["a", "b", "c", "d"]
LABELS = np.array([0, 1, 2, 0])


def _write(tmp_path, name, scores, stream, ids=IDS, labels=LABELS, classes=CLASSES):
    path = tmp_path / f"{name}.npz"
    save_scores(path, list(ids), np.asarray(labels), np.asarray(scores, float), classes, stream)
    return path


def test_fused_scores_known_values(tmp_path):
    j = _write(tmp_path, "j", [[.7, .3, 0], [.5, .3, .2], [.1, .2, .7], [.2, .7, .1]], "joint")
    b = _write(tmp_path, "b", [[.2, .8, 0], [.1, .8, .1], [.3, .3, .4], [.8, .1, .1]], "bone")
    jm = _write(tmp_path, "jm", [[.9, .1, 0], [.2, .2, .6], [.8, .1, .1], [.3, .4, .3]],
                "joint_motion")
    r = fuse_files([j, b, jm])
    assert r.coefs == [2.0, 2.0, 1.0]
    expected = 2 * np.array([[.7, .3, 0], [.5, .3, .2], [.1, .2, .7], [.2, .7, .1]]) \
        + 2 * np.array([[.2, .8, 0], [.1, .8, .1], [.3, .3, .4], [.8, .1, .1]]) \
        + np.array([[.9, .1, 0], [.2, .2, .6], [.8, .1, .1], [.3, .4, .3]])
    np.testing.assert_allclose(r.scores, expected)
    assert r.single_top1 == [0.5, 0.75, 0.25]  # fused beats every stream
    assert r.top1 == topk_accuracy(expected, LABELS) == 1.0
    r2 = fuse_files([j, b, jm], [1, 0, 0])
    assert r2.top1 == 0.5 and r2.coefs == [1.0, 0.0, 0.0]


def test_files_are_aligned_by_id(tmp_path):
    s = np.array([[.6, .4, 0], [.5, .3, .2], [.1, .2, .7], [.2, .7, .1]])
    a = _write(tmp_path, "a", s, "joint")
    perm = [2, 0, 3, 1]
    b = _write(tmp_path, "b", s[perm], "bone", ids=[IDS[k] for k in perm], labels=LABELS[perm])
    r = fuse_files([a, b])
    order = np.argsort(IDS)
    np.testing.assert_allclose(r.scores, 4 * s[order])
    assert r.ids.tolist() == sorted(IDS)


def test_mismatches_are_named(tmp_path):
    s = np.eye(3)[[0, 1, 2, 0]]
    a = _write(tmp_path, "a", s, "joint")
    other = _write(tmp_path, "o", s, "bone", ids=["a", "b", "c", "z"])
    with pytest.raises(FormatError, match="o.npz: holds other samples than .*a.npz \\(e.g. d, z\\)"):
        fuse_files([a, other])
    lab = _write(tmp_path, "l", s, "bone", labels=[0, 1, 2, 1])
    with pytest.raises(FormatError, match="labels differ"):
        fuse_files([a, lab])
    cls = _write(tmp_path, "c", s, "bone", classes=["x", "y", "z"])
    with pytest.raises(FormatError, match="class list differs"):
        fuse_files([a, cls])
    with pytest.raises(Flag3dError, match="3 coefficients for 1 score files"):
        fuse_files([a], [1, 2, 3])
    odd = _write(tmp_path, "fused", s, "joint+bone")
    with pytest.raises(Flag3dError, match="no default coefficient for the stream of .*fused.npz"):
        fuse_files([a, odd])
    assert fuse_files([a, odd], [1, 1]).top1 == 1.0


def test_bad_files(tmp_path):
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    with pytest.raises(FormatError, match="empty.npz: unreadable score file"):
        load_scores(empty)
    with pytest.raises(FormatError, match="missing.npz: score file not found"):
        load_scores(tmp_path / "missing.npz")
    np.savez(tmp_path / "x.npz", scores=np.zeros((2, 3)))
    with pytest.raises(FormatError, match="not a flag3d score file: no ids, labels, classes"):
        load_scores(tmp_path / "x.npz")
    nan = _write(tmp_path, "nan", [[np.nan, 0, 0]] * 4, "joint")
    with pytest.raises(FormatError, match="NaN"):
        load_scores(nan)
    with pytest.raises(Flag3dError, match="no score files"):
        fuse([])


def test_parse_coefs_and_defaults():
    assert parse_coefs("2,2,1,1") == [2.0, 2.0, 1.0, 1.0]
    assert parse_coefs("2:1") == [2.0, 1.0] and parse_coefs(None) is None
    with pytest.raises(Flag3dError, match="--coef must be numbers"):
        parse_coefs("2,x")
    assert [DEFAULT_COEFS[s] for s in ("joint", "bone", "joint_motion", "bone_motion")] == [2, 2, 1, 1]


def test_recognition_report_groups():
    scores = np.array([[.9, .1, 0], [.2, .7, .1], [.5, .4, .1], [.6, .3, .1]])
    r = recognition_report(scores, LABELS, CLASSES)
    assert r["top1"] == 0.75 and r["top5"] == 1.0
    assert r["group_by"] == "body_part"
    assert r["per_group"] == {"shoulder": {"accuracy": 1.0, "samples": 2},
                              "arm": {"accuracy": 1.0, "samples": 1},
                              "hip": {"accuracy": 0.0, "samples": 1}}
    assert r["confusion"] == [[2, 0, 0], [0, 1, 0], [1, 0, 0]]
    u = recognition_report(scores, LABELS, ["m01", "m02", "m03"])
    assert u["group_by"] == "class" and u["per_group"]["m03"]["accuracy"] == 0.0

"""Recognition data: normalisation, augmentation, clips, streams, sources, labels, protocols."""

import os

import numpy as np
import pytest

from conftest import shared_path
from flag3d.data.recognition import (
    DataSpec, RecognitionDataset, SampleSet, class_names, encode_labels, load_sets,
)
from flag3d.data.recognition_pipeline import (
    Pipeline, augment, clip_indices, make_stream, normalize_joints,
)
from flag3d.data.synth_protocols import SynthProtocol, protocol_sequences, synthetic_store
from flag3d.errors import Flag3dError, LayoutError, SequenceError
from flag3d.io.pyskl import write_pyskl
from flag3d.skeleton import Sequence, get_layout
from flag3d.skeleton.transforms import sample_indices
from recognition_helpers import tiny_sequences, tiny_store


def _rot_y(deg):
    a = np.radians(deg)
    return np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])


# ------------------------------------------------------------------ normalisation
def test_align_undoes_yaw_and_translation():
    seq = tiny_sequences(per=1, subjects=1)[0]
    x = seq.joints[None].astype(np.float64)
    moved = x @ _rot_y(70).T + np.array([2.0, 0.3, -1.0])
    conf = np.ones(x.shape[:-1])
    a = normalize_joints(x, conf, "ntu25", "align")
    b = normalize_joints(moved, conf, "ntu25", "align")
    np.testing.assert_allclose(a, b, atol=1e-5)
    lay = get_layout("ntu25")
    np.testing.assert_allclose(b[0, 0, lay.index("spine_base")], 0.0, atol=1e-6)
    spine = b[0, 0, lay.index("spine_shoulder")]
    assert abs(spine[0]) < 1e-5 and abs(spine[2]) < 1e-5 and spine[1] > 0.3  # spine is +y
    hips = b[0, 0, lay.index("left_hip")] - b[0, 0, lay.index("right_hip")]
    assert hips[0] > 0.3 and abs(hips[2]) < 1e-5  # left hip at +x


def test_body_normalisation_is_scale_and_translation_invariant():
    seq = tiny_sequences(per=1, subjects=1, dims=2)[0]
    x, conf = seq.joints[None], seq.confidence[None]
    a = normalize_joints(x, conf, "coco17", "body")
    b = normalize_joints(x * 2.5 + 100.0, conf, "coco17", "body")
    np.testing.assert_allclose(a, b, atol=1e-5)
    lay = get_layout("coco17")
    mid_sh = a[0, :, lay.indices(["left_shoulder", "right_shoulder"])].mean(axis=0)
    mid_hip = a[0, :, lay.indices(["left_hip", "right_hip"])].mean(axis=0)
    assert np.median(np.linalg.norm(mid_sh - mid_hip, axis=-1)) == pytest.approx(1.0, abs=1e-5)


def test_image_normalisation_known_values_and_missing_shape():
    seq_x = np.zeros((1, 1, 17, 2))
    seq_x[0, 0, 0] = (960.0, 540.0)
    seq_x[0, 0, 1] = (1920.0, 0.0)
    got = normalize_joints(seq_x, np.ones((1, 1, 17)), "coco17", "image", img_shape=(1080, 1920))
    np.testing.assert_allclose(got[0, 0, 0], [0.0, 0.0])
    np.testing.assert_allclose(got[0, 0, 1], [1.0, -1.0])
    with pytest.raises(SequenceError, match="normalize='image' needs meta"):
        normalize_joints(seq_x, np.ones((1, 1, 17)), "coco17", "image", where="s1")


def test_missing_joints_are_zero_and_mask_bones_and_motion():
    seq = tiny_sequences(per=1, subjects=1, dims=2)[0]
    x, conf = seq.joints[None].copy(), seq.confidence[None].copy()
    lay = get_layout("coco17")
    le = lay.index("left_elbow")
    x[0, 5, le] = 0.0
    conf[0, 5, le] = 0.0
    norm = normalize_joints(x, conf, "coco17", "body")
    assert np.all(norm[0, 5, le] == 0.0)
    bone = make_stream(norm, conf, "coco17", "bone", use_score=True)
    child = lay.index("left_wrist")  # its parent is the elbow
    assert lay.parents[child] == le
    assert np.all(bone[0, 5, child] == 0.0) and np.all(bone[0, 5, le] == 0.0)
    assert bone[0, 6, child, 2] == 1.0
    motion = make_stream(norm, conf, "coco17", "joint_motion", use_score=True)
    assert np.all(motion[0, 4, le] == 0.0) and np.all(motion[0, 5, le] == 0.0)
    assert np.all(motion[0, -1] == 0.0)  # no next frame


def test_align_without_usable_frame_names_the_sample():
    x = np.zeros((1, 4, 25, 3))
    with pytest.raises(SequenceError, match="s9: no frame shows a spine"):
        normalize_joints(x, np.ones((1, 4, 25)), "ntu25", "align", where="s9")
    with pytest.raises(LayoutError, match="needs 3D joints"):
        normalize_joints(np.ones((1, 4, 17, 2)), np.ones((1, 4, 17)), "coco17", "align")


# ------------------------------------------------------------------ augmentation
def test_augment_rotation_keeps_bone_lengths_and_flip_swaps_sides():
    seq = tiny_sequences(per=1, subjects=1)[0]
    x = normalize_joints(seq.joints[None], np.ones(seq.joints.shape[:-1])[None], "ntu25", "align")
    conf = np.ones(x.shape[:-1], np.float32)
    rng = np.random.default_rng(0)
    rot, _ = augment(x, conf, "ntu25", rng, rotate_deg=30.0)
    bones = make_stream(x, conf, "ntu25", "bone", False)
    rbones = make_stream(rot, conf, "ntu25", "bone", False)
    np.testing.assert_allclose(np.linalg.norm(bones, axis=-1), np.linalg.norm(rbones, axis=-1),
                               atol=1e-5)
    assert not np.allclose(rot, x)
    flipped, fconf = augment(x, conf, "ntu25", rng, flip_prob=1.0)
    lay = get_layout("ntu25")
    li, ri = lay.index("left_wrist"), lay.index("right_wrist")
    np.testing.assert_allclose(flipped[..., li, 0], -x[..., ri, 0])
    np.testing.assert_allclose(flipped[..., li, 1:], x[..., ri, 1:])


# ------------------------------------------------------------------------ clips
def test_clip_indices_deterministic_test_and_seeded_train():
    a = clip_indices(100, 16, 10, "test", seed=0, index=3)
    assert a.shape == (10, 16)
    np.testing.assert_array_equal(a, clip_indices(100, 16, 10, "test", seed=0, index=3))
    np.testing.assert_array_equal(a[0], sample_indices(100, 16, "test"))
    assert len({tuple(r) for r in a}) == 10
    e0 = clip_indices(100, 16, 1, "train", seed=0, index=3, epoch=0)
    np.testing.assert_array_equal(e0, clip_indices(100, 16, 1, "train", seed=0, index=3, epoch=0))
    assert not np.array_equal(e0, clip_indices(100, 16, 1, "train", seed=0, index=3, epoch=1))


def test_pipeline_shapes_persons_and_layout_check():
    seq2d = tiny_sequences(per=1, subjects=1, dims=2)[0]
    pipe = Pipeline("coco17", dims=2, clip_len=8, num_clips=3, num_persons=2, stream="bone")
    x = pipe(seq2d)
    assert x.shape == (3, 2, 8, 17, 3) and pipe.in_channels == 3
    assert np.all(x[:, 1] == 0.0) and np.any(x[:, 0] != 0.0)
    assert Pipeline("coco17", dims=2, use_score=False).in_channels == 2
    seq3d = tiny_sequences(per=1, subjects=1)[0]
    with pytest.raises(LayoutError, match="layout ntu25 but the pipeline expects coco17"):
        pipe(seq3d)
    with pytest.raises(ValueError, match="unknown stream 'angle'"):
        Pipeline("ntu25", stream="angle")


def test_pipeline_bone_stream_equals_joint_minus_parent():
    seq = tiny_sequences(per=1, subjects=1)[0]
    j = Pipeline("ntu25", clip_len=10, normalize="none", stream="joint")(seq)
    b = Pipeline("ntu25", clip_len=10, normalize="none", stream="bone")(seq)
    parents = np.array(get_layout("ntu25").parents)
    src = np.where(parents < 0, np.arange(25), parents)
    np.testing.assert_allclose(b, j - j[..., src, :], atol=1e-6)


# ------------------------------------------------------------------ sets, labels
def test_sample_set_refuses_mixed_layouts():
    seqs = tiny_sequences(per=1, subjects=1)[:1] + tiny_sequences(per=1, subjects=1, dims=2)[:1]
    with pytest.raises(LayoutError, match="mixed layouts coco17 \\(2D\\), ntu25 \\(3D\\)"):
        SampleSet.from_sequences(seqs, "mix")


def test_class_names_and_labels():
    s = SampleSet.from_sequences(tiny_sequences(per=1, subjects=1), "t")
    assert class_names([s], "activity") == ["A017", "A020", "A049"]
    assert class_names([s], "label") == ["A017", "A020", "A049"]
    assert len(class_names([s], "label", "flag3d")) == 60
    np.testing.assert_array_equal(encode_labels(s, ["A017", "A020", "A049"], "activity"), [0, 1, 2])
    with pytest.raises(Flag3dError, match="activity 'A049', which is not among the model's 2"):
        encode_labels(s, ["A017", "A020"], "activity")
    with pytest.raises(Flag3dError, match="label 2; the model has 2 classes"):
        encode_labels(s, ["a", "b"], "label")


def test_dataset_items_and_epochs():
    s = SampleSet.from_sequences(tiny_sequences(per=1, subjects=1), "t")
    ds = RecognitionDataset(s, np.array([0, 1, 2]), Pipeline("ntu25", clip_len=8, mode="train",
                                                             rotate_deg=10))
    a = ds[1]["x"]
    assert ds[1]["label"] == 1 and a.shape == (1, 1, 8, 25, 3)
    np.testing.assert_array_equal(a, ds[1]["x"])
    ds.set_epoch(1)
    assert not np.array_equal(a, ds[1]["x"])


# ----------------------------------------------------------------------- sources
def test_pyskl_source_by_split_names(tmp_path):
    seqs = tiny_sequences(per=1, subjects=2)
    for s in seqs:
        s.meta["split"] = "val" if s.meta["subject"] == "S002" else "train"
    path = tmp_path / "flag3d.pkl"
    write_pyskl(path, seqs)
    sets = load_sets(DataSpec(dataset="pyskl", data_path=str(path), test_split="val"))
    assert (len(sets["train"]), len(sets["test"])) == (3, 3)
    assert set(sets["test"].subjects) == {"S002"} and sets["test"].layout == "ntu25"
    with pytest.raises(Flag3dError, match="no samples in split 'test' \\(splits: train, val\\)"):
        load_sets(DataSpec(dataset="pyskl", data_path=str(path)))


def test_store_source_by_split_and_subjects(tmp_path):
    root = tiny_store(tmp_path / "s")
    sets = load_sets(DataSpec(dataset="store", data_path=str(root)))
    assert (len(sets["train"]), len(sets["test"])) == (12, 6)
    assert sets["test"].sequence(0).meta["subject"] == "S003"
    by_subj = load_sets(DataSpec(dataset="store", data_path=str(root), train_subjects=("S001",),
                                 test_subjects=("S002",)))
    assert set(by_subj["train"].subjects) == {"S001"} and len(by_subj["test"]) == 6
    with pytest.raises(Flag3dError, match="no rows with split 'cross' \\(splits: test, train\\)"):
        load_sets(DataSpec(dataset="store", data_path=str(root), test_split="cross"))
    conv = sets["train"].converted("h36m17")
    assert conv.layout == "h36m17" and conv.sequence(0).joints.shape[-2] == 17
    with pytest.raises(LayoutError, match="no conversion from ntu25 to coco17"):
        sets["train"].converted("coco17")


def test_unknown_dataset():
    with pytest.raises(Flag3dError, match="unknown dataset 'ntu'; use one of pyskl, store"):
        load_sets(DataSpec(dataset="ntu"))


# ------------------------------------------------------------------- synthetic
def test_synthetic_2d_protocol_domains():
    proto = SynthProtocol(kind="2d", per_pair=1, activities=("A020", "A049"), n_subjects=3,
                          n_train_subjects=2, reps=(2, 2))
    seqs = list(protocol_sequences(proto))
    by = {}
    for s in seqs:
        by.setdefault(s.meta["split"], []).append(s)
    assert {k: len(v) for k, v in by.items()} == {"train": 8, "test": 4, "cross": 2}
    assert {s.meta["view"] for s in by["train"] + by["test"]} == {"front", "side"}
    assert {s.meta["view"] for s in by["cross"]} == {"oblique"}
    assert all(s.meta["domain"] == "rendered-clean" and s.confidence.min() == 1.0
               for s in by["train"])
    assert all(s.meta["domain"] == "noisy" and s.confidence.max() < 1.0 for s in by["cross"])
    train_subj = {s.meta["subject"] for s in by["train"]}
    assert train_subj.isdisjoint({s.meta["subject"] for s in by["test"] + by["cross"]})
    assert len({s.meta["id"] for s in seqs}) == len(seqs)
    assert all(s.synthetic for s in seqs)


def test_synthetic_store_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("FLAG3D_CACHE", str(tmp_path / "cache"))
    proto = SynthProtocol(kind="3d", per_pair=1, activities=("A020", "A049"), n_subjects=2,
                          n_train_subjects=1, reps=(2, 2))
    p1 = synthetic_store(proto)
    stamp = os.stat(p1 / "manifest.parquet").st_mtime_ns
    assert synthetic_store(proto) == p1
    assert os.stat(p1 / "manifest.parquet").st_mtime_ns == stamp
    assert p1.parent == tmp_path / "cache" / "recognition"


# --------------------------------------------------------------------- real data
def test_uiprmd_source_split_by_subject(tmp_path):
    root = shared_path("uiprmd")
    sub = tmp_path / "uiprmd"
    for cat in ("correct",):
        for kind in ("Positions", "Angles"):
            (sub / cat / kind).mkdir(parents=True)
            for f in sorted((root / cat / kind).iterdir()):
                if f.name[:3] in ("m01", "m07") and f.name[4:7] in ("s01", "s08") \
                        and f.name[8:11] in ("e01", "e02"):
                    os.symlink(f, sub / cat / kind / f.name)
    sets = load_sets(DataSpec(dataset="uiprmd", data_path=str(sub), cache=False))
    tr, te = sets["train"], sets["test"]
    assert (len(tr), len(te)) == (4, 4)
    assert set(tr.subjects) == {"s01"} and set(te.subjects) == {"s08"}
    assert tr.layout == "uiprmd22" and class_names([tr, te], "label")[:1] == ["m01"]
    x = Pipeline("uiprmd22", clip_len=16, num_clips=10)(te.sequence(0))
    assert x.shape == (10, 1, 16, 22, 3) and np.isfinite(x).all()


def test_jitter_and_dropped_gaps_only_in_training():
    seq = tiny_sequences(per=1, subjects=1, dims=2)[0]
    kw = dict(dims=2, clip_len=16, num_clips=1, use_score=True)
    clean = Pipeline("coco17", mode="train", **kw)(seq)
    noisy = Pipeline("coco17", mode="train", jitter=0.05, drop_prob=0.3, **kw)(seq)
    assert clean.shape == noisy.shape
    assert np.all(clean[..., 2] > 0)  # tiny sequences have no missing joints
    missing = noisy[..., 2] == 0  # score channel
    assert 0.1 < missing.mean() < 0.5
    assert np.all(noisy[..., :2][missing] == 0.0)
    seen = ~missing
    diff = noisy[..., :2][seen] - clean[..., :2][seen]
    assert 0.02 < float(diff.std()) < 0.1  # the jitter, in normalised units
    test_kw = dict(kw, num_clips=2)
    assert np.array_equal(Pipeline("coco17", **test_kw)(seq),
                          Pipeline("coco17", jitter=0.05, drop_prob=0.3, **test_kw)(seq))
    with pytest.raises(ValueError, match="drop_prob in"):
        Pipeline("coco17", drop_prob=1.0)

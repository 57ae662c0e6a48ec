"""Tests for the UI-PRMD reader: synthetic files with hand-computed FK, errors, real data."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import pytest

from conftest import shared_path
from flag3d.errors import Flag3dError, FormatError, TaxonomyError
from flag3d.io import detect_format, iter_sequences
from flag3d.io.uiprmd import (
    euler_to_matrix,
    find_uiprmd_pairs,
    iter_uiprmd,
    parse_uiprmd_name,
    read_uiprmd_file,
)
from flag3d.skeleton.layouts import get_layout

LAY = get_layout("uiprmd22")
J = {n: i for i, n in enumerate(LAY.joints)}


# --------------------------------------------------------------------- helpers
def _write(path: Path, rows: np.ndarray, gz: bool = True) -> None:
    text = "\n".join(",".join(f"{v:.6f}" for v in r) for r in rows.reshape(len(rows), -1)) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)


def _make_pair(folder: Path, pos: np.ndarray, ang: np.ndarray, name: str = "m01_s01_e01",
               inc: bool = False) -> Path:
    """Write a positions/angles pair (arrays of shape (T, 22, 3)) like the real layout."""
    suf = "_inc" if inc else ""
    p = folder / "Positions" / f"{name}_positions{suf}.txt.gz"
    _write(p, pos)
    _write(folder / "Angles" / f"{name}_angles{suf}.txt.gz", ang)
    return p


def _tpose(t: int = 1) -> np.ndarray:
    """Offsets (cm) of a simple rest pose; root at (10, 100, -200) cm."""
    off = np.zeros((22, 3))
    off[J["waist"]] = [10, 100, -200]
    for name, o in {
        "spine": [0, 20, 0], "chest": [0, 20, 0], "neck": [0, 5, 0], "head": [0, 10, 0],
        "head_tip": [0, 10, 0], "left_collar": [5, 0, 0], "left_shoulder": [10, 0, 0],
        "left_elbow": [30, 0, 0], "left_wrist": [25, 0, 0], "right_collar": [-5, 0, 0],
        "right_shoulder": [-10, 0, 0], "right_elbow": [-30, 0, 0], "right_wrist": [-25, 0, 0],
        "left_hip": [10, 0, 0], "left_knee": [0, -40, 0], "left_ankle": [0, -40, 0],
        "left_toes": [0, 0, 15], "right_hip": [-10, 0, 0], "right_knee": [0, -40, 0],
        "right_ankle": [0, -40, 0], "right_toes": [0, 0, 15],
    }.items():
        off[J[name]] = o
    return np.repeat(off[None], t, axis=0)


# ------------------------------------------------------------------ rotations
def test_euler_to_matrix_orders_differ_and_are_rotations() -> None:
    a = np.array([90.0, 90.0, 0.0])
    z = np.array([0.0, 0.0, 1.0])
    # zxy: Ry(90) takes z to x, Rx(90) keeps x.
    np.testing.assert_allclose(euler_to_matrix(a, "zxy") @ z, [1, 0, 0], atol=1e-12)
    # zyx: Rx(90) takes z to -y, Ry(90) keeps y.
    np.testing.assert_allclose(euler_to_matrix(a, "zyx") @ z, [0, -1, 0], atol=1e-12)
    r = euler_to_matrix(np.random.default_rng(0).uniform(-180, 180, (5, 4, 3)))
    assert r.shape == (5, 4, 3, 3)
    np.testing.assert_allclose(r @ np.swapaxes(r, -1, -2), np.broadcast_to(np.eye(3), r.shape),
                               atol=1e-12)
    with pytest.raises(FormatError, match="permutation of 'xyz'"):
        euler_to_matrix(a, "xxy")


# ----------------------------------------------------------- synthetic FK tests
def test_rest_pose_positions(tmp_path: Path) -> None:
    p = _make_pair(tmp_path, _tpose(2), np.zeros((2, 22, 3)))
    seq = read_uiprmd_file(p)
    x = seq.joints[0]
    assert seq.joints.shape == (2, 22, 3) and seq.layout == "uiprmd22" and seq.fps == 30
    np.testing.assert_allclose(x[J["waist"]], [0.10, 1.00, -2.00], atol=1e-6)
    np.testing.assert_allclose(x[J["head_tip"]], [0.10, 1.65, -2.00], atol=1e-6)
    np.testing.assert_allclose(x[J["left_wrist"]], [0.10 + 0.70, 1.40, -2.00], atol=1e-6)
    np.testing.assert_allclose(x[J["right_toes"]], [0.0, 0.20, -1.85], atol=1e-6)


def test_root_rotation_90_degrees_about_y(tmp_path: Path) -> None:
    ang = np.zeros((1, 22, 3))
    ang[0, J["waist"]] = [0, 90, 0]  # Ry(90): x -> -z, z -> x
    seq = read_uiprmd_file(_make_pair(tmp_path, _tpose(1), ang))
    x = seq.joints[0]
    np.testing.assert_allclose(x[J["waist"]], [0.10, 1.00, -2.00], atol=1e-6)  # root stays
    np.testing.assert_allclose(x[J["left_hip"]], [0.10, 1.00, -2.10], atol=1e-6)
    np.testing.assert_allclose(x[J["right_hip"]], [0.10, 1.00, -1.90], atol=1e-6)
    # toes offset (0, 0, 15) turns to +x: foot below the left hip points along +x.
    np.testing.assert_allclose(x[J["left_toes"]], [0.25, 0.20, -2.10], atol=1e-6)
    np.testing.assert_allclose(x[J["head_tip"]], [0.10, 1.65, -2.00], atol=1e-6)


def test_joint_rotation_moves_children_not_itself(tmp_path: Path) -> None:
    """The BVH convention: a joint's angle rotates its children's offsets."""
    ang = np.zeros((1, 22, 3))
    ang[0, J["left_shoulder"]] = [0, 0, 90]  # Rz(90): +x -> +y, the upper arm points up
    x = read_uiprmd_file(_make_pair(tmp_path, _tpose(1), ang)).joints[0]
    np.testing.assert_allclose(x[J["left_shoulder"]], [0.25, 1.40, -2.00], atol=1e-6)
    np.testing.assert_allclose(x[J["left_elbow"]], [0.25, 1.70, -2.00], atol=1e-6)
    np.testing.assert_allclose(x[J["left_wrist"]], [0.25, 1.95, -2.00], atol=1e-6)
    np.testing.assert_allclose(x[J["right_wrist"]], [0.10 - 0.70, 1.40, -2.00], atol=1e-6)


def test_euler_order_option_changes_result(tmp_path: Path) -> None:
    ang = np.zeros((1, 22, 3))
    ang[0, J["left_ankle"]] = [90, 90, 0]  # rotates the toes offset (0, 0, 15)
    p = _make_pair(tmp_path, _tpose(1), ang)
    zxy = read_uiprmd_file(p).joints[0, J["left_toes"]]
    zyx = read_uiprmd_file(p, euler_order="zyx").joints[0, J["left_toes"]]
    np.testing.assert_allclose(zxy, [0.35, 0.20, -2.00], atol=1e-6)  # toes turn to +x
    np.testing.assert_allclose(zyx, [0.20, 0.05, -2.00], atol=1e-6)  # toes turn to -y


def test_median_offsets_make_bone_lengths_constant(tmp_path: Path) -> None:
    pos = _tpose(3)
    pos[:, J["left_knee"], 1] = [-38.0, -44.0, -40.0]  # thigh length fluctuates per frame
    p = _make_pair(tmp_path, pos, np.zeros((3, 22, 3)))
    med = read_uiprmd_file(p).joints
    raw = read_uiprmd_file(p, offsets="per-frame").joints
    thigh = lambda x: np.linalg.norm(x[:, J["left_knee"]] - x[:, J["left_hip"]], axis=-1)
    np.testing.assert_allclose(thigh(med), [0.40, 0.40, 0.40], atol=1e-6)
    np.testing.assert_allclose(thigh(raw), [0.38, 0.44, 0.40], atol=1e-6)
    with pytest.raises(FormatError, match="offsets must be one of subject, median, per-frame"):
        read_uiprmd_file(p, offsets="mean")


# ------------------------------------------------------------------ metadata
def test_meta_folders_filters_and_registry(tmp_path: Path) -> None:
    z = np.zeros((4, 22, 3))
    for m, s, e, inc in [(1, 1, 1, False), (1, 2, 1, False), (7, 1, 3, False), (1, 1, 1, True)]:
        folder = tmp_path / ("incorrect" if inc else "correct")
        _make_pair(folder, _tpose(4), z, f"m{m:02d}_s{s:02d}_e{e:02d}", inc)
    seqs = list(iter_uiprmd(tmp_path))
    assert [s.meta["id"] for s in seqs] == [
        "m01_s01_e01", "m01_s02_e01", "m07_s01_e03", "m01_s01_e01_inc"]
    last = seqs[-1].meta
    assert (last["activity"], last["subject"], last["episode"], last["correct"],
            last["source"], last["units"]) == ("m01", "s01", 1, False, "uiprmd", "m")
    assert [s.meta["label"] for s in seqs] == [0, 0, 6, 0]  # m01 -> 0, m07 -> 6
    assert len(list(iter_uiprmd(tmp_path, movements="m07"))) == 1
    assert len(list(iter_uiprmd(tmp_path, movements=[1], subjects="s01"))) == 2
    assert [s.meta["id"] for s in iter_uiprmd(tmp_path, correct=False)] == ["m01_s01_e01_inc"]
    assert len(list(iter_uiprmd(tmp_path / "correct"))) == 3
    assert len(list(iter_uiprmd(tmp_path / "correct" / "Positions"))) == 3
    # A single angles file finds its positions partner.
    one = list(iter_uiprmd(tmp_path / "correct" / "Angles" / "m07_s01_e03_angles.txt.gz"))
    assert [s.meta["id"] for s in one] == ["m07_s01_e03"]
    assert detect_format(tmp_path) == "uiprmd"
    assert detect_format(tmp_path / "correct") == "uiprmd"
    assert len(list(iter_sequences(tmp_path, movements=7))) == 1
    with pytest.raises(FormatError, match="no UI-PRMD repetition matches movements='m05'"):
        list(iter_uiprmd(tmp_path, movements="m05"))
    with pytest.raises(TaxonomyError, match="movements are m01..m10"):
        list(iter_uiprmd(tmp_path, movements=11))
    with pytest.raises(Flag3dError, match="bad UI-PRMD subject 'x1'"):
        list(iter_uiprmd(tmp_path, subjects="x1"))


def test_parse_name() -> None:
    n = parse_uiprmd_name("m10_s03_e07_angles_inc.txt.gz")
    assert n is not None and (n.movement, n.subject, n.episode, n.kind, n.correct) == (
        10, 3, 7, "angles", False)
    assert n.seq_id == "m10_s03_e07_inc"
    assert parse_uiprmd_name("m1_s03_e07_angles.txt") is None


# -------------------------------------------------------------------- errors
def _pair_text(tmp_path: Path, pos_text: Optional[str], ang_text: Optional[str]) -> Path:
    p = tmp_path / "Positions" / "m01_s01_e01_positions.txt"
    a = tmp_path / "Angles" / "m01_s01_e01_angles.txt"
    for f, t in ((p, pos_text), (a, ang_text)):
        f.parent.mkdir(parents=True, exist_ok=True)
        if t is not None:
            f.write_text(t)
    return p


def _rows(n: int, nvals: int = 66) -> str:
    return "".join(",".join(["1.0"] * nvals) + "\n" for _ in range(n))


def test_wrong_value_count_names_file_and_line(tmp_path: Path) -> None:
    p = _pair_text(tmp_path, _rows(2) + _rows(1, 65), _rows(3))
    with pytest.raises(FormatError, match=r"m01_s01_e01_positions\.txt: line 3 has 65 values, "
                                          r"expected 66"):
        read_uiprmd_file(p)


def test_non_number_and_nan(tmp_path: Path) -> None:
    bad = ",".join(["1.0"] * 10 + ["abc"] + ["1.0"] * 55) + "\n"
    p = _pair_text(tmp_path, _rows(1) + bad, _rows(2))
    with pytest.raises(FormatError, match=r"line 2 value 11 is not a number: 'abc'"):
        read_uiprmd_file(p)
    nan = ",".join(["1.0"] * 4 + ["nan"] + ["1.0"] * 61) + "\n"
    p = _pair_text(tmp_path, _rows(1), _rows(1) + nan)
    with pytest.raises(FormatError, match=r"angles\.txt: line 2 value 5 is nan"):
        read_uiprmd_file(p)


def test_frame_count_mismatch_names_both_files(tmp_path: Path) -> None:
    p = _pair_text(tmp_path, _rows(3), _rows(2))
    with pytest.raises(FormatError, match=r"positions\.txt: has 3 frames but its angles file "
                                          r".*m01_s01_e01_angles\.txt has 2"):
        read_uiprmd_file(p)


def test_missing_partner_names_both(tmp_path: Path) -> None:
    p = _pair_text(tmp_path, _rows(3), None)
    with pytest.raises(FormatError, match=r"positions\.txt: no matching angles file "
                                          r".*Angles/m01_s01_e01_angles\.txt"):
        read_uiprmd_file(p)
    with pytest.raises(FormatError, match="no matching angles file"):
        find_uiprmd_pairs(tmp_path)


def test_empty_and_truncated_gzip(tmp_path: Path) -> None:
    p = _make_pair(tmp_path, _tpose(50), np.zeros((50, 22, 3)))
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError, match=r"positions\.txt\.gz: truncated gzip file: the data "
                                          r"stops inside line \d+"):
        read_uiprmd_file(p)
    p.write_bytes(b"")
    with pytest.raises(FormatError, match=r"positions\.txt\.gz: empty file \(0 bytes\)"):
        read_uiprmd_file(p)
    with gzip.open(p, "wb") as fh:
        fh.write(b"\n\n")
    with pytest.raises(FormatError, match=r"empty file \(no frames\)"):
        read_uiprmd_file(p)
    p.write_bytes(b"not gzip at all")
    with pytest.raises(FormatError, match="not a valid gzip file"):
        read_uiprmd_file(p)


# ------------------------------------------------------------------ real data
@pytest.fixture(scope="module")
def real() -> List:
    """Every UI-PRMD repetition, loaded once for the module."""
    root = shared_path("uiprmd")
    return list(iter_uiprmd(root))


def _bone_lengths(x: np.ndarray) -> np.ndarray:
    return np.stack([np.linalg.norm(x[:, j] - x[:, p], axis=-1) for j, p in LAY.edges], axis=1)


def test_real_all_repetitions_load(real: List) -> None:
    assert len(real) == 2000
    count = Counter(s.meta["correct"] for s in real)
    assert count == {True: 1000, False: 1000}
    for flag in (True, False):
        keys = {(s.meta["activity"], s.meta["subject"], s.meta["episode"])
                for s in real if s.meta["correct"] == flag}
        assert len(keys) == 1000
        assert {k[0] for k in keys} == {f"m{i:02d}" for i in range(1, 11)}
        assert {k[1] for k in keys} == {f"s{i:02d}" for i in range(1, 11)}
        assert {k[2] for k in keys} == set(range(1, 11))
    assert all(s.joints.shape[1:] == (22, 3) and s.meta["units"] == "m" for s in real)


def test_real_bone_lengths_constant(real: List) -> None:
    worst = 0.0
    for s in real:
        b = _bone_lengths(s.joints.astype(np.float64))
        spread = (b.max(0) - b.min(0)) / b.mean(0)
        worst = max(worst, float(spread.max()))
    assert worst < 1e-3, worst  # measured 6.3e-5 (float32 rounding only)


def test_real_first_frame_upright(real: List) -> None:
    up = np.array([s.joints[0, J["head"], 1] - s.joints[0, J["waist"], 1] for s in real])
    assert up.min() > 0.40, up.min()  # measured min 0.469 m, median 0.587 m


def _lr_ratio(s, left: List[str], right: List[str]) -> float:
    x = s.joints[0].astype(np.float64)
    length = lambda names: sum(np.linalg.norm(x[J[n]] - x[LAY.parents[J[n]]]) for n in names)
    return length(left) / length(right)


LEG = (["left_knee", "left_ankle"], ["right_knee", "right_ankle"])  # hip -> knee -> ankle
ARM = (["left_shoulder", "left_elbow", "left_wrist"],  # collar -> shoulder -> elbow -> wrist
       ["right_shoulder", "right_elbow", "right_wrist"])


def test_real_left_right_limb_lengths(real: List) -> None:
    """Left and right limbs agree within 10 % in every repetition.

    With the default one-skeleton-per-subject offsets, measured worst ratios over all 2000
    repetitions: whole arm (collar to wrist) 1.053, whole leg (hip to ankle) 1.025,
    forearm 1.052, thigh 1.061, shank 1.048.  The upper arm alone is not symmetric (up to
    1.146: Kinect places the left and right shoulder joints differently), so the arm is
    judged as a whole.  With per-repetition offsets (``offsets="median"``) single
    repetitions are much worse (leg within 10 % in only 95.5 %), see the module docstring.
    """
    assert {s.meta["offsets"] for s in real} == {"subject"}
    sym = lambda r: max(r, 1.0 / r)
    limbs = {"leg": LEG, "arm": ARM, "forearm": (["left_wrist"], ["right_wrist"]),
             "thigh": (["left_knee"], ["right_knee"]), "shank": (["left_ankle"], ["right_ankle"])}
    for name, (left, right) in limbs.items():
        worst = max(sym(_lr_ratio(s, left, right)) for s in real)
        assert worst <= 1.10, (name, worst)


def test_real_deep_squat_goes_down(real: List) -> None:
    """m01: the waist drops >= 0.20 m in every correct squat.

    Some incorrect squats are deliberately shallow (the error): their drop is smaller
    (measured min 0.151 m), so they get a lower bound.  The waist height is the raw root
    position, independent of the FK.
    """
    drops: Dict[bool, List[float]] = {True: [], False: []}
    for s in real:
        if s.meta["activity"] == "m01":
            y = s.joints[:, J["waist"], 1]
            drops[s.meta["correct"]].append(float(y[0] - y.min()))
    assert len(drops[True]) == len(drops[False]) == 100
    assert min(drops[True]) >= 0.20, min(drops[True])
    assert min(drops[False]) >= 0.10, min(drops[False])


def test_real_feet_stay_on_floor_in_squat_and_sit_to_stand(real: List) -> None:
    """Pins the Euler order: with Rz Rx Ry the feet stay down (Rz Ry Rx lifts them ~0.5 m)."""
    for act in ("m01", "m05"):
        rise = []
        for s in real:
            if s.meta["activity"] == act and s.meta["correct"]:
                a = s.joints[:, [J["left_ankle"], J["right_ankle"]], 1]
                rise.append(float((a - a[:1]).max(0).min()))
        assert np.median(rise) < 0.03, (act, np.median(rise))


def test_real_squat_holds_dowel_overhead(real: List) -> None:
    first = [s.joints[0] for s in real if s.meta["activity"] == "m01" and s.meta["correct"]]
    above = [min(x[J["left_wrist"], 1], x[J["right_wrist"], 1]) > x[J["head"], 1]
             for x in first]
    assert np.mean(above) > 0.9, np.mean(above)

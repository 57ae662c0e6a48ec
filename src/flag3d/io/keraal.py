"""Readers for the Keraal skeleton files: Kinect, BlazePose, OpenPose and AlphaPose.

Keraal records low-back-pain exercises (``CTK``, ``ELK``, ``RTK``) with several systems.
File names look like ``G3-Kinect-CTK-P1T1-Unknown-C-0.txt``: group, modality (``Kinect``,
``BP``, ``OP``, ``AP``, ``Vicon``), exercise, participant + trial, a tag, the label (``C``
for correct, else the error label) and the recording id.  They fill ``meta``: ``id`` (file
stem), ``activity`` (the exercise code), ``subject`` (``"P1"``), ``correct`` (label ==
``"C"``), ``source="keraal"``, ``domain="real"``, and ``meta["keraal"]`` with the raw fields.

Formats (registered names) and what each returns:

=====================  ==============  =======================================================
``keraal-kinect``      ``kinect25``    ``.txt``, 175 values per line = 25 joints x (x y z qx
                                       qy qz qw); joints (T, 25, 3) in metres in the Kinect
                                       v2 camera frame (right-handed, y up along the sensor's
                                       tilt, z away from the sensor, x to the sensor's left).
                                       The joint orientations are not kept.
``keraal-blazepose``   ``blazepose33`` ``.json`` ``{"positions": {"1.0": {"Nose": [x, y, z],
                                       ...}}}``; (T, 33, 2) normalised image coordinates
                                       (``depth=True``: (T, 33, 3) with MediaPipe's relative
                                       depth as the third value).
``keraal-openpose``    ``coco17``      ``.json`` with COCO-18 names (``Nose``, ``Neck``,
                                       ``rShoulder``...); the neck is dropped; (T, 17, 2).
``keraal-alphapose``   ``coco17``      ``.json`` with joint keys ``"0"``..``"16"`` in COCO
                                       order; (T, 17, 2).
=====================  ==============  =======================================================

2D coordinates are normalised to [0, 1] by the image size (``units="normalized"``, y down).
A joint or frame the detector missed gets confidence 0 and coordinates 0; detected joints
get confidence 1 (the files carry no detector scores).  The Vicon files (17 rigid targets)
have no layout yet and are not read.

**BlazePose files are mirrored.**  Keraal ran BlazePose on horizontally flipped video frames
(the "selfie view"), so in the files x is measured from the other image border and every
``Left_*`` landmark is the person's right side.  Measured on the three exercises: with the
raw values the BlazePose joints lie a median 0.93-1.06 torso lengths from the AlphaPose
joints of the same frame; after ``x -> 1 - x`` and swapping left/right labels, 0.034-0.039
(OpenPose agrees with AlphaPose).  ``read_keraal_blazepose(..., mirrored=True)`` (the
default, a property of these files) undoes both; pass ``mirrored=False`` for BlazePose
output from unflipped video.

**Frame alignment.**  The frame index of every returned sequence is the 0-based video frame.
BlazePose and OpenPose keys are 1-based (``"1.0"`` is video frame 0), AlphaPose keys are
0-based (``frame_base`` 1, 1, 0).  Measured by trying lags of -4..4 frames: BlazePose key
k+1, OpenPose key k+1 and AlphaPose key k agree best (all three exercises, median joint
distance minimal at that lag).  Gaps (AlphaPose CTK misses frame 12) become frames with
confidence 0, and the empty last key that OpenPose writes after the final video frame is
dropped (``trim_empty_end``), so the three 2D files of an exercise have the same length
(CTK 196, ELK 193, RTK 194 frames).  BlazePose keys count *detected* frames only, so they
equal video frames only when every frame had a detection (true for these files).  Kinect
line i is about video frame i (best lag 0, 0 and +1 frame for CTK/ELK/RTK when the Kinect
joints are fitted to the BlazePose image points); the Kinect file may have a few more lines
than the video has frames.  All formats are taken as 30 fps.

Example:
    >>> from flag3d.io.keraal import parse_keraal_name
    >>> n = parse_keraal_name("G3-BP-CTK-P1T1-Unknown-C-0.json")
    >>> n.modality, n.exercise, n.participant, n.trial, n.label
    ('blazepose', 'CTK', 'P1', 'T1', 'C')
    >>> from flag3d.io.keraal import read_keraal_blazepose
    >>> from flag3d.paths import shared_data_dir
    >>> s = read_keraal_blazepose(shared_data_dir() / "keraal" /
    ...                           "G3-BP-CTK-P1T1-Unknown-C-0.json")  # doctest: +SKIP
    >>> s.joints.shape, s.layout, s.meta["units"]  # doctest: +SKIP
    ((196, 33, 2), 'blazepose33', 'normalized')
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

import numpy as np

from flag3d.errors import FormatError
from flag3d.io.registry import register_format
from flag3d.io.uiprmd import read_table
from flag3d.skeleton.layouts import get_layout
from flag3d.skeleton.sequence import Sequence

PathLike = Union[str, "os.PathLike[str]"]

FPS = 30.0
SOURCE = "keraal"
KINECT_JOINTS = 25
KINECT_VALUES = KINECT_JOINTS * 7
#: Key of the first video frame in each json format.
FRAME_BASE = {"blazepose": 1, "openpose": 1, "alphapose": 0}

_MODALITIES = {
    "kinect": "kinect", "bp": "blazepose", "blazepose": "blazepose", "op": "openpose",
    "openpose": "openpose", "ap": "alphapose", "alphapose": "alphapose", "vicon": "vicon",
}
_NAME_RE = re.compile(r"^G(?P<group>[0-9][A-Za-z]?)[-_](?P<mod>[A-Za-z]+)[-_]"
                      r"(?P<ex>[A-Za-z]{3})(?:[-_](?P<rest>.*))?$")
_PT_RE = re.compile(r"^(?P<p>P\d+)(?P<t>T\d+)?$")

# BlazePose names in the files -> our blazepose33 names.
_BP_NAMES = {n: n.lower() for n in (
    "Nose", "Left_eye_inner", "Left_eye", "Left_eye_outer", "Right_eye_inner", "Right_eye",
    "Right_eye_outer", "Left_ear", "Right_ear", "Left_shoulder", "Right_shoulder",
    "Left_elbow", "Right_elbow", "Left_wrist", "Right_wrist", "Left_pinky", "Right_pinky",
    "Left_index", "Right_index", "Left_thumb", "Right_thumb", "Left_hip", "Right_hip",
    "Left_knee", "Right_knee", "Left_ankle", "Right_ankle", "Left_heel", "Right_heel",
    "Left_foot_index", "Right_foot_index")}
_BP_NAMES.update({"Mouth_left": "left_mouth", "Mouth_right": "right_mouth"})

# OpenPose COCO-18 names -> coco17 names (the neck has no COCO-17 counterpart).
_OP_NAMES = {
    "Nose": "nose", "lEye": "left_eye", "rEye": "right_eye", "lEar": "left_ear",
    "rEar": "right_ear", "lShoulder": "left_shoulder", "rShoulder": "right_shoulder",
    "lElbow": "left_elbow", "rElbow": "right_elbow", "lWrist": "left_wrist",
    "rWrist": "right_wrist", "lHip": "left_hip", "rHip": "right_hip", "lKnee": "left_knee",
    "rKnee": "right_knee", "lAnkle": "left_ankle", "rAnkle": "right_ankle", "Neck": None,
}


# ------------------------------------------------------------------------ names
@dataclass(frozen=True)
class KeraalName:
    """The fields of a Keraal file name (missing fields are ``None``)."""

    group: str
    modality: str
    exercise: str
    participant: Optional[str] = None
    trial: Optional[str] = None
    tag: Optional[str] = None
    label: Optional[str] = None
    recording: Optional[str] = None


def parse_keraal_name(name: str) -> Optional[KeraalName]:
    """Parse ``G3-Kinect-CTK-P1T1-Unknown-C-0.txt`` and similar; ``None`` if it does not fit."""
    stem = Path(name).name.split(".")[0]
    m = _NAME_RE.match(stem)
    if m is None or m["mod"].lower() not in _MODALITIES:
        return None
    fields: Dict[str, Optional[str]] = {}
    rest = re.split(r"[-_]", m["rest"]) if m["rest"] else []
    if rest:
        pt = _PT_RE.match(rest[0])
        if pt:
            fields["participant"], fields["trial"] = pt["p"], pt["t"]
        else:
            fields["participant"] = rest[0]
        if len(rest) == 4:  # group 3: tag, label, recording
            fields["tag"], fields["label"], fields["recording"] = rest[1:]
        elif len(rest) >= 2:
            fields["recording"] = rest[-1]
    return KeraalName(m["group"], _MODALITIES[m["mod"].lower()], m["ex"].upper(), **fields)


def _meta(path: Path, units: str) -> Dict[str, Any]:
    meta: Dict[str, Any] = {"id": path.name.split(".")[0], "source": SOURCE, "units": units,
                            "domain": "real"}
    info = parse_keraal_name(path.name)
    if info is not None:
        meta["activity"] = info.exercise
        if info.participant:
            meta["subject"] = info.participant
        if info.label is not None:
            meta["correct"] = info.label.upper() == "C"
        meta["keraal"] = {k: v for k, v in asdict(info).items() if v is not None}
    return meta


# ------------------------------------------------------------------------ kinect
def read_keraal_kinect(path: PathLike) -> Sequence:
    """Read a Keraal Kinect ``.txt`` file: (T, 25, 3) metres, layout ``kinect25``."""
    p = Path(path)
    table = read_table(p, KINECT_VALUES, sep=None).reshape(-1, KINECT_JOINTS, 7)
    joints = table[..., :3]
    missing = np.all(joints == 0.0, axis=-1)
    conf = (~missing).astype(np.float32) if missing.any() else None
    return Sequence(joints, layout="kinect25", fps=FPS, confidence=conf,
                    meta=_meta(p, "m"), path=str(p))


# -------------------------------------------------------------------------- json
def _load_positions(path: Path) -> Dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise FormatError(f"cannot read file ({err.strerror or err})", path=path) from None
    except UnicodeDecodeError:
        raise FormatError("not a text (UTF-8) file", path=path) from None
    if not text.strip():
        raise FormatError("empty file", path=path)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise FormatError(f"not valid JSON ({err.msg} at line {err.lineno} column {err.colno})",
                          path=path) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("positions"), dict):
        raise FormatError("expected a JSON object with a 'positions' dictionary of frames",
                          path=path)
    if not doc["positions"]:
        raise FormatError("'positions' holds no frame", path=path)
    return doc["positions"]


def _frame_number(key: str, base: int, path: Path) -> int:
    try:
        f = float(key)
    except ValueError:
        f = float("nan")
    if not np.isfinite(f) or f != int(f) or int(f) < base:
        raise FormatError(f"frame key {key!r} is not a frame number >= {base}", path=path)
    return int(f) - base


def _json_sequence(path: Path, names: Callable[[str], Optional[int]], layout: str, dims: int,
                   base: int, trim_empty_end: bool) -> Tuple[np.ndarray, np.ndarray]:
    """Frames of a Keraal json file as (T, V, dims) joints and (T, V) confidence."""
    frames = _load_positions(path)
    v = get_layout(layout).num_joints
    rows: Dict[int, Dict[int, Any]] = {}
    for key, joints in frames.items():
        t = _frame_number(key, base, path)
        if t in rows:
            raise FormatError(f"frame {key!r} appears twice", path=path)
        if not isinstance(joints, dict):
            raise FormatError(f"frame {key!r}: expected a dictionary of joints", path=path)
        row: Dict[int, Any] = {}
        for name, xy in joints.items():
            j = names(name)
            if j is None:
                continue
            if j < 0:
                raise FormatError(f"frame {key!r}: unknown joint name {name!r}", path=path)
            if (not isinstance(xy, list) or len(xy) < dims
                    or not all(isinstance(c, (int, float)) for c in xy[:dims])):
                raise FormatError(f"frame {key!r} joint {name!r}: expected {dims} numbers, "
                                  f"got {xy!r}", path=path)
            row[j] = xy[:dims]
        rows[t] = row
    last = max(rows)
    if last > 10 * len(rows) + 1000:
        raise FormatError(f"frame keys jump to {last + base} but the file has only "
                          f"{len(rows)} frames", path=path)
    if trim_empty_end:
        while last >= 0 and not rows.get(last):
            last -= 1
        if last < 0:
            raise FormatError("no frame holds any joint", path=path)
    n = last + 1
    joints = np.zeros((n, v, dims), dtype=np.float64)
    conf = np.zeros((n, v), dtype=np.float32)
    for t, row in rows.items():
        if t < n and row:
            idx = np.fromiter(row.keys(), dtype=np.int64, count=len(row))
            joints[t, idx] = np.asarray(list(row.values()), dtype=np.float64)
            conf[t, idx] = 1.0
    bad = ~np.isfinite(joints)
    if bad.any():
        t = int(np.argwhere(bad)[0][0])
        raise FormatError(f"NaN or inf coordinates in frame {t + base}", path=path)
    return joints, conf


def _name_lookup(table: Dict[str, Optional[str]], layout: str) -> Callable[[str], Optional[int]]:
    lay = get_layout(layout)
    index = {k: (None if v is None else lay.index(v)) for k, v in table.items()}
    return lambda name: index.get(name, -1)


def read_keraal_blazepose(path: PathLike, *, mirrored: bool = True, depth: bool = False,
                          frame_base: int = FRAME_BASE["blazepose"],
                          trim_empty_end: bool = True) -> Sequence:
    """Read a Keraal BlazePose ``.json`` file (layout ``blazepose33``, normalised coords).

    Args:
        path: the file.
        mirrored: the file comes from horizontally flipped frames (true for Keraal): undo it
            with ``x -> 1 - x`` and by swapping left/right landmarks.
        depth: also return MediaPipe's relative depth as a third coordinate.
        frame_base: key of the first video frame.
        trim_empty_end: drop empty frames at the end of the file.
    """
    p = Path(path)
    joints, conf = _json_sequence(p, _name_lookup(_BP_NAMES, "blazepose33"), "blazepose33",
                                  3 if depth else 2, frame_base, trim_empty_end)
    if mirrored:
        joints[..., 0] = np.where(conf > 0, 1.0 - joints[..., 0], 0.0)
        flip = get_layout("blazepose33").flip_index()
        joints, conf = joints[:, flip], conf[:, flip]
    meta = _meta(p, "normalized")
    meta["mirrored_in_file"] = bool(mirrored)
    if depth:
        meta["depth"] = "relative (MediaPipe z, about the scale of x)"
    return Sequence(joints, layout="blazepose33", fps=FPS, confidence=conf, meta=meta,
                    path=str(p))


def read_keraal_openpose(path: PathLike, *, frame_base: int = FRAME_BASE["openpose"],
                         trim_empty_end: bool = True) -> Sequence:
    """Read a Keraal OpenPose (COCO-18) ``.json`` file as ``coco17`` (the neck is dropped)."""
    p = Path(path)
    joints, conf = _json_sequence(p, _name_lookup(_OP_NAMES, "coco17"), "coco17", 2,
                                  frame_base, trim_empty_end)
    return Sequence(joints, layout="coco17", fps=FPS, confidence=conf,
                    meta=_meta(p, "normalized"), path=str(p))


def read_keraal_alphapose(path: PathLike, *, frame_base: int = FRAME_BASE["alphapose"],
                          trim_empty_end: bool = True) -> Sequence:
    """Read a Keraal AlphaPose ``.json`` file (joint keys ``"0"``..``"16"``, COCO-17 order)."""
    p = Path(path)
    keys = {str(i): name for i, name in enumerate(get_layout("coco17").joints)}
    joints, conf = _json_sequence(p, _name_lookup(keys, "coco17"), "coco17", 2, frame_base,
                                  trim_empty_end)
    return Sequence(joints, layout="coco17", fps=FPS, confidence=conf,
                    meta=_meta(p, "normalized"), path=str(p))


# ---------------------------------------------------------------------- registry
_READERS: Dict[str, Tuple[Callable[..., Sequence], str]] = {
    "kinect": (read_keraal_kinect, ".txt"),
    "blazepose": (read_keraal_blazepose, ".json"),
    "openpose": (read_keraal_openpose, ".json"),
    "alphapose": (read_keraal_alphapose, ".json"),
}


def _is_modality_file(p: Path, modality: str) -> bool:
    info = parse_keraal_name(p.name)
    return (p.is_file() and info is not None and info.modality == modality
            and p.suffix.lower() == _READERS[modality][1])


def keraal_files(path: PathLike, modality: str) -> List[Path]:
    """The Keraal files of ``modality`` in a folder (sorted), or ``[path]`` for a file."""
    p = Path(path)
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise FormatError("no such file or folder", path=p)
    files = sorted(f for f in p.iterdir() if _is_modality_file(f, modality))
    if not files:
        raise FormatError(f"no Keraal {modality} files here (expected names like "
                          f"G3-{modality}-CTK-P1T1-Unknown-C-0{_READERS[modality][1]})", path=p)
    return files


def _make_reader(modality: str) -> Callable[..., Iterator[Sequence]]:
    read_one = _READERS[modality][0]

    def reader(path: PathLike, **opts: Any) -> Iterator[Sequence]:
        for f in keraal_files(path, modality):
            yield read_one(f, **opts)

    reader.__name__ = f"iter_keraal_{modality}"
    reader.__doc__ = (f"Read a Keraal {modality} file, or every one in a folder "
                      f"(options as for read_keraal_{modality}).")
    return reader


iter_keraal_kinect = _make_reader("kinect")
iter_keraal_blazepose = _make_reader("blazepose")
iter_keraal_openpose = _make_reader("openpose")
iter_keraal_alphapose = _make_reader("alphapose")

for _mod, _reader, _desc in (
    ("kinect", iter_keraal_kinect, "Keraal Kinect v2 txt (25 joints, metres) -> kinect25"),
    ("blazepose", iter_keraal_blazepose,
     "Keraal BlazePose json (mirrored in the files; un-mirrored on read) -> blazepose33"),
    ("openpose", iter_keraal_openpose, "Keraal OpenPose COCO-18 json -> coco17"),
    ("alphapose", iter_keraal_alphapose, "Keraal AlphaPose COCO-17 json -> coco17"),
):
    register_format(f"keraal-{_mod}", _desc,
                    detect=lambda p, _m=_mod: _is_modality_file(Path(p), _m), reader=_reader)

"""Reader for the UI-PRMD Kinect files (format ``uiprmd``, layout ``uiprmd22``).

UI-PRMD stores each repetition as two text files (optionally gzipped) with one frame per
line and 66 comma-separated values (22 joints x 3):

* ``Positions/mMM_sSS_eEE_positions[_inc].txt[.gz]``: joint 0 (waist) is the absolute root
  position in centimetres; every other joint is the bone offset from its parent, expressed
  in the parent's local frame.
* ``Angles/mMM_sSS_eEE_angles[_inc].txt[.gz]``: per joint Euler angles in degrees, columns
  (x, y, z).

Absolute joints come from forward kinematics (FK), BVH style::

    G_0 = R_0,  G_j = G_parent(j) @ R_j
    p_0 = root position,  p_j = p_parent(j) + G_parent(j) @ offset_j

so a joint's rotation turns the bones of its *children*, and the leaf joints (head tip,
toes), whose angles are always zero in the files, rotate nothing.

**Euler order.** The local rotation is ``R = Rz(z) @ Rx(x) @ Ry(y)`` (the BVH
``Zrotation Xrotation Yrotation`` channel order), not ``Rz Ry Rx``.  Measured on all 2000
repetitions: with ``zxy`` both feet stay on the floor during the deep squat (m01) and sit
to stand (m05) (median rise of the lower ankle 3 mm and 8 mm), and in the hurdle step (m02)
the lifted knee reaches hip height; with ``zyx`` the ankles "rise" by a median 0.42 m and
0.67 m and the lifted thigh points straight up.  ``zxy`` gave the most stationary feet in
every one of the 400 m01/m05 repetitions.  ``euler_order`` selects another order for
comparison.

**Offsets.** Kinect re-estimates the bone lengths in every frame, so the per-frame offsets
fluctuate (bone lengths vary by 3-17 % within one repetition, and left/right segments of
one repetition differ by up to 55 %: Kinect places the two shoulders differently and a
hidden leg in a lunge gets a wrong length).  A person's bones do not change, so by default
(``offsets="subject"``) every repetition of a subject uses ONE skeleton: the per-joint
median offset over all of that subject's repetitions found in the same dataset folder
(``correct`` and ``incorrect``; 200 repetitions per subject in the full data).  Measured on
the full data, left/right whole arms then agree within 5.3 % and whole legs within 2.5 %
for every subject.  When the file is not inside a UI-PRMD folder the reader falls back to
``offsets="median"``: one offset set per repetition (the median over its own frames).  In
both cases bone lengths are constant in time; the joint angles and the root position
still change every frame.  ``offsets="per-frame"`` keeps the raw per-frame offsets for
users who want the data exactly as recorded.  ``meta["offsets"]`` says which was used.

**Coordinate frame of the result.** Metres (converted from cm), right-handed, y up.  The
floor is near ``y = 0`` (median lowest toe height 4 mm over the data set); the person
stands 2.2-2.7 m from the origin at negative z, facing +z, with their left side towards
+x.  The root keeps its absolute position (no centring).

Metadata: ``id`` (``"m01_s01_e01"`` plus ``"_inc"``), ``activity`` (``"m01"`` ..
``"m10"``), ``label`` (0-based movement index, m01 -> 0), ``subject`` (``"s01"``),
``episode`` (int), ``correct``, ``source="uiprmd"``, ``units="m"``, ``domain="real"``,
and the FK settings ``offsets`` and ``euler_order``.
Frame rate 30 Hz.

Example:
    >>> from flag3d.io.uiprmd import euler_to_matrix
    >>> euler_to_matrix([0.0, 90.0, 0.0]).round(6).tolist()  # Ry(90 deg)
    [[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]]
    >>> from flag3d.io.uiprmd import iter_uiprmd
    >>> from flag3d.paths import shared_data_dir
    >>> seqs = list(iter_uiprmd(shared_data_dir() / "uiprmd", movements="m01", subjects=1,
    ...                         correct=True))  # doctest: +SKIP
    >>> len(seqs), seqs[0].meta["id"], seqs[0].joints.shape  # doctest: +SKIP
    (10, 'm01_s01_e01', (73, 22, 3))
"""

from __future__ import annotations

import io
import os
import re
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Sequence as Seq, Tuple, Union

import numpy as np

from flag3d.errors import Flag3dError, FormatError, TaxonomyError
from flag3d.io.registry import register_format
from flag3d.skeleton.layouts import get_layout
from flag3d.skeleton.sequence import Sequence

PathLike = Union[str, "os.PathLike[str]"]

FORMAT = "uiprmd"
LAYOUT = "uiprmd22"
FPS = 30.0
NUM_JOINTS = 22
NUM_VALUES = NUM_JOINTS * 3
DEFAULT_EULER_ORDER = "zxy"
OFFSET_MODES = ("subject", "median", "per-frame")

_NAME_RE = re.compile(
    r"^m(?P<m>\d{2})_s(?P<s>\d{2})_e(?P<e>\d{2})_(?P<kind>positions|angles)(?P<inc>_inc)?"
    r"\.txt(?:\.gz)?$"
)
_CATEGORIES = ("correct", "incorrect")
IdFilter = Union[None, int, str, Iterable[Union[int, str]]]


@dataclass(frozen=True)
class UiprmdName:
    """The fields of a UI-PRMD file name such as ``m01_s02_e03_positions_inc.txt.gz``."""

    movement: int
    subject: int
    episode: int
    kind: str  # "positions" or "angles"
    correct: bool

    @property
    def seq_id(self) -> str:
        """The repetition id, e.g. ``"m01_s02_e03_inc"``."""
        base = f"m{self.movement:02d}_s{self.subject:02d}_e{self.episode:02d}"
        return base if self.correct else base + "_inc"


def parse_uiprmd_name(name: str) -> Optional[UiprmdName]:
    """Parse a UI-PRMD file name; ``None`` when it does not follow the pattern."""
    m = _NAME_RE.match(name)
    if m is None:
        return None
    return UiprmdName(int(m["m"]), int(m["s"]), int(m["e"]), m["kind"], m["inc"] is None)


def partner_path(path: PathLike) -> Path:
    """The angles file of a positions file, or the positions file of an angles file."""
    p = Path(path)
    info = parse_uiprmd_name(p.name)
    if info is None:
        raise FormatError("not a UI-PRMD file name (expected mMM_sSS_eEE_positions[_inc].txt.gz)",
                          path=p)
    other = "angles" if info.kind == "positions" else "positions"
    folder = "Angles" if other == "angles" else "Positions"
    name = p.name.replace(f"_{info.kind}", f"_{other}", 1)
    return p.parent.parent / folder / name


# ----------------------------------------------------------------------- rotations
def euler_to_matrix(angles_deg: "np.ndarray | Seq[float]", order: str = DEFAULT_EULER_ORDER
                    ) -> np.ndarray:
    """Rotation matrices from Euler angles in degrees.

    Args:
        angles_deg: ``(..., 3)`` angles about x, y, z (in that column order).
        order: the composition, left to right: ``"zxy"`` means ``Rz @ Rx @ Ry``.

    Returns:
        ``(..., 3, 3)`` float64 rotation matrices.
    """
    if sorted(order) != ["x", "y", "z"]:
        raise FormatError(f"euler_order must be a permutation of 'xyz', got {order!r}")
    a = np.deg2rad(np.asarray(angles_deg, dtype=np.float64))
    c, s = np.cos(a), np.sin(a)
    one, zero = np.ones_like(a[..., 0]), np.zeros_like(a[..., 0])

    def mat(rows: List[List[np.ndarray]]) -> np.ndarray:
        return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)

    cx, cy, cz = c[..., 0], c[..., 1], c[..., 2]
    sx, sy, sz = s[..., 0], s[..., 1], s[..., 2]
    axes = {
        "x": mat([[one, zero, zero], [zero, cx, -sx], [zero, sx, cx]]),
        "y": mat([[cy, zero, sy], [zero, one, zero], [-sy, zero, cy]]),
        "z": mat([[cz, -sz, zero], [sz, cz, zero], [zero, zero, one]]),
    }
    return axes[order[0]] @ axes[order[1]] @ axes[order[2]]


def forward_kinematics(root: np.ndarray, offsets: np.ndarray, rotations: np.ndarray,
                       parents: Seq[int]) -> np.ndarray:
    """Absolute joint positions, BVH style (a joint's rotation moves its children).

    Args:
        root: ``(T, 3)`` root positions.
        offsets: ``(V, 3)`` or ``(T, V, 3)`` offset of each joint from its parent, in the
            parent's local frame (the root's entry is ignored).
        rotations: ``(T, V, 3, 3)`` local rotation of each joint.
        parents: parent index of each joint, ``-1`` for the root.

    Returns:
        ``(T, V, 3)`` positions in the units of ``root`` and ``offsets``.
    """
    t, v = rotations.shape[:2]
    off = np.broadcast_to(offsets, (t, v, 3))
    glob = np.empty_like(rotations)
    pos = np.empty((t, v, 3), dtype=np.float64)
    for j in _topological_order(parents):
        p = parents[j]
        if p < 0:
            glob[:, j] = rotations[:, j]
            pos[:, j] = root
        else:
            glob[:, j] = glob[:, p] @ rotations[:, j]
            pos[:, j] = pos[:, p] + np.einsum("tab,tb->ta", glob[:, p], off[:, j])
    return pos


def _topological_order(parents: Seq[int]) -> List[int]:
    order: List[int] = [j for j, p in enumerate(parents) if p < 0]
    k = 0
    while k < len(order):
        order.extend(c for c, p in enumerate(parents) if p == order[k])
        k += 1
    return order


# ------------------------------------------------------------------------ parsing
def _read_text(path: Path) -> str:
    """The decoded text of a ``.txt`` or ``.txt.gz`` file, with one-line errors."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise FormatError(f"cannot read file ({err.strerror or err})", path=path) from None
    if not data:
        raise FormatError("empty file (0 bytes)", path=path)
    if path.suffix == ".gz":
        chunks: List[bytes] = []
        rest = data
        while rest:
            d = zlib.decompressobj(wbits=31)
            try:
                chunks.append(d.decompress(rest) + d.flush())
            except zlib.error as err:
                raise FormatError(f"not a valid gzip file ({err})", path=path) from None
            if not d.eof:
                n = b"".join(chunks).count(b"\n")
                raise FormatError(f"truncated gzip file: the data stops inside line {n + 1}",
                                  path=path)
            rest = d.unused_data.lstrip(b"\0")
        data = b"".join(chunks)
    try:
        return data.decode("ascii")
    except UnicodeDecodeError as err:
        raise FormatError(f"not a text file (byte {err.start} is not ASCII)", path=path) from None


def read_table(path: PathLike, ncols: int, sep: Optional[str] = ",") -> np.ndarray:
    """Parse a numeric text table with ``ncols`` values per line into ``(T, ncols)`` float64.

    ``sep=None`` splits on whitespace.  Empty files, short or long lines, non-numbers and
    NaN/inf raise :class:`FormatError` naming the file and the line.
    """
    p = Path(path)
    text = _read_text(p)
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise FormatError("empty file (no frames)", path=p)
    try:
        arr = np.loadtxt(io.StringIO("\n".join(lines)), delimiter=sep, dtype=np.float64,
                         ndmin=2, comments=None)
    except ValueError:
        _diagnose(lines, ncols, sep, p)
        raise FormatError("unreadable numeric table", path=p) from None
    if arr.shape != (len(lines), ncols):
        _diagnose(lines, ncols, sep, p)
        raise FormatError(f"expected {ncols} values per line, got shape {arr.shape}", path=p)
    bad = ~np.isfinite(arr)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        raise FormatError(f"line {row + 1} value {col + 1} is {arr[row, col]} (NaN/inf)",
                          path=p)
    return arr


def _diagnose(lines: List[str], ncols: int, sep: Optional[str], path: Path) -> None:
    """Find the first bad line and raise a precise :class:`FormatError` (slow path)."""
    for i, line in enumerate(lines):
        fields = line.split(sep) if sep is not None else line.split()
        if len(fields) != ncols:
            raise FormatError(f"line {i + 1} has {len(fields)} values, expected {ncols}",
                              path=path)
        for k, f in enumerate(fields):
            try:
                float(f)
            except ValueError:
                raise FormatError(f"line {i + 1} value {k + 1} is not a number: {f.strip()!r}",
                                  path=path) from None


# ------------------------------------------------------------------------ reading
def _median_offsets(path: Path) -> np.ndarray:
    """Per-joint median of a positions file over its frames, ``(22, 3)`` in cm."""
    return np.median(read_table(path, NUM_VALUES).reshape(-1, NUM_JOINTS, 3), axis=0)


@lru_cache(maxsize=64)
def _subject_offsets_cached(subject: int, files: Tuple[str, ...]) -> np.ndarray:
    return np.median(np.stack([_median_offsets(Path(f)) for f in files]), axis=0)


@lru_cache(maxsize=16)
def _positions_by_subject(folders: Tuple[str, ...]) -> Dict[int, Tuple[str, ...]]:
    """Positions files per subject in the given ``Positions`` folders (listed once)."""
    out: Dict[int, List[str]] = {}
    for folder in folders:
        d = Path(folder)
        if d.is_dir():
            for f in sorted(d.iterdir()):
                info = parse_uiprmd_name(f.name)
                if info is not None and info.kind == "positions":
                    out.setdefault(info.subject, []).append(str(f))
    return {k: tuple(v) for k, v in out.items()}


def subject_offsets(positions: PathLike) -> Optional[np.ndarray]:
    """The subject skeleton for a positions file: the median offsets over every positions
    file of the same subject in the same UI-PRMD folder (``None`` outside such a folder).

    Cached per (folder, subject), so reading a whole folder costs one extra pass over the
    positions files.
    """
    p = Path(positions)
    info = parse_uiprmd_name(p.name)
    if info is None or p.parent.name != "Positions":
        return None
    category = p.parent.parent
    if category.name in _CATEGORIES:
        folders = tuple(str(category.parent / c / "Positions") for c in _CATEGORIES)
    else:
        folders = (str(p.parent),)
    files = _positions_by_subject(folders).get(info.subject)
    if not files:
        return None
    return _subject_offsets_cached(info.subject, files)


def read_uiprmd_file(positions: PathLike, angles: Optional[PathLike] = None, *,
                     offsets: str = "subject", euler_order: str = DEFAULT_EULER_ORDER
                     ) -> Sequence:
    """Read one repetition (a positions file and its angles file) into a :class:`Sequence`.

    Args:
        positions: the ``..._positions[_inc].txt[.gz]`` file (an angles file is accepted
            too; its positions partner is then found by name).
        angles: the angles file; by default the file of the same name in the sibling
            ``Angles`` folder.
        offsets: ``"subject"`` (one skeleton per subject, from all of the subject's
            files in the same folder; falls back to ``"median"`` for a lone file),
            ``"median"`` (one offset set per repetition) or ``"per-frame"`` (the raw
            offsets of every frame).
        euler_order: composition order of the Euler angles (see the module docstring).

    Returns:
        ``(T, 22, 3)`` joints in metres, layout ``uiprmd22``, 30 fps.
    """
    if offsets not in OFFSET_MODES:
        raise FormatError(f"offsets must be one of {', '.join(OFFSET_MODES)}; got {offsets!r}")
    pos_path, ang_path = Path(positions), None if angles is None else Path(angles)
    info = parse_uiprmd_name(pos_path.name)
    if info is not None and info.kind == "angles" and ang_path is None:
        pos_path, ang_path = partner_path(pos_path), pos_path
        if not pos_path.is_file():
            raise FormatError(f"no matching positions file {pos_path}", path=ang_path)
    if not pos_path.is_file():
        raise FormatError("no such file", path=pos_path)
    if ang_path is None:
        ang_path = partner_path(pos_path)
    if not ang_path.is_file():
        raise FormatError(f"no matching angles file {ang_path}", path=pos_path)

    pos = read_table(pos_path, NUM_VALUES).reshape(-1, NUM_JOINTS, 3)
    ang = read_table(ang_path, NUM_VALUES).reshape(-1, NUM_JOINTS, 3)
    if len(pos) != len(ang):
        raise FormatError(f"has {len(pos)} frames but its angles file {ang_path} has "
                          f"{len(ang)}", path=pos_path)
    used = offsets
    off: Optional[np.ndarray] = None
    if offsets == "subject":
        off = subject_offsets(pos_path)
        if off is None:
            used = "median"
    if off is None:
        off = np.median(pos, axis=0) if used == "median" else pos
    rot = euler_to_matrix(ang, euler_order)
    joints = forward_kinematics(pos[:, 0], off, rot, get_layout(LAYOUT).parents) / 100.0

    meta = {"source": FORMAT, "units": "m", "domain": "real", "offsets": used,
            "euler_order": euler_order}
    if info is not None:
        meta.update(id=info.seq_id, activity=f"m{info.movement:02d}", label=info.movement - 1,
                    subject=f"s{info.subject:02d}", episode=info.episode, correct=info.correct)
    else:
        meta["id"] = pos_path.name.split(".")[0]
    return Sequence(joints, layout=LAYOUT, fps=FPS, meta=meta, path=str(pos_path))


def _id_set(values: IdFilter, prefix: str, what: str) -> Optional[set]:
    """Normalise a filter (``3``, ``"m03"``, ``["s01", 2]``) to a set of ints."""
    if values is None:
        return None
    if isinstance(values, (int, str)):
        values = [values]
    out = set()
    for v in values:
        s = str(v).strip().lower()
        s = s[len(prefix):] if s.startswith(prefix) else s
        if not s.isdigit():
            err = TaxonomyError if prefix == "m" else Flag3dError
            raise err(f"bad UI-PRMD {what} {v!r} (use e.g. {prefix}01 or 1)")
        out.add(int(s))
    if prefix == "m" and not out <= set(range(1, 11)):
        raise TaxonomyError(f"UI-PRMD movements are m01..m10, got {sorted(out - set(range(1, 11)))}")
    return out


def _category_dirs(p: Path) -> List[Path]:
    """Folders holding ``Positions``/``Angles`` under a dataset root or category folder."""
    if (p / "Positions").is_dir():
        return [p]
    if p.name in ("Positions", "Angles") and (p.parent / "Positions").is_dir():
        return [p.parent]
    return [p / c for c in _CATEGORIES if (p / c / "Positions").is_dir()]


def find_uiprmd_pairs(path: PathLike, *, movements: IdFilter = None, subjects: IdFilter = None,
                      episodes: IdFilter = None, correct: Optional[bool] = None
                      ) -> List[Tuple[Path, Path]]:
    """The (positions, angles) file pairs under ``path`` that pass the filters, sorted.

    ``path`` may be the dataset root (with ``correct/`` and ``incorrect/``), one of those
    folders, a ``Positions`` folder, or a single positions (or angles) file.
    """
    p = Path(path)
    mset = _id_set(movements, "m", "movement")
    sset = _id_set(subjects, "s", "subject")
    eset = _id_set(episodes, "e", "episode")
    if p.is_file():
        info = parse_uiprmd_name(p.name)
        if info is None:
            raise FormatError("not a UI-PRMD file name "
                              "(expected mMM_sSS_eEE_positions[_inc].txt.gz)", path=p)
        pos = p if info.kind == "positions" else partner_path(p)
        ang = partner_path(pos)
        infos = [(info, pos, ang)]
    elif p.is_dir():
        dirs = _category_dirs(p)
        if not dirs:
            raise FormatError("no UI-PRMD data here (expected correct/ and incorrect/ folders "
                              "with Positions/ and Angles/)", path=p)
        infos = []
        for d in dirs:
            for kind, folder in (("positions", "Positions"), ("angles", "Angles")):
                for f in sorted((d / folder).iterdir()) if (d / folder).is_dir() else []:
                    info = parse_uiprmd_name(f.name)
                    if info is None or info.kind != kind:
                        continue
                    if kind == "positions":
                        infos.append((info, f, partner_path(f)))
                    elif not partner_path(f).is_file():
                        raise FormatError(f"no matching positions file {partner_path(f)}",
                                          path=f)
        if not infos:
            raise FormatError("no UI-PRMD positions files found", path=p)
    else:
        raise FormatError("no such file or folder", path=p)

    pairs = []
    for info, pos, ang in infos:
        if ((mset is not None and info.movement not in mset)
                or (sset is not None and info.subject not in sset)
                or (eset is not None and info.episode not in eset)
                or (correct is not None and info.correct != bool(correct))):
            continue
        if not pos.is_file():
            raise FormatError(f"no matching positions file {pos}", path=ang)
        if not ang.is_file():
            raise FormatError(f"no matching angles file {ang}", path=pos)
        pairs.append((not info.correct, info.movement, info.subject, info.episode, pos, ang))
    if not pairs:
        raise FormatError(f"no UI-PRMD repetition matches movements={movements!r}, "
                          f"subjects={subjects!r}, episodes={episodes!r}, correct={correct!r}",
                          path=p)
    pairs.sort(key=lambda r: r[:4])
    return [(r[4], r[5]) for r in pairs]


def iter_uiprmd(path: PathLike, *, movements: IdFilter = None, subjects: IdFilter = None,
                episodes: IdFilter = None, correct: Optional[bool] = None,
                offsets: str = "subject", euler_order: str = DEFAULT_EULER_ORDER
                ) -> Iterator[Sequence]:
    """Read UI-PRMD repetitions, one :class:`Sequence` each (the registry reader).

    Args:
        path: dataset root, ``correct``/``incorrect`` folder, or a single file.
        movements: keep only these (``1``, ``"m01"``, or a list); ``None`` keeps all.
        subjects: likewise (``"s01"`` or ``1``).
        episodes: likewise (``"e01"`` or ``1``).
        correct: ``True`` for correct repetitions only, ``False`` for incorrect only.
        offsets, euler_order: see :func:`read_uiprmd_file`.

    Order: correct before incorrect, then movement, subject, episode.
    """
    pairs = find_uiprmd_pairs(path, movements=movements, subjects=subjects,
                              episodes=episodes, correct=correct)
    for pos, ang in pairs:
        yield read_uiprmd_file(pos, ang, offsets=offsets, euler_order=euler_order)


def detect_uiprmd(path: Path) -> bool:
    """True for a UI-PRMD file name or a folder laid out like UI-PRMD."""
    p = Path(path)
    if p.is_file():
        return parse_uiprmd_name(p.name) is not None
    if p.is_dir():
        for d in _category_dirs(p):
            if any(parse_uiprmd_name(f.name) for f in (d / "Positions").glob("m*_s*_e*_*")):
                return True
    return False


register_format(
    FORMAT,
    "UI-PRMD Kinect repetitions (Positions + Angles text files) -> uiprmd22, metres",
    detect=detect_uiprmd,
    reader=iter_uiprmd,
)

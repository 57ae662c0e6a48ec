"""Turn a generated :class:`~flag3d.synth.rig.Motion` into validated :class:`Sequence` records.

:func:`sensor_3d` builds the ``flag3d24`` and ``ntu25`` sequences (clean, and corrupted by
:func:`~flag3d.synth.corrupt.corrupt_3d` when asked); :func:`render_views` samples one
camera per requested view and builds clean and noisy 2D ``coco17`` sequences in pixels.
A joint counts as *occluded* for a camera when it is more than 10 cm behind the torso
centre (ramping to fully occluded at 30 cm); face points also when the face turns away.

Example:
    >>> from flag3d.synth import SynthConfig, generate_sequence
    >>> s = generate_sequence("A057", seed=0, config=SynthConfig(reps=(2, 2), views=("side",)))
    >>> v = s.views[0]
    >>> v.layout, v.meta["units"], v.meta["domain"], v.meta["view"]
    ('coco17', 'px', 'noisy', 'side')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Tuple

import numpy as np

from flag3d.skeleton.sequence import Sequence
from flag3d.synth.body import Body, J
from flag3d.synth.camera import Camera, sample_camera
from flag3d.synth.corrupt import corrupt_2d, corrupt_3d
from flag3d.synth.derive import coco17_points, face_normal, ntu25_points
from flag3d.synth.rig import Motion

if TYPE_CHECKING:  # pragma: no cover
    from flag3d.synth.corpus import SynthConfig

_FACE_IDX = np.arange(5)
SIDES = ("left", "right")
MetaFn = Callable[..., Dict[str, Any]]  # returns a fresh metadata dict with extra keys


@dataclass
class PlacedMotion:
    """A motion moved to its place in the world: joints and the few rotations needed to
    derive the hands (ntu25) and the face (coco17)."""

    pos: np.ndarray
    head_rot: np.ndarray
    elbow_rot: Dict[str, np.ndarray]
    hand_dir: Dict[str, np.ndarray]
    palm: Dict[str, np.ndarray]


def place(motion: Motion, rmat: np.ndarray, trans: np.ndarray) -> PlacedMotion:
    """Rotate ``motion`` by ``rmat`` ``(T, 3, 3)`` about the origin, then add ``trans``."""
    rt = rmat.transpose(0, 2, 1)

    def vec(d: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        return {k: np.matmul(v[:, None, :], rt)[:, 0] for k, v in d.items()}

    return PlacedMotion(
        pos=np.matmul(motion.pos, rt) + trans[:, None, :],
        head_rot=rmat @ motion.rot[:, J["neck"]],
        elbow_rot={s: rmat @ motion.rot[:, J[f"{s}_elbow"]] for s in SIDES},
        hand_dir=vec(motion.hand_dir), palm=vec(motion.palm),
    )


def sensor_3d(motion: PlacedMotion, body: Body, meta: MetaFn, cfg: "SynthConfig",
              rng: np.random.Generator) -> Tuple[Dict[str, Sequence], Dict[str, Sequence]]:
    """Clean and corrupted 3D sequences ``{"flag3d24": ..., "ntu25": ...}``."""
    arrays = {
        "flag3d24": motion.pos,
        "ntu25": ntu25_points(motion.pos, body, motion.elbow_rot, motion.hand_dir,
                              motion.palm),
    }
    clean, noisy = {}, {}
    for name, arr in arrays.items():
        clean[name] = Sequence(arr, layout=name, fps=cfg.fps, meta=meta(
            units="m", domain="mocap", corrupted=False))
        if cfg.corrupt:
            x, conf = corrupt_3d(rng, arr, cfg.noise_std, cfg.drop_rate)
            noisy[name] = Sequence(x, layout=name, fps=cfg.fps, confidence=conf, meta=meta(
                units="m", domain="mocap", corrupted=True,
                corruption={"noise_std_m": cfg.noise_std, "drop_rate": cfg.drop_rate,
                            "missing": "hold last valid value, confidence 0"}))
    return clean, noisy


def occlusion(points: np.ndarray, depth: np.ndarray, face_dir: np.ndarray,
              cam_pos: np.ndarray, head: np.ndarray) -> np.ndarray:
    """``(T, V)`` occlusion in [0, 1] of coco17 points seen from ``cam_pos``."""
    centre = 0.25 * (depth[:, 5] + depth[:, 6] + depth[:, 11] + depth[:, 12])
    occ = np.clip((depth - centre[:, None] - 0.1) / 0.2, 0.0, 1.0)
    to_cam = cam_pos[None, :] - head
    to_cam /= np.linalg.norm(to_cam, axis=1, keepdims=True)
    away = np.clip(-np.sum(face_dir * to_cam, axis=1) * 2.0, 0.0, 1.0)
    occ[:, _FACE_IDX] = np.maximum(occ[:, _FACE_IDX], away[:, None])
    return occ


def _view_meta(meta: MetaFn, cam: Camera, view_id: str, **more: Any) -> Dict[str, Any]:
    m = meta(units="px", img_shape=list(cam.img_shape), view=cam.view, camera=cam.to_meta(),
             **more)
    m["id"] = f"{m['id']}-{view_id}"
    return m


def render_views(motion: PlacedMotion, body: Body, meta: MetaFn, cfg: "SynthConfig",
                 rng: np.random.Generator, facing: float,
                 floor: bool) -> Tuple[List[Sequence], List[Sequence]]:
    """Clean (``rendered-clean``) and noisy (``noisy``) 2D coco17 sequences per view."""
    if not cfg.views:
        return [], []
    pts = coco17_points(motion.pos, motion.head_rot, body)
    fdir = face_normal(motion.head_rot)
    head = motion.pos[:, J["head"]]
    clean, noisy = [], []
    for k, view in enumerate(cfg.views):
        cam = sample_camera(rng, view, pts, facing, floor, cfg.portrait_prob)
        uv, depth = cam.project(pts)
        occ = occlusion(pts, depth, fdir, cam.position, head)
        view_id = f"{view}{k}"
        clean.append(Sequence(uv, layout="coco17", fps=cfg.fps,
                              confidence=np.ones(uv.shape[:2], dtype=np.float32),
                              meta=_view_meta(meta, cam, view_id, domain="rendered-clean",
                                              corrupted=False)))
        x, score = corrupt_2d(rng, uv, occ, cfg.noise_px, cfg.drop_rate_2d)
        noisy.append(Sequence(x, layout="coco17", fps=cfg.fps, confidence=score,
                              meta=_view_meta(meta, cam, view_id, domain="noisy", corrupted=True,
                                              corruption={"noise_px": cfg.noise_px,
                                                          "drop_rate": cfg.drop_rate_2d,
                                                          "missing": "coordinates 0, score 0"})))
    return clean, noisy

"""Pinhole cameras around the performer and projection to pixel coordinates.

Views are placed relative to the person's initial facing direction: ``front`` (azimuth
0 +- 12 deg), ``side`` (+-90 +- 12 deg, left or right at random) and ``oblique`` (+-45 +-
10 deg).  Distance (2.5-6 m) and height (0.6-1.8 m; 0.9-2.2 m for floor exercises) are
sampled, the camera looks at the centre of the motion's bounding box, and the focal length
is chosen so the whole motion fills 45-85 % of the limiting image side (so every joint is
inside the image).  Images are 1920x1080 landscape, or portrait 1080x1920 (phones) with
probability ``portrait_prob``.  Pixel coordinates: x to the right, y down, origin at the
top-left corner.

Example:
    >>> import numpy as np
    >>> from flag3d.synth.camera import look_at, Camera
    >>> cam = Camera("front", np.array([0.0, 1.0, 4.0]), np.array([0.0, 1.0, 0.0]), 1000.0,
    ...              960.0, 540.0, (1080, 1920))
    >>> uv, depth = cam.project(np.array([[[0.0, 1.0, 0.0], [0.5, 1.0, 0.0]]]))
    >>> uv.round(1).tolist(), depth.round(2).tolist()  # the person's left is image right
    ([[[960.0, 540.0], [1085.0, 540.0]]], [[4.0, 4.0]])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Tuple

import numpy as np

from flag3d.errors import Flag3dError

VIEWS = ("front", "side", "oblique")


def look_at(position: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World-to-camera rotation (rows: camera x right, y down, z forward)."""
    fwd = target - position
    fwd = fwd / np.linalg.norm(fwd)
    right = np.cross(fwd, np.array([0.0, 1.0, 0.0]))
    right = right / max(np.linalg.norm(right), 1e-9)
    down = np.cross(fwd, right)
    return np.stack([right, down, fwd])


@dataclass
class Camera:
    """A pinhole camera.

    Attributes:
        view: ``front``, ``side`` or ``oblique``.
        position, target: camera centre and look-at point (world, metres).
        f: focal length in pixels; cx, cy: principal point; img_shape: ``(h, w)``.
    """

    view: str
    position: np.ndarray
    target: np.ndarray
    f: float
    cx: float
    cy: float
    img_shape: Tuple[int, int]

    def __post_init__(self) -> None:
        self.rotation = look_at(self.position, self.target)  # world-to-camera

    def normalized(self, points: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Normalised image coordinates ``(x/z, y/z)`` ``(..., 2)`` and depth ``(...,)``."""
        cam = (points - self.position) @ self.rotation.T
        return cam[..., :2] / np.maximum(cam[..., 2:], 1e-3), cam[..., 2]

    def project(self, points: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates ``(..., 2)`` and depth ``(..., )`` of world points ``(..., 3)``."""
        xy, depth = self.normalized(points)
        return self.f * xy + np.array([self.cx, self.cy]), depth

    def to_meta(self) -> Dict[str, Any]:
        """JSON-able parameters."""
        return {
            "view": self.view, "position": [round(float(v), 5) for v in self.position],
            "target": [round(float(v), 5) for v in self.target], "f": round(self.f, 3),
            "cx": round(self.cx, 3), "cy": round(self.cy, 3), "img_shape": list(self.img_shape),
        }


def sample_camera(rng: np.random.Generator, view: str, points: np.ndarray, facing: float,
                  floor: bool = False, portrait_prob: float = 0.25) -> Camera:
    """A camera of type ``view`` that frames ``points`` ``(T, V, 3)``.

    Args:
        facing: the person's initial yaw in radians (0 = facing +z).
        floor: floor exercise (camera a bit higher).
    """
    if view not in VIEWS:
        raise Flag3dError(f"unknown camera view {view!r}; known views: {', '.join(VIEWS)}")
    base = {"front": 0.0, "side": 90.0, "oblique": 45.0}[view]
    spread = 10.0 if view == "oblique" else 12.0
    sign = 1.0 if view == "front" or rng.random() < 0.5 else -1.0
    az = facing + np.radians(sign * base + rng.uniform(-spread, spread))
    lo, hi = points.reshape(-1, 3).min(axis=0), points.reshape(-1, 3).max(axis=0)
    centre = 0.5 * (lo + hi)
    dist = rng.uniform(2.5, 6.0) + 0.5 * float(np.max(hi - lo))
    height = rng.uniform(0.9, 2.2) if floor else rng.uniform(0.6, 1.8)
    position = np.array([centre[0] + dist * np.sin(az), height, centre[2] + dist * np.cos(az)])
    img_shape = (1920, 1080) if rng.random() < portrait_prob else (1080, 1920)
    h, w = img_shape
    cx, cy = w / 2.0 * (1 + rng.uniform(-0.01, 0.01)), h / 2.0 * (1 + rng.uniform(-0.01, 0.01))
    xy, _ = Camera(view, position, centre, 1.0, 0.0, 0.0, img_shape).normalized(points)
    fill = rng.uniform(0.45, 0.85)
    ext_x = max(float(np.abs(xy[..., 0]).max()), 1e-6)
    ext_y = max(float(np.abs(xy[..., 1]).max()), 1e-6)
    f = min(fill * min(cx, w - cx) / ext_x, fill * min(cy, h - cy) / ext_y)
    return Camera(view, position, centre, float(f), float(cx), float(cy), img_shape)

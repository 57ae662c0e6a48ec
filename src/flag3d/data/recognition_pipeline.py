"""The recognition input pipeline (PYSKL style): normalise, augment, sample clips, make a stream.

One sequence becomes a float32 array ``(K, M, T, V, C')`` of ``K`` clips, ``M`` person
slots, ``T = clip_len`` frames, ``V`` joints and ``C'`` channels (3D: x, y, z; 2D: x, y and,
with ``use_score``, the keypoint confidence).  Steps, in order:

1. **normalise** (``normalize``): ``"align"`` (3D; centre on the root of the first frame
   with a visible spine and hip line and rotate so the spine is +y and the body faces +z,
   :func:`flag3d.skeleton.transforms.orientation_matrix`), ``"body"`` (centre on that root
   and divide by the median torso length, for 2D in any image size), ``"image"`` (PYSKL's
   2D rule ``(x - w/2) / (w/2)``, ``(y - h/2) / (h/2)`` from ``meta["img_shape"]``),
   ``"center"`` (root of the first frame only), ``"none"``; ``"auto"`` is ``align`` for 3D and
   ``body`` for 2D.  Joints with confidence 0 (missing) are set to 0 afterwards.
2. **augment** (training only): random rotation (3D: yaw within ``rotate_deg``, pitch and
   roll within a third of it; 2D: in-plane), per-axis random scale within ``1 +- scale``,
   left-right flip with ``flip_prob`` (mirror x and swap left/right joints; off by default
   because FLAG3D has sided activities such as "Right Leg Reverse Lunge"), and detector-like
   corruption: Gaussian ``jitter`` (std in normalised units, i.e. torso lengths for
   ``body``) on every visible joint-frame and ``drop_prob``, the share of joint-frames made
   missing in gaps of 1-8 frames (confidence 0, so their stream vectors are 0).
3. **sample** ``clip_len`` frames uniformly (:func:`flag3d.skeleton.transforms.sample_indices`):
   training takes one random clip; testing takes clip 0 at the segment centres
   (deterministic) and clips 1..K-1 with random offsets from a generator seeded by
   ``(seed, sample index, clip)`` -- so 10-clip testing is deterministic too.
4. **stream** (``joint``, ``bone``, ``joint_motion``, ``bone_motion``) on the sampled clip via
   :func:`flag3d.skeleton.transforms.streams` (motion = difference of consecutive sampled
   frames).  The confidence channel follows: a bone is as confident as the less confident
   of its two joints, a motion vector as the less confident of its two frames; vectors
   touching a missing joint are 0.
5. **persons**: pad with zeros (or cut) to ``num_persons`` slots.

Example:
    >>> import numpy as np
    >>> from flag3d.skeleton import Sequence
    >>> from flag3d.data.recognition_pipeline import Pipeline
    >>> seq = Sequence(np.random.default_rng(0).normal(size=(40, 17, 2)) * 50 + 500,
    ...                "coco17", meta={"img_shape": [1080, 1920]})
    >>> pipe = Pipeline("coco17", dims=2, clip_len=16, num_clips=10, stream="bone")
    >>> x = pipe(seq, index=0)
    >>> x.shape, pipe.in_channels
    ((10, 1, 16, 17, 3), 3)
    >>> bool(np.array_equal(x, pipe(seq, index=0)))  # deterministic testing
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from flag3d.errors import LayoutError, SequenceError
from flag3d.skeleton.layouts import get_layout
from flag3d.skeleton.sequence import Sequence
from flag3d.skeleton.transforms import STREAMS, orientation_matrix, sample_indices, streams

NORMALIZE_MODES = ("auto", "align", "body", "image", "center", "none")


# ------------------------------------------------------------------ normalisation
def _valid_mask(conf: np.ndarray) -> np.ndarray:
    return conf > 0


def _first_frame(ok: np.ndarray) -> Optional[int]:
    hits = np.nonzero(ok)[0]
    return int(hits[0]) if len(hits) else None


def normalize_joints(joints: np.ndarray, conf: np.ndarray, layout: str, mode: str,
                     img_shape: Optional[Tuple[int, int]] = None, where: str = "sequence"
                     ) -> np.ndarray:
    """Normalise ``(M, T, V, C)`` joints (person 0 defines root, scale and rotation).

    Args:
        joints: coordinates, missing joints marked by ``conf == 0``.
        conf: ``(M, T, V)`` confidence.
        layout: the joints' layout.
        mode: one of :data:`NORMALIZE_MODES`.
        img_shape: ``(h, w)`` for ``mode="image"``.
        where: the sample's name for error messages.
    """
    lay = get_layout(layout)
    c = joints.shape[-1]
    if mode == "auto":
        mode = "align" if c == 3 else "body"
    if mode not in NORMALIZE_MODES:
        raise ValueError(f"unknown normalize mode {mode!r}; use one of {', '.join(NORMALIZE_MODES)}")
    valid = _valid_mask(conf)
    x = joints.astype(np.float64)
    if mode == "none":
        out = x
    elif mode == "image":
        if not img_shape:
            raise SequenceError(f"{where}: normalize='image' needs meta['img_shape'] = [h, w]; "
                                "use normalize='body' for data without it")
        h, w = float(img_shape[0]), float(img_shape[1])
        half = np.array([w / 2.0, h / 2.0] + [1.0] * (c - 2))
        center = np.array([w / 2.0, h / 2.0] + [0.0] * (c - 2))
        out = (x - center) / half
    else:
        ref, ok = x[0], valid[0]
        roots = list(lay.root)
        neck = lay.indices(lay.neck)
        root_ok = ok[:, roots].all(axis=1)
        frame = _first_frame(root_ok)
        if frame is None:
            raise SequenceError(f"{where}: the root joints are missing in every frame; "
                                "cannot normalise")
        if mode == "align":
            if c != 3:
                raise LayoutError(f"{where}: normalize='align' needs 3D joints, got C = {c}; "
                                  "use 'body' for 2D")
            hips = lay.indices([lay.left_hip, lay.right_hip])
            cand = root_ok & ok[:, neck].all(axis=1) & ok[:, hips].all(axis=1)
            rot = None
            for t in np.nonzero(cand)[0]:
                try:
                    rot = orientation_matrix(ref, lay, int(t))
                except SequenceError:
                    continue
                frame = int(t)
                break
            if rot is None:
                raise SequenceError(f"{where}: no frame shows a spine and a hip line of non-zero "
                                    "length; cannot align the orientation (use "
                                    "normalize='center')")
            origin = ref[frame, roots].mean(axis=0)
            out = (x - origin) @ rot.T
        else:
            origin = ref[frame, roots].mean(axis=0)
            out = x - origin
            if mode == "body":
                good = root_ok & ok[:, neck].all(axis=1)
                if not good.any():
                    raise SequenceError(f"{where}: the neck/shoulder joints are never visible; "
                                        "cannot measure the torso for normalize='body'")
                torso = np.linalg.norm(ref[good][:, neck].mean(axis=1)
                                       - ref[good][:, roots].mean(axis=1), axis=-1)
                scale = float(np.median(torso))
                if not np.isfinite(scale) or scale < 1e-6:
                    raise SequenceError(f"{where}: the torso has zero length; cannot normalise "
                                        "with normalize='body'")
                out = out / scale
    out = np.where(valid[..., None], out, 0.0)
    return out.astype(np.float32)


# ------------------------------------------------------------------- augmentation
def _rot(axis: int, a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    r = np.eye(3)
    r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
    return r


def drop_gaps(conf: np.ndarray, rng: np.random.Generator, drop_prob: float) -> np.ndarray:
    """``conf`` with about ``drop_prob`` of its ``(..., T, V)`` joint-frames set to 0, in gaps
    of 1-8 consecutive frames per joint (as a keypoint detector loses a joint for a while).

    Example:
        >>> c = drop_gaps(np.ones((1, 400, 17), np.float32), np.random.default_rng(0), 0.1)
        >>> bool(0.05 < (c == 0).mean() < 0.15)
        True
    """
    if drop_prob <= 0:
        return conf
    t = conf.shape[-2]
    starts = rng.random(conf.shape) < drop_prob / 4.5  # mean gap length 4.5 frames
    lengths = rng.integers(1, 9, size=conf.shape)
    out = conf.copy()
    view = out.reshape(-1, t, conf.shape[-1])
    for b, i, j in np.argwhere(starts.reshape(view.shape)):
        view[b, i:i + lengths.reshape(view.shape)[b, i, j], j] = 0.0
    return out


def augment(joints: np.ndarray, conf: np.ndarray, layout: str, rng: np.random.Generator,
            rotate_deg: float = 0.0, scale: float = 0.0, flip_prob: float = 0.0,
            jitter: float = 0.0, drop_prob: float = 0.0) -> Tuple[np.ndarray, np.ndarray]:
    """Random rotation, per-axis scale, left-right flip, jitter and dropped joint gaps of
    normalised ``(M, T, V, C)`` joints (see the module docstring, step 2)."""
    c = joints.shape[-1]
    m = np.eye(c)
    if rotate_deg > 0:
        r = np.radians(rotate_deg)
        if c == 3:
            m = (_rot(1, rng.uniform(-r, r)) @ _rot(0, rng.uniform(-r / 3, r / 3))
                 @ _rot(2, rng.uniform(-r / 3, r / 3)))
        else:
            m = _rot(2, rng.uniform(-r, r))[:2, :2]
    if scale > 0:
        m = np.diag(rng.uniform(1.0 - scale, 1.0 + scale, size=c)) @ m
    out = joints @ m.T.astype(np.float32) if (rotate_deg > 0 or scale > 0) else joints
    if flip_prob > 0 and rng.random() < flip_prob:
        perm = get_layout(layout).flip_index()
        out = out[..., perm, :].copy()
        out[..., 0] = -out[..., 0]
        conf = conf[..., perm]
    if jitter > 0:
        noise = rng.normal(0.0, jitter, size=out.shape)
        out = np.where(conf[..., None] > 0, out + noise, out)
    conf = drop_gaps(conf, rng, drop_prob)
    return out.astype(np.float32), conf


# ------------------------------------------------------------------------ streams
def stream_confidence(conf: np.ndarray, layout: str, stream: str) -> np.ndarray:
    """Confidence of the ``stream`` vectors from joint confidence ``(..., T, V)``."""
    out = conf
    if stream.startswith("bone"):
        parents = np.array(get_layout(layout).parents)
        src = np.where(parents < 0, np.arange(len(parents)), parents)
        out = np.minimum(out, out[..., src])
    if stream.endswith("motion"):
        moved = np.zeros_like(out)
        moved[..., :-1, :] = np.minimum(out[..., 1:, :], out[..., :-1, :])
        out = moved
    return out


def make_stream(joints: np.ndarray, conf: np.ndarray, layout: str, stream: str,
                use_score: bool) -> np.ndarray:
    """The ``stream`` of ``(..., T, V, C)`` joints, with the confidence channel for 2D."""
    if stream not in STREAMS:
        raise ValueError(f"unknown stream {stream!r}; known: {', '.join(STREAMS)}")
    feat = streams(joints, layout, [stream])[stream]
    sconf = stream_confidence(conf, layout, stream)
    feat = np.where(sconf[..., None] > 0, feat, 0.0).astype(np.float32)
    if use_score and joints.shape[-1] == 2:
        feat = np.concatenate([feat, sconf[..., None].astype(np.float32)], axis=-1)
    return feat


# ------------------------------------------------------------------------ pipeline
def clip_indices(num_frames: int, clip_len: int, num_clips: int, mode: str, seed: int,
                 index: int, epoch: int = 0) -> np.ndarray:
    """``(num_clips, clip_len)`` frame indices (see the module docstring, step 3)."""
    if mode == "train":
        rng = np.random.default_rng([seed, epoch, index, 1])
        return np.stack([sample_indices(num_frames, clip_len, "train", rng)
                         for _ in range(num_clips)])
    clips = [sample_indices(num_frames, clip_len, "test")]
    for k in range(1, num_clips):
        rng = np.random.default_rng([seed, 7919, index, k])
        clips.append(sample_indices(num_frames, clip_len, "train", rng))
    return np.stack(clips)


@dataclass(frozen=True)
class Pipeline:
    """Turns a :class:`Sequence` of ``layout`` into clips ``(K, M, T, V, C')`` (see module doc).

    Attributes:
        layout: the layout every input must have (checked; no silent reshape).
        dims: coordinates per joint of the input (2 or 3).
        clip_len: frames per clip.
        num_clips: clips per sample (``K``; 1 for training, 10 for PYSKL testing).
        mode: ``"train"`` (random clip + augmentation) or ``"test"`` (deterministic).
        stream, normalize, rotate_deg, scale, flip_prob, jitter, drop_prob, use_score,
            num_persons, seed: above.
    """

    layout: str
    dims: int = 3
    clip_len: int = 64
    num_clips: int = 1
    mode: str = "test"
    stream: str = "joint"
    normalize: str = "auto"
    rotate_deg: float = 0.0
    scale: float = 0.0
    flip_prob: float = 0.0
    jitter: float = 0.0
    drop_prob: float = 0.0
    use_score: bool = True
    num_persons: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.mode not in ("train", "test"):
            raise ValueError(f"mode must be 'train' or 'test', got {self.mode!r}")
        if self.stream not in STREAMS:
            raise ValueError(f"unknown stream {self.stream!r}; known: {', '.join(STREAMS)}")
        if self.normalize not in NORMALIZE_MODES:
            raise ValueError(f"unknown normalize mode {self.normalize!r}; use one of "
                             f"{', '.join(NORMALIZE_MODES)}")
        if self.clip_len < 1 or self.num_clips < 1 or self.num_persons < 1:
            raise ValueError("clip_len, num_clips and num_persons must be >= 1")
        if self.jitter < 0 or not 0 <= self.drop_prob < 1:
            raise ValueError(f"jitter must be >= 0 and drop_prob in [0, 1), got "
                             f"{self.jitter} and {self.drop_prob}")
        object.__setattr__(self, "layout", get_layout(self.layout).name)

    @property
    def in_channels(self) -> int:
        """Channels per joint the model receives."""
        return self.dims + (1 if self.dims == 2 and self.use_score else 0)

    def __call__(self, seq: Sequence, index: int = 0, epoch: int = 0) -> np.ndarray:
        where = f"sample {seq.meta.get('id', index)}"
        if seq.layout != self.layout:
            raise LayoutError(f"{where} has layout {seq.layout} but the pipeline expects "
                              f"{self.layout}; convert it with flag3d.skeleton.convert.convert"
                              f"(seq, {self.layout!r})")
        if seq.dims != self.dims:
            raise SequenceError(f"{where} has {seq.dims}D joints but the pipeline expects "
                                f"{self.dims}D")
        joints = seq.joints if seq.has_persons else seq.joints[None]
        conf = (np.ones(joints.shape[:-1], np.float32) if seq.confidence is None
                else (seq.confidence if seq.has_persons else seq.confidence[None]))
        x = normalize_joints(joints, conf, self.layout, self.normalize,
                             seq.meta.get("img_shape"), where)
        if self.mode == "train":
            rng = np.random.default_rng([self.seed, epoch, index, 2])
            x, conf = augment(x, conf, self.layout, rng, self.rotate_deg, self.scale,
                              self.flip_prob, self.jitter, self.drop_prob)
        idx = clip_indices(x.shape[1], self.clip_len, self.num_clips, self.mode, self.seed,
                           index, epoch)
        clips = make_stream(x[:, idx], conf[:, idx], self.layout, self.stream, self.use_score)
        clips = np.moveaxis(clips, 1, 0)  # (K, M, T, V, C')
        m = clips.shape[1]
        if m < self.num_persons:
            pad = np.zeros((clips.shape[0], self.num_persons - m) + clips.shape[2:], np.float32)
            clips = np.concatenate([clips, pad], axis=1)
        return np.ascontiguousarray(clips[:, : self.num_persons], dtype=np.float32)

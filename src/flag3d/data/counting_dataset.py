"""Counting datasets: sources of labelled sequences and the 128-frame training samples.

A :class:`CountingItem` is one normalised sequence (:func:`flag3d.data.counting.normalize`)
with its repetitions.  Sources:

* :func:`synthetic_items` - the generator (:mod:`flag3d.synth`), exact boundaries;
* :func:`uiprmd_items` - the real UI-PRMD counting set
  (:mod:`flag3d.data.uiprmd_counting`, split by subject);
* :func:`rac_items` - a FLAG3D++ counting folder (``skeleton/`` + ``<split>_rac/``);
* :func:`store_items` - a :class:`flag3d.data.Store` with repetitions.

:class:`CountingWindows` turns items into training samples: every item gives ``crops``
crops (the FLAG3D++ x10 augmentation, :func:`flag3d.data.counting.make_crops`); a sample
of a crop is either the FLAG3D++ protocol view (the crop interval-sampled to 128 frames)
or a 128-frame window at a random *working frame rate* that puts 10-48 frames in one
repetition, as inference does on long recordings (:mod:`flag3d.tasks.counting`).  Labels
are closed-form densities; repetitions cut by the window edge count only their part inside.
It is a plain map-style dataset (``len`` / ``[i]`` returning numpy arrays), which
``torch.utils.data.DataLoader`` accepts as is.

Example:
    >>> from flag3d.data.counting_dataset import synthetic_items, CountingWindows
    >>> items = synthetic_items(2, seed=0, reps=(3, 5))
    >>> ds = CountingWindows(items, crops=10, seed=0)
    >>> len(ds), ds[0]["x"].shape, ds[0]["density"].shape
    (20, (6, 128, 24), (128,))
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence as Seq, Tuple, Union

import numpy as np

from flag3d.data.counting import (
    WINDOW, density_labels, flip_joints, make_crops, normalize, protocol_indices,
    resample_rate, window_features,
)
from flag3d.errors import Flag3dError
from flag3d.skeleton.sequence import Sequence

PathLike = Union[str, "os.PathLike[str]"]


@dataclass
class CountingItem:
    """A normalised sequence with its repetitions (frames, ``[start, end)``)."""

    id: str
    joints: np.ndarray
    fps: float
    reps: np.ndarray
    activity: Optional[str] = None
    subject: Optional[str] = None
    source: str = ""
    split: Optional[str] = None

    @property
    def count(self) -> int:
        """Number of repetitions."""
        return int(len(self.reps))


def item_from_sequence(seq: Sequence) -> Optional[CountingItem]:
    """Normalise ``seq``; ``None`` when it cannot be counted or has no repetition list."""
    reps = seq.meta.get("repetitions")
    if reps is None:
        return None
    prep = normalize(seq)
    if prep.joints is None:
        return None
    r = np.asarray(reps, dtype=np.int64).reshape(-1, 2)
    return CountingItem(
        id=str(seq.meta.get("id", "")), joints=prep.joints, fps=float(seq.fps), reps=r,
        activity=seq.meta.get("activity"), subject=seq.meta.get("subject"),
        source=str(seq.meta.get("source", "")), split=seq.meta.get("split"))


def items_from_sequences(seqs: Iterable[Sequence]) -> List[CountingItem]:
    """:func:`item_from_sequence` over many, dropping the ones that cannot be used."""
    out = []
    for s in seqs:
        it = item_from_sequence(s)
        if it is not None:
            out.append(it)
    return out


# ---------------------------------------------------------------------- sources
def synthetic_items(n: int, seed: int = 0, reps: Tuple[int, int] = (2, 20),
                    idle: Tuple[float, float] = (0.5, 2.0), noisy: bool = True,
                    activities: Optional[Seq[str]] = None, start: int = 0) -> List[CountingItem]:
    """``n`` generated sequences (corpus items ``start..start+n``), 3D ``flag3d24``.

    ``noisy`` uses the sensor-corrupted joints (noise and dropped joints); ``idle`` is the
    range of standing still before and after the repetitions, seconds.
    """
    from flag3d.synth import SynthConfig, generate_corpus

    cfg = SynthConfig(n_sequences=start + n, seed=seed, reps=tuple(reps), idle=tuple(idle),
                      views=(), corrupt=noisy,
                      activities=tuple(activities) if activities else None)
    out = []
    for s in generate_corpus(cfg, start=start, stop=start + n):
        seq = s.noisy["flag3d24"] if noisy else s.clean["flag3d24"]
        it = item_from_sequence(seq)
        if it is not None:
            it.source = "synthetic"
            out.append(it)
    return out


def uiprmd_items(split: Optional[str] = None, subjects: Optional[Seq[str]] = None,
                 n_per_pair: int = 4, seed: int = 0,
                 idle: Optional[Tuple[float, float]] = None, reps: Tuple[int, int] = (2, 20),
                 movements: Optional[Seq[str]] = None,
                 cache: Optional[PathLike] = None) -> List[CountingItem]:
    """Items of the UI-PRMD counting set (built once, then cached; see its module).

    ``split`` is ``"train"`` (s01-s07) or ``"test"`` (s08-s10); ``subjects`` narrows further.
    """
    from flag3d.data.uiprmd_counting import cached_counting_set

    params: Dict[str, Any] = dict(n_per_pair=n_per_pair, seed=seed, reps=tuple(reps))
    if idle is not None:
        params["idle"] = tuple(idle)
    if movements is not None:
        params["movements"] = list(movements)
    if subjects is not None:
        params["subjects"] = list(subjects)
    seqs = cached_counting_set(cache=cache, split=split, **params)
    items = items_from_sequences(seqs)
    if subjects is not None:
        items = [it for it in items if it.subject in set(subjects)]
    return items


def rac_items(root: PathLike, split: Optional[str] = None, fps: float = 30.0) -> List[CountingItem]:
    """Items of a FLAG3D++ counting folder (only sequences that have a CSV)."""
    from flag3d.io.flag3d_rac import read_flag3d_rac

    seqs = read_flag3d_rac(root, split=split, fps=fps)
    return items_from_sequences(s for s in seqs if s.meta.get("repetitions") is not None)


def store_items(root: PathLike, split: Optional[str] = None) -> List[CountingItem]:
    """Items of a :class:`~flag3d.data.Store` (rows with repetitions, optionally one split)."""
    from flag3d.data.store import Store

    with Store.open(root) as store:
        rows = store.select(split=split) if split else np.arange(len(store))
        return items_from_sequences(store.iter(rows))


def items_for(source: str, split: Optional[str] = None, **kw: Any) -> List[CountingItem]:
    """Dispatch by name: ``synthetic``, ``uiprmd``, ``rac:<folder>`` or ``store:<folder>``."""
    if source == "synthetic":
        return synthetic_items(**kw)
    if source == "uiprmd":
        return uiprmd_items(split=split, **kw)
    if source.startswith("rac:"):
        return rac_items(source[4:], split=split)
    if source.startswith("store:"):
        return store_items(source[6:], split=split)
    raise Flag3dError(f"unknown counting data source {source!r}; use synthetic, uiprmd, "
                      "rac:<folder> or store:<folder>")


# --------------------------------------------------------------------- samples
def protocol_sample(joints: np.ndarray, reps: np.ndarray, start: int, end: int,
                    n: int = WINDOW) -> Tuple[np.ndarray, np.ndarray]:
    """Frames ``[start, end)`` interval-sampled to ``n`` (FLAG3D++), and their density."""
    length = end - start
    idx = protocol_indices(length, n) + start
    scale = n / length if length >= n else 1.0
    return joints[idx], density_labels(reps, n, offset=start, scale=scale)


def rate_sample(joints: np.ndarray, fps: float, reps: np.ndarray, start: int, end: int,
                rate: float, rng: np.random.Generator, n: int = WINDOW
                ) -> Tuple[np.ndarray, np.ndarray]:
    """A random ``n``-frame window of frames ``[start, end)`` at ``rate`` fps, with density.

    A crop shorter than the window is padded with its last frame (density 0 there).
    """
    seg = joints[start:end]
    length_w = int(math.floor((end - start) / fps * rate + 1e-9))
    if length_w <= n:
        t0 = 0.0
    else:
        t0 = float(rng.integers(0, length_w - n + 1)) / rate
    win = resample_rate(seg, fps, rate, start_s=t0, n=n)
    # sequence frame f starts at time (f - start) / fps; window frame k at t0 + k / rate
    offset = start + t0 * fps
    dens = density_labels(reps, n, offset=offset, scale=rate / fps)
    if length_w < n:
        dens[max(length_w, 0):] = 0.0
    return win, dens


@dataclass(frozen=True)
class Augment:
    """Training augmentation: mirror, scale, turn about y, noise, time reversal."""

    flip: float = 0.5
    scale: Tuple[float, float] = (0.9, 1.1)
    yaw_deg: float = 15.0
    noise: float = 0.005
    reverse: float = 0.1


def augment_window(win: np.ndarray, dens: np.ndarray, aug: Augment,
                   rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """Apply :class:`Augment` to one window of normalised joints and its density."""
    x = win
    if rng.random() < aug.flip:
        x = flip_joints(x)
    a = math.radians(rng.uniform(-aug.yaw_deg, aug.yaw_deg))
    c, s = math.cos(a), math.sin(a)
    rot = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]], dtype=np.float32)
    x = (x @ rot.T) * np.float32(rng.uniform(*aug.scale))
    if aug.noise > 0:
        x = x + rng.normal(0.0, aug.noise, x.shape).astype(np.float32)
    if rng.random() < aug.reverse:
        x, dens = x[::-1], dens[::-1]
    return np.ascontiguousarray(x, dtype=np.float32), np.ascontiguousarray(dens)


class CountingWindows:
    """Map-style dataset of 128-frame counting samples (numpy; fits a torch DataLoader).

    Args:
        items: labelled sequences.
        crops: crops per item (FLAG3D++: 10); ``len(ds) = len(items) * crops``.
        protocol_prob: share of samples in the FLAG3D++ protocol view (crop squeezed or
            padded to 128 frames); the rest are working-rate windows.
        frames_per_rep: range (log-uniform) of frames per repetition for working-rate
            windows.
        texts: activity -> text embedding; missing activities get zeros.
        text_dim: embedding length (0: no text in the samples).
        text_drop: probability of replacing the text by zeros (training without text).
        augment: :class:`Augment` or ``None`` (evaluation).
        seed: samples depend only on ``(seed, epoch, index)``.
    """

    def __init__(self, items: Seq[CountingItem], crops: int = 10, protocol_prob: float = 0.3,
                 frames_per_rep: Tuple[float, float] = (10.0, 48.0),
                 texts: Optional[Dict[str, np.ndarray]] = None, text_dim: int = 0,
                 text_drop: float = 0.0, augment: Optional[Augment] = None,
                 seed: int = 0, window: int = WINDOW) -> None:
        if not items:
            raise Flag3dError("no counting sequences to sample from")
        self.items = list(items)
        self.crops = max(1, int(crops))
        self.protocol_prob = protocol_prob
        self.frames_per_rep = frames_per_rep
        self.texts = dict(texts or {})
        self.text_dim = int(text_dim)
        self.text_drop = text_drop
        self.augment = augment
        self.seed = seed
        self.window = window
        self.epoch = 0
        self._crops = [make_crops(it.reps, len(it.joints), self.crops, seed=seed + i)
                       for i, it in enumerate(self.items)]

    def set_epoch(self, epoch: int) -> None:
        """Draw new random samples (training) for ``epoch``."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.items) * self.crops

    def _text(self, activity: Optional[str], rng: np.random.Generator) -> np.ndarray:
        vec = self.texts.get(str(activity)) if activity is not None else None
        if vec is None or (self.text_drop > 0 and rng.random() < self.text_drop):
            return np.zeros(self.text_dim, dtype=np.float32)
        return np.asarray(vec, dtype=np.float32)

    def __getitem__(self, index: int) -> Dict[str, Any]:
        i, c = divmod(int(index), self.crops)
        item, crop = self.items[i], self._crops[i][c]
        rng = np.random.default_rng([self.seed, self.epoch, int(index)])
        reps = np.asarray(crop.reps, dtype=np.float64).reshape(-1, 2)
        if rng.random() < self.protocol_prob or len(reps) == 0:
            win, dens = protocol_sample(item.joints, reps, crop.start, crop.end, self.window)
            kind = 0
        else:
            med = float(np.median(reps[:, 1] - reps[:, 0])) / item.fps
            lo, hi = self.frames_per_rep
            fpr = math.exp(rng.uniform(math.log(lo), math.log(hi)))
            rate = float(np.clip(fpr / max(med, 1e-3), 2.0, 120.0))
            win, dens = rate_sample(item.joints, item.fps, reps, crop.start, crop.end, rate,
                                    rng, self.window)
            kind = 1
        if self.augment is not None:
            win, dens = augment_window(win, dens, self.augment, rng)
        return {
            "x": window_features(win),
            "density": dens.astype(np.float32),
            "count": np.float32(dens.sum()),
            "text": self._text(item.activity, rng),
            "kind": np.int64(kind),
        }

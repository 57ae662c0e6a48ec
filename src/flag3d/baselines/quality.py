"""Quality-assessment baselines (FLAG3D++ Table 8 style): text-free score regressors.

Each baseline maps an :class:`Item` (a whole recording or one repetition, normalised with
:func:`flag3d.tasks.quality_clips.normalize_clip`) to a number - an Eq. 1 score, a UI-PRMD
m01 score, or 0/1 for correct vs incorrect - with ``fit(items)`` and ``predict(items)``:

=============  ==========================================================================
name           method
=============  ==========================================================================
``holistic``   the HL-GCN backbone without text (``text_mode="none"``), mean+max pooling
               and an MLP regressing the target directly (no repetitions, no standards)
``core``       CoRe-style contrastive regression: the same text-free backbone embeds the
               query and an exemplar of the same activity from the training set; an MLP on
               ``[f_q, f_e, f_q - f_e]`` regresses the score *difference*; the prediction
               averages ``s_e + delta`` over ``exemplars`` training exemplars
``kinematic``  hand-crafted features (14 joint-angle / height signals, their min, max,
               mean and standard deviation, and the log duration), standardised, and
               ridge regression per activity with the penalty chosen by exact
               leave-one-out error on the training items
=============  ==========================================================================

The neural baselines train with a plain, fixed schedule (``epochs``, Adam) - no model
selection on any test data.

Example:
    >>> import numpy as np
    >>> from flag3d.baselines.quality import Item, KinematicRegressor, kinematic_features
    >>> rng = np.random.default_rng(0)
    >>> items = [Item(rng.normal(size=(32, 24, 3)).astype(np.float32), "flag3d24", 2.0,
    ...               "A049", float(i % 2)) for i in range(12)]
    >>> kinematic_features(items[0]).shape
    (57,)
    >>> KinematicRegressor().fit(items).predict(items[:3]).shape
    (3,)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence as Seq

import numpy as np

from flag3d.errors import Flag3dError
from flag3d.skeleton.layouts import get_layout


@dataclass
class Item:
    """One thing to score: normalised positions ``(F, V, 3)``, its layout, duration (s),
    activity id and target (``nan`` when unknown)."""

    pos: np.ndarray
    layout: str
    duration: float
    activity: str
    target: float = float("nan")


# ------------------------------------------------------------------------- kinematic
def _angle(u: np.ndarray, w: np.ndarray) -> np.ndarray:
    c = np.sum(u * w, axis=-1) / np.maximum(np.linalg.norm(u, axis=-1) * np.linalg.norm(w, axis=-1), 1e-9)
    return np.degrees(np.arccos(np.clip(c, -1.0, 1.0)))


def kinematic_signals(pos: np.ndarray, layout: str) -> np.ndarray:
    """``(F, 14)`` per-frame signals: knee, hip, elbow flexion and shoulder elevation (left,
    right), trunk inclination, root height, knee/ankle width ratio, wrist heights over the
    neck (left, right), ankle/shoulder width ratio."""
    lay = get_layout(layout)
    j = lambda n: pos[:, lay.index(n)]  # noqa: E731
    root = pos[:, list(lay.root)].mean(axis=1)
    neck = pos[:, lay.indices(lay.neck)].mean(axis=1)
    trunk = neck - root
    out = []
    for s in ("left", "right"):
        out.append(180.0 - _angle(j(f"{s}_hip") - j(f"{s}_knee"), j(f"{s}_ankle") - j(f"{s}_knee")))
    for s in ("left", "right"):
        out.append(_angle(trunk, j(f"{s}_knee") - j(f"{s}_hip")))
    for s in ("left", "right"):
        out.append(180.0 - _angle(j(f"{s}_shoulder") - j(f"{s}_elbow"), j(f"{s}_wrist") - j(f"{s}_elbow")))
    for s in ("left", "right"):
        out.append(_angle(j(f"{s}_elbow") - j(f"{s}_shoulder"), -trunk))
    out.append(_angle(trunk, np.broadcast_to(np.array([0.0, 1.0, 0.0]), trunk.shape)))
    out.append(root[:, 1])
    ank = np.linalg.norm((j("left_ankle") - j("right_ankle"))[:, [0, 2]], axis=1)
    out.append(np.linalg.norm((j("left_knee") - j("right_knee"))[:, [0, 2]], axis=1) / np.maximum(ank, 1e-3))
    for s in ("left", "right"):
        out.append(j(f"{s}_wrist")[:, 1] - neck[:, 1])
    sh = np.linalg.norm(j("left_shoulder") - j("right_shoulder"), axis=1)
    out.append(ank / np.maximum(sh, 1e-3))
    return np.stack(out, axis=1)


def kinematic_features(item: Item) -> np.ndarray:
    """The 57 hand-crafted features of an item (min, max, mean, std of 14 signals; log duration)."""
    sig = kinematic_signals(item.pos.astype(np.float64), item.layout)
    stats = [sig.min(0), sig.max(0), sig.mean(0), sig.std(0)]
    return np.concatenate([*stats, [np.log(max(item.duration, 1e-2))]]).astype(np.float64)


def ridge_loo(x: np.ndarray, y: np.ndarray, alphas: Seq[float]) -> tuple:
    """Ridge on standardised ``x`` with the penalty of least exact leave-one-out error."""
    mu, sd = x.mean(0), x.std(0)
    sd = np.where(sd > 1e-9, sd, 1.0)
    z = (x - mu) / sd
    ym = y.mean()
    yc = y - ym
    u, s, vt = np.linalg.svd(z, full_matrices=False)
    best = None
    for a in alphas:
        d = s / (s ** 2 + a)
        w = vt.T @ (d * (u.T @ yc))
        h = np.sum(u ** 2 * (s ** 2 / (s ** 2 + a)), axis=1) + 1.0 / len(y)  # hat diagonal (+ intercept)
        loo = np.mean(((yc - z @ w) / np.maximum(1.0 - h, 1e-6)) ** 2)
        if best is None or loo < best[0]:
            best = (loo, a, w)
    return mu, sd, ym, best[2], best[1]


class KinematicRegressor:
    """Hand-crafted kinematic features + ridge regression per activity (global fallback)."""

    name = "kinematic"

    def __init__(self, alphas: Seq[float] = (0.1, 1.0, 10.0, 100.0, 1000.0), min_items: int = 8) -> None:
        self.alphas, self.min_items = tuple(alphas), min_items
        self.models: Dict[str, tuple] = {}

    def fit(self, items: Seq[Item]) -> "KinematicRegressor":
        feats = np.stack([kinematic_features(i) for i in items])
        y = np.array([i.target for i in items], dtype=np.float64)
        acts = np.array([i.activity for i in items])
        ok = np.isfinite(y)
        if ok.sum() < 2:
            raise Flag3dError("the kinematic baseline needs at least 2 items with a target")
        self.models = {"*": ridge_loo(feats[ok], y[ok], self.alphas)}
        for a in np.unique(acts):
            m = ok & (acts == a)
            if m.sum() >= self.min_items:
                self.models[str(a)] = ridge_loo(feats[m], y[m], self.alphas)
        return self

    def predict(self, items: Seq[Item]) -> np.ndarray:
        if not self.models:
            raise Flag3dError("the kinematic baseline is not fitted; call fit first")
        out = []
        for it in items:
            mu, sd, ym, w, _ = self.models.get(it.activity, self.models["*"])
            out.append(float(ym + ((kinematic_features(it) - mu) / sd) @ w))
        return np.asarray(out)


# --------------------------------------------------------------------------- neural
def _encoder(layout: str, channels: Seq[int], strides: Seq[int]):  # type: ignore[no-untyped-def]
    from flag3d.models.hlgcn import HLGCN
    from flag3d.tasks.quality_clips import IN_CHANNELS

    return HLGCN(layout=layout, in_channels=IN_CHANNELS, channels=tuple(channels),
                 strides=tuple(strides), text_mode="none", dropout=0.1)


def _batch(items: Seq[Item], rng: Optional[np.random.Generator] = None, noise: float = 0.0):  # type: ignore[no-untyped-def]
    import torch

    from flag3d.tasks.quality_clips import clip_features

    xs = []
    for it in items:
        p = it.pos if rng is None or noise <= 0 else it.pos + rng.normal(0, noise, it.pos.shape).astype(np.float32)
        xs.append(clip_features(p, it.layout))
    dur = torch.tensor([np.log(max(i.duration, 1e-2)) for i in items], dtype=torch.float32)
    return torch.from_numpy(np.stack(xs)), dur


class _Pooled:
    """Mixin: encoder output pooled by mean and max, plus log duration."""

    @staticmethod
    def pool(enc, x, dur):  # type: ignore[no-untyped-def]
        import torch

        h = enc(x)
        return torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3)), dur[:, None]], dim=1)


class HolisticRegressor(_Pooled):
    """The text-free HL-GCN backbone regressing the target of a whole item."""

    name = "holistic"

    def __init__(self, channels: Seq[int] = (32, 32, 64, 64), strides: Seq[int] = (1, 2, 1, 2),
                 epochs: int = 40, lr: float = 2e-3, batch_size: int = 16, seed: int = 0,
                 noise: float = 0.01) -> None:
        self.channels, self.strides = tuple(channels), tuple(strides)
        self.epochs, self.lr, self.batch_size, self.seed, self.noise = epochs, lr, batch_size, seed, noise
        self.net = None

    def fit(self, items: Seq[Item]) -> "HolisticRegressor":
        import torch
        from torch import nn

        its = [i for i in items if np.isfinite(i.target)]
        if len(its) < 2:
            raise Flag3dError("the holistic baseline needs at least 2 items with a target")
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        enc = _encoder(its[0].layout, self.channels, self.strides)
        head = nn.Sequential(nn.Linear(2 * enc.out_channels + 1, 64), nn.ReLU(), nn.Linear(64, 1))
        self.net = nn.ModuleDict({"enc": enc, "head": head})
        y = np.array([i.target for i in its], dtype=np.float32)
        self.mu, self.sd = float(y.mean()), float(y.std() + 1e-6)
        opt = torch.optim.Adam(self.net.parameters(), lr=self.lr, weight_decay=1e-4)
        self.net.train()
        for _ in range(self.epochs):
            order = rng.permutation(len(its))
            for s in range(0, len(its), self.batch_size):
                part = [its[k] for k in order[s:s + self.batch_size]]
                x, dur = _batch(part, rng, self.noise)
                t = torch.tensor([(p.target - self.mu) / self.sd for p in part], dtype=torch.float32)
                pred = head(self.pool(enc, x, dur)).squeeze(1)
                loss = torch.mean((pred - t) ** 2)
                opt.zero_grad()
                loss.backward()
                opt.step()
        self.net.eval()
        return self

    def predict(self, items: Seq[Item]) -> np.ndarray:
        import torch

        if self.net is None:
            raise Flag3dError("the holistic baseline is not fitted; call fit first")
        out = []
        with torch.no_grad():
            for s in range(0, len(items), 64):
                x, dur = _batch(items[s:s + 64])
                out.append(self.net["head"](self.pool(self.net["enc"], x, dur)).squeeze(1).numpy())
        return np.concatenate(out) * self.sd + self.mu if out else np.zeros(0)


class ContrastiveRegressor(_Pooled):
    """CoRe-style: regress the score difference to an exemplar of the same activity."""

    name = "core"

    def __init__(self, channels: Seq[int] = (32, 32, 64, 64), strides: Seq[int] = (1, 2, 1, 2),
                 epochs: int = 40, lr: float = 2e-3, batch_size: int = 16, exemplars: int = 5,
                 seed: int = 0, noise: float = 0.01) -> None:
        self.channels, self.strides = tuple(channels), tuple(strides)
        self.epochs, self.lr, self.batch_size = epochs, lr, batch_size
        self.exemplars, self.seed, self.noise = exemplars, seed, noise
        self.net = None
        self.train_items: List[Item] = []

    def _pairs(self, its: Seq[Item], rng: np.random.Generator) -> List[int]:
        by: Dict[str, List[int]] = {}
        for k, i in enumerate(its):
            by.setdefault(i.activity, []).append(k)
        return [int(rng.choice(by[i.activity])) for i in its]

    def _delta(self, fq, fe):  # type: ignore[no-untyped-def]
        import torch

        return self.net["head"](torch.cat([fq, fe, fq - fe], dim=1)).squeeze(1)

    def fit(self, items: Seq[Item]) -> "ContrastiveRegressor":
        import torch
        from torch import nn

        its = [i for i in items if np.isfinite(i.target)]
        if len(its) < 2:
            raise Flag3dError("the contrastive baseline needs at least 2 items with a target")
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        enc = _encoder(its[0].layout, self.channels, self.strides)
        w = 2 * enc.out_channels + 1
        self.net = nn.ModuleDict({"enc": enc, "head": nn.Sequential(
            nn.Linear(3 * w, 64), nn.ReLU(), nn.Linear(64, 1))})
        y = np.array([i.target for i in its], dtype=np.float32)
        self.sd = float(y.std() + 1e-6)
        self.train_items = list(its)
        opt = torch.optim.Adam(self.net.parameters(), lr=self.lr, weight_decay=1e-4)
        self.net.train()
        for _ in range(self.epochs):
            ex = self._pairs(its, rng)
            order = rng.permutation(len(its))
            for s in range(0, len(its), self.batch_size):
                qi = order[s:s + self.batch_size]
                q = [its[k] for k in qi]
                e = [its[ex[k]] for k in qi]
                xq, dq = _batch(q, rng, self.noise)
                xe, de = _batch(e, rng, self.noise)
                f = self.pool(enc, torch.cat([xq, xe]), torch.cat([dq, de]))
                pred = self._delta(f[: len(q)], f[len(q):])
                t = torch.tensor([(a.target - b.target) / self.sd for a, b in zip(q, e)], dtype=torch.float32)
                loss = torch.mean((pred - t) ** 2)
                opt.zero_grad()
                loss.backward()
                opt.step()
        self.net.eval()
        return self

    def predict(self, items: Seq[Item]) -> np.ndarray:
        import torch

        if self.net is None:
            raise Flag3dError("the contrastive baseline is not fitted; call fit first")
        rng = np.random.default_rng(self.seed + 1)
        by: Dict[str, List[int]] = {}
        for k, i in enumerate(self.train_items):
            by.setdefault(i.activity, []).append(k)
        every = list(range(len(self.train_items)))
        out = []
        with torch.no_grad():
            for it in items:
                pool = by.get(it.activity, every)
                pick = rng.choice(pool, size=min(self.exemplars, len(pool)), replace=False)
                ex = [self.train_items[k] for k in pick]
                xq, dq = _batch([it] * len(ex))
                xe, de = _batch(ex)
                f = self.pool(self.net["enc"], torch.cat([xq, xe]), torch.cat([dq, de]))
                d = self._delta(f[: len(ex)], f[len(ex):]).numpy() * self.sd
                out.append(float(np.mean([e.target for e in ex] + d)))
        return np.asarray(out)


BASELINES = {"holistic": HolisticRegressor, "core": ContrastiveRegressor,
             "kinematic": KinematicRegressor}


def make_baseline(name: str, **options: object):  # type: ignore[no-untyped-def]
    """A new baseline by name (``holistic``, ``core``, ``kinematic``)."""
    try:
        return BASELINES[name](**options)
    except KeyError:
        raise Flag3dError(f"unknown quality baseline {name!r}; known: {', '.join(BASELINES)}") from None

"""Synthetic recognition protocols built with :mod:`flag3d.synth` (in-domain 3D, cross-domain 2D).

Every sample of the corpus is one (activity, subject) recording with 2-5 repetitions
(``reps``); ``per_pair`` recordings per activity and subject, 10 subjects, 25 activities.
Subjects ``S001``..``S007`` are the training subjects, ``S008``..``S010`` the test subjects,
as in the FLAG3D in-domain protocol (7 train / 3 test).

* ``kind="3d"`` -- exact ``ntu25`` joints in metres (a MoCap-like source).  Splits ``train``
  and ``test`` by subject.
* ``kind="2d"`` -- ``coco17`` pixels with a confidence per keypoint.  Split ``train``: the
  *clean* projections of the training subjects through the ``front`` and ``side`` cameras
  (the FLAG3D cross-domain training data: front and side views of rendered videos).  Split
  ``test``: the same clean front and side projections of the test subjects (the in-domain
  reference).  Split ``cross``: the test subjects seen through a DIFFERENT camera set
  (``oblique``, 45 deg) with detector-like noise (``cross_noise_px`` = 6 px Gaussian) and
  dropped keypoints (``cross_drop_rate`` = 5 %, at (0, 0) with confidence 0) -- the
  "real video" domain.  The gap between ``test`` and ``cross`` is the domain gap.

Stores are built once and cached under ``$FLAG3D_CACHE/recognition/`` (the key hashes all
settings); every sequence is marked ``synthetic``.

Example:
    >>> from flag3d.data.synth_protocols import SynthProtocol, protocol_sequences
    >>> proto = SynthProtocol(kind="2d", per_pair=1, activities=("A020", "A049"), n_subjects=2,
    ...                       n_train_subjects=1)
    >>> [(s.meta["split"], s.meta["view"], s.meta["domain"]) for s in protocol_sequences(proto)][:4]
    [('train', 'front', 'rendered-clean'), ('train', 'side', 'rendered-clean'), ('test', 'front', 'rendered-clean'), ('test', 'side', 'rendered-clean')]
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Tuple

from flag3d.errors import Flag3dError
from flag3d.skeleton.sequence import Sequence
from flag3d.synth import SynthConfig, generate_sequence
from flag3d.synth.corpus import corpus_item

KINDS = ("3d", "2d")
TRAIN_VIEWS = ("front", "side")
CROSS_VIEWS = ("oblique",)


@dataclass(frozen=True)
class SynthProtocol:
    """Settings of a synthetic recognition protocol (see the module docstring)."""

    kind: str = "3d"
    per_pair: int = 2
    n_subjects: int = 10
    n_train_subjects: int = 7
    seed: int = 0
    reps: Tuple[int, int] = (2, 5)
    activities: Optional[Tuple[str, ...]] = None
    cross_noise_px: float = 6.0
    cross_drop_rate: float = 0.05

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise Flag3dError(f"unknown synthetic protocol {self.kind!r}; use one of {', '.join(KINDS)}")
        if not 1 <= self.n_train_subjects < self.n_subjects:
            raise Flag3dError("n_train_subjects must leave at least one test subject")
        if self.per_pair < 1:
            raise Flag3dError(f"per_pair must be >= 1, got {self.per_pair}")

    def base_config(self) -> SynthConfig:
        """The generator settings of the training domain."""
        n_act = len(self.activities) if self.activities else len(SynthConfig().activity_list())
        return SynthConfig(n_sequences=n_act * self.n_subjects * self.per_pair,
                           activities=self.activities, reps=tuple(self.reps),
                           n_subjects=self.n_subjects, seed=self.seed, views=TRAIN_VIEWS,
                           corrupt=False)

    def cross_config(self) -> SynthConfig:
        """The generator settings of the cross domain (other cameras, noisier detections)."""
        return dataclasses.replace(self.base_config(), views=CROSS_VIEWS,
                                   noise_px=self.cross_noise_px,
                                   drop_rate_2d=self.cross_drop_rate)

    def key(self) -> str:
        """A string that changes whenever the protocol's data would change."""
        return json.dumps({"v": 1, **dataclasses.asdict(self)}, sort_keys=True)


def _tag(seq: Sequence, split: str, suffix: str = "") -> Sequence:
    meta = dict(seq.meta)
    meta["split"] = split
    meta["id"] = f"{meta['id']}{suffix}"
    meta.pop("generator", None)  # keep the store small; (seed, index) reproduce the sample
    return seq.replace(meta=meta)


def protocol_sequences(proto: SynthProtocol) -> Iterator[Sequence]:
    """Every sequence of ``proto`` with ``meta["split"]`` set, in corpus order."""
    base = proto.base_config()
    cross = proto.cross_config() if proto.kind == "2d" else None
    for i in range(base.n_sequences):
        act, subj = corpus_item(base, i)
        split = "train" if subj < proto.n_train_subjects else "test"
        sample = generate_sequence(act, proto.seed, base, index=i, subject=subj)
        if proto.kind == "3d":
            yield _tag(sample.clean["ntu25"], split)
            continue
        for view in sample.views_clean:
            yield _tag(view, split)
        if split == "test" and cross is not None:
            other = generate_sequence(act, proto.seed, cross, index=i, subject=subj)
            for view in other.views:
                yield _tag(view, "cross", "-cross")


def synthetic_store(proto: SynthProtocol, cache: bool = True, folder: Optional[Path] = None) -> Path:
    """The store of ``proto``: built once under the cache (or at ``folder``) and reused."""
    from flag3d.data.recognition import cached_store_dir, build_cached_store

    target = Path(folder) if folder is not None else cached_store_dir(
        f"synth-{proto.kind}", proto.key())
    if not cache and (target / "complete").is_file():
        import shutil

        shutil.rmtree(target)
    return build_cached_store(target, lambda: protocol_sequences(proto))

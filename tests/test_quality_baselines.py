"""Quality baselines: kinematic ridge, holistic and CoRe-style regressors."""

from __future__ import annotations

import numpy as np
import pytest

from flag3d.baselines.quality import (
    ContrastiveRegressor, HolisticRegressor, Item, KinematicRegressor, kinematic_features,
    kinematic_signals, make_baseline,
)
from flag3d.errors import Flag3dError
from flag3d.synth import SynthConfig, generate_sequence
from flag3d.tasks.quality_clips import normalize_clip


def _items(n=24, seed=0):
    """Squat repetitions whose target is the (hidden) squat depth."""
    out = []
    s = generate_sequence("A049", seed=seed, config=SynthConfig(reps=(n, n), views=(), corrupt=False))
    seq = s.clean["flag3d24"]
    for a, b in s.repetitions:
        pos = normalize_clip(seq.joints[a:b], "flag3d24", 24)
        out.append(Item(pos, "flag3d24", (b - a) / 30.0, "A049", float(-pos[:, 0, 1].min())))
    return out


def test_kinematic_signals_known_angles():
    from flag3d.skeleton.layouts import get_layout

    lay = get_layout("uiprmd22")
    pos = np.zeros((2, 22, 3))
    pos[:, lay.index("chest"), 1] = 0.5  # trunk straight up
    for s, x in (("left", 0.1), ("right", -0.1)):
        pos[:, lay.index(f"{s}_hip"), :] = [x, 0.0, 0.0]
        pos[:, lay.index(f"{s}_knee"), :] = [x, -0.4, 0.0]
        pos[:, lay.index(f"{s}_ankle"), :] = [x, -0.4, 0.4]  # shank horizontal: knee bent 90
        pos[:, lay.index(f"{s}_shoulder"), :] = [x * 2, 0.5, 0.0]
        pos[:, lay.index(f"{s}_elbow"), :] = [x * 2, 0.2, 0.0]
        pos[:, lay.index(f"{s}_wrist"), :] = [x * 2, 0.0, 0.0]
    sig = kinematic_signals(pos, "uiprmd22")
    assert sig.shape == (2, 14)
    np.testing.assert_allclose(sig[0, :2], 90.0, atol=1e-6)  # knee flexion
    np.testing.assert_allclose(sig[0, 2:4], 180.0, atol=1e-6)  # thighs point down
    np.testing.assert_allclose(sig[0, 4:6], 0.0, atol=1e-6)  # straight elbows
    np.testing.assert_allclose(sig[0, 8], 0.0, atol=1e-6)  # upright trunk
    assert kinematic_features(Item(pos.astype(np.float32), "uiprmd22", 2.0, "m01")).shape == (57,)


def test_kinematic_regressor_learns_depth_and_needs_fit():
    items = _items(30)
    tr, te = items[:20], items[20:]
    model = KinematicRegressor().fit(tr)
    pred = model.predict(te)
    truth = np.array([i.target for i in te])
    assert np.corrcoef(pred, truth)[0, 1] > 0.8
    with pytest.raises(Flag3dError, match="not fitted"):
        KinematicRegressor().predict(te)


def test_neural_baselines_fit_and_predict_shapes():
    items = _items(12)
    for model in (HolisticRegressor(channels=(8, 8), strides=(1, 2), epochs=1, batch_size=6),
                  ContrastiveRegressor(channels=(8, 8), strides=(1, 2), epochs=1, batch_size=6,
                                       exemplars=3)):
        pred = model.fit(items[:8]).predict(items[8:])
        assert pred.shape == (4,) and np.isfinite(pred).all()


def test_contrastive_prediction_is_anchored_on_exemplar_scores():
    items = _items(10)
    for i in items:
        i.target = 5.0
    pred = ContrastiveRegressor(channels=(8,), strides=(1,), epochs=1, exemplars=2).fit(items).predict(items[:2])
    np.testing.assert_allclose(pred, 5.0, atol=1e-6)  # every difference is 0 (sd guard)


def test_make_baseline_names():
    assert isinstance(make_baseline("kinematic"), KinematicRegressor)
    with pytest.raises(Flag3dError, match="unknown quality baseline 'x'; known: holistic, core, kinematic"):
        make_baseline("x")

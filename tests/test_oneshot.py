"""One-shot recognition: the supervised contrastive loss, 1-NN, exemplar draws, the protocol."""

import json

import numpy as np
import pytest
import torch

from flag3d.config import load_config
from flag3d.errors import Flag3dError
from flag3d.tasks.oneshot import (
    OneShotConfig, evaluate_oneshot, nearest_exemplar, oneshot_accuracy, prepare_oneshot,
    split_classes, supcon_loss, train_oneshot,
)
from flag3d.tasks.trainer import TrainOptions
from recognition_helpers import tiny_config, tiny_store


def _naive_supcon(z, y, tau):
    n = len(y)
    total, anchors = 0.0, 0
    for i in range(n):
        pos = [p for p in range(n) if p != i and y[p] == y[i]]
        if not pos:
            continue
        denom = sum(np.exp(z[i] @ z[a] / tau) for a in range(n) if a != i)
        total += -np.mean([np.log(np.exp(z[i] @ z[p] / tau) / denom) for p in pos])
        anchors += 1
    return total / anchors


def test_supcon_matches_the_definition():
    g = torch.Generator().manual_seed(0)
    z = torch.nn.functional.normalize(torch.randn(9, 5, generator=g, dtype=torch.float64), dim=1)
    y = torch.tensor([0, 0, 1, 1, 1, 2, 3, 3, 0])  # class 2 has a single sample: no anchor
    got = supcon_loss(z, y, 0.2).item()
    assert got == pytest.approx(_naive_supcon(z.numpy(), y.numpy(), 0.2), rel=1e-10)
    assert supcon_loss(z[:3], torch.tensor([0, 1, 2]), 0.2).item() == 0.0


def test_supcon_prefers_clustered_embeddings():
    y = torch.tensor([0, 0, 1, 1])
    good = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    bad = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    assert supcon_loss(good, y, 0.1) < 0.01 < supcon_loss(bad, y, 0.1)


def test_nearest_exemplar_and_draws():
    ex = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    q = np.array([[0.9, 0.1], [0.2, 3.0], [-5.0, 0.5]])
    assert nearest_exemplar(q, ex).tolist() == [0, 1, 2]
    pool = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.1], [0.1, 1.0]])
    py = np.array([0, 1, 1, 0])
    ids = ["z", "a", "b", "c"]  # first by id: class 0 -> "c" (row 3), class 1 -> "a" (row 1)
    accs = oneshot_accuracy(np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([0, 1]), pool, py,
                            ids, 2, draws=5, seed=0)
    assert len(accs) == 5 and accs[0] == 1.0 and all(a == 1.0 for a in accs)


def test_split_classes():
    cls = [f"m{k:02d}" for k in range(1, 11)]
    aux, novel = split_classes(cls, None)
    assert novel == ["m01", "m04", "m07", "m10"] and len(aux) == 6
    with pytest.raises(Flag3dError, match="novel_classes m11 are not classes"):
        split_classes(cls, ["m11"])
    with pytest.raises(Flag3dError, match="at least 2 auxiliary and 2 novel"):
        split_classes(cls[:3], ["m01"])


def test_protocol_needs_two_auxiliary_classes(tmp_path, monkeypatch):
    monkeypatch.setenv("FLAG3D_CACHE", str(tmp_path / "cache"))
    store = tiny_store(tmp_path / "s", subjects=3)
    cfg = load_config(OneShotConfig, tiny_config(
        tmp_path / "o.yaml", store, novel_classes=["A017", "A049"], proj_dim=8))
    with pytest.raises(Flag3dError, match="at least 2 auxiliary"):
        prepare_oneshot(cfg)


def test_train_and_evaluate_tiny(tmp_path, monkeypatch):
    monkeypatch.setenv("FLAG3D_CACHE", str(tmp_path / "cache"))
    from flag3d.data.store import Store
    from recognition_helpers import tiny_sequences

    seqs = tiny_sequences(per=2, subjects=3)
    more = tiny_sequences(per=2, subjects=3, seed=1)
    for s in more:  # two more activities from the same motions, other ids
        s.meta.update(activity={"A017": "A057", "A020": "A021", "A049": "A051"}[s.meta["activity"]],
                      id=s.meta["id"] + "-b")
    with Store.create(tmp_path / "s") as store:
        store.append(seqs + more)
    cfg = load_config(OneShotConfig, tiny_config(
        tmp_path / "o.yaml", tmp_path / "s", novel_classes=["A017", "A057"], proj_dim=8,
        num_clips=1))
    d = prepare_oneshot(cfg)
    assert d.novel == ["A017", "A057"] and len(d.aux) == 4
    assert set(d.aux_train[0].activities).isdisjoint(d.novel)
    assert set(d.queries[0].activities) == {"A017", "A057"}
    assert set(d.queries[0].subjects) == {"S003"} and "S003" not in d.exemplar_pool[0].subjects
    report = train_oneshot(cfg, TrainOptions(out=tmp_path / "run", progress=False))
    assert report["queries"] == 4 and report["draws"] == 10
    for name in ("trained", "untrained"):
        assert 0.0 <= report[name]["accuracy_first"] <= 1.0
    info = json.loads((tmp_path / "run" / "best" / "info.json").read_text())
    assert info["task"] == "oneshot" and info["novel_classes"] == ["A017", "A057"]
    again = evaluate_oneshot(tmp_path / "run" / "best", draws=3, out=tmp_path / "e")
    # deterministic embeddings; draw 0 (first exemplar by id) does not depend on the draw count
    assert again["trained"]["accuracy_first"] == report["trained"]["accuracy_first"]
    assert again["untrained"]["accuracy_first"] == report["untrained"]["accuracy_first"]

"""One-shot recognition on embeddings, as MotionBERT does it (Sec. 3.4 / 4.4).

The classes of a protocol are split into *auxiliary* classes and *novel* classes
(``novel_classes``; by default every third class, starting with the first).

* **Training** uses only auxiliary classes of the training split: a recogniser backbone's
  pooled representation goes through one linear layer to a ``proj_dim`` embedding
  (L2-normalised), trained with the supervised contrastive loss (Khosla et al. 2020): in a
  batch, embeddings of the same class are pulled together and the others pushed away.  Each
  sample contributes two random clips, so every anchor has a positive.
* **Evaluation** embeds the test split's samples of the *novel* classes (never seen in
  training) and one exemplar per novel class taken from the training split (another
  person), and assigns each query the class of the nearest exemplar by cosine similarity
  (1-nearest neighbour).  Exemplar draw 0 is the first sample of each class by id; draws
  1..R-1 are random (seeded).  Reported: accuracy of draw 0, mean and std over draws, and
  the same for the untrained (randomly initialised) network as the reference.

Example:
    >>> import torch
    >>> from flag3d.tasks.oneshot import supcon_loss, nearest_exemplar
    >>> z = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]]), dim=1)
    >>> y = torch.tensor([0, 0, 1, 1])
    >>> bool(supcon_loss(z, y, 0.1) < supcon_loss(z, torch.tensor([0, 1, 0, 1]), 0.1))
    True
    >>> nearest_exemplar(z.numpy(), z[[0, 2]].numpy()).tolist()
    [0, 0, 1, 1]
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from flag3d.config import config_from_dict, config_to_dict
from flag3d.data.recognition import (
    DataSpec, RecognitionDataset, SampleSet, encode_labels, load_sets,
)
from flag3d.errors import Flag3dError
from flag3d.tasks.recognition import (
    PathLike, RecognitionConfig, ReplicaDigest, WarmupCosine, _loader, _model_layout_check, build_model,
    prepare_sets,
)


@dataclass(frozen=True)
class OneShotConfig(RecognitionConfig):
    """A :class:`RecognitionConfig` plus the one-shot keys.

    Attributes:
        novel_classes: class names held out for one-shot evaluation (default: every third).
        temperature: supervised contrastive temperature.
        proj_dim: embedding size after the linear layer.
        exemplar_draws: exemplar draws averaged in the evaluation.
    """

    novel_classes: Optional[List[str]] = None
    temperature: float = 0.1
    proj_dim: int = 128
    exemplar_draws: int = 10


# ------------------------------------------------------------------------ pieces
def supcon_loss(z: torch.Tensor, labels: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Supervised contrastive loss (the "L_out" form) of L2-normalised embeddings ``(N, D)``.

    Anchors without a positive in the batch are left out; 0 when no anchor has one.
    """
    n = z.shape[0]
    sim = (z @ z.T) / temperature
    self_mask = torch.eye(n, dtype=torch.bool, device=z.device)
    sim = sim.masked_fill(self_mask, float("-inf"))
    log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    pos = (labels[:, None] == labels[None, :]) & ~self_mask
    npos = pos.sum(dim=1)
    has = npos > 0
    if not has.any():
        return z.sum() * 0.0
    per_anchor = -(log_prob.masked_fill(~pos, 0.0).sum(dim=1)[has]) / npos[has]
    return per_anchor.mean()


def nearest_exemplar(queries: np.ndarray, exemplars: np.ndarray) -> np.ndarray:
    """Index of the most cosine-similar exemplar for every query."""
    q = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    e = exemplars / np.maximum(np.linalg.norm(exemplars, axis=1, keepdims=True), 1e-12)
    return np.argmax(q @ e.T, axis=1)


class EmbeddingModel(nn.Module):
    """A recogniser's backbone representation followed by a linear layer, L2-normalised."""

    def __init__(self, recognizer: nn.Module, proj_dim: int) -> None:
        super().__init__()
        recognizer.head = nn.Identity()  # the classifier is not used: no unused parameters
        self.recognizer = recognizer
        self.proj = nn.Linear(recognizer.embed_dim, proj_dim)

    def check_input(self, x: Any) -> None:
        """The recogniser's layout check."""
        self.recognizer.check_input(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.proj(self.recognizer.get_representation(x)), dim=-1)


def split_classes(classes: List[str], novel: Optional[List[str]]) -> Tuple[List[str], List[str]]:
    """``(auxiliary, novel)`` class names; unknown novel names are an error."""
    if novel is None:
        novel = classes[::3]
    unknown = [c for c in novel if c not in classes]
    if unknown:
        raise Flag3dError(f"novel_classes {', '.join(unknown)} are not classes of the data "
                          f"({', '.join(classes)})")
    aux = [c for c in classes if c not in novel]
    if len(aux) < 2 or len(novel) < 2:
        raise Flag3dError(f"one-shot needs at least 2 auxiliary and 2 novel classes, got "
                          f"{len(aux)} and {len(novel)}")
    return aux, [c for c in classes if c in novel]


def _subset(s: SampleSet, labels: np.ndarray, keep: np.ndarray, name: str) -> Tuple[SampleSet, np.ndarray]:
    rows = np.nonzero(keep)[0]
    inner = s.fetch
    sub = dataclasses.replace(
        s, name=name, ids=[s.ids[r] for r in rows], subjects=[s.subjects[r] for r in rows],
        activities=[s.activities[r] for r in rows], raw_labels=[s.raw_labels[r] for r in rows],
        fetch=_Rows(inner, rows.tolist()))
    return sub, labels[rows]


class _Rows:
    """Picklable ``i -> fetch(rows[i])``."""

    def __init__(self, fetch: Any, rows: List[int]) -> None:
        self.fetch, self.rows = fetch, rows

    def __call__(self, i: int) -> Any:
        return self.fetch(self.rows[i])


# ---------------------------------------------------------------------- training
class OneShotModule(L.LightningModule):
    """Supervised contrastive training of an :class:`EmbeddingModel`."""

    def __init__(self, cfg: OneShotConfig, model: EmbeddingModel,
                 train_data: Optional[RecognitionDataset] = None) -> None:
        super().__init__()
        self.cfg, self.model, self._train_data = cfg, model, train_data

    def on_train_epoch_start(self) -> None:
        if self._train_data is not None:
            self._train_data.set_epoch(self.current_epoch)

    def _loss(self, batch: Dict[str, Any]) -> torch.Tensor:
        x, y = batch["x"], batch["label"]
        z = self.model(x.flatten(0, 1))
        return supcon_loss(z, y.repeat_interleave(x.shape[1]), self.cfg.temperature)

    def training_step(self, batch: Dict[str, Any], _: int) -> torch.Tensor:
        loss = self._loss(batch)
        self.log("train_loss", loss, prog_bar=True, batch_size=len(batch["label"]))
        return loss

    def validation_step(self, batch: Dict[str, Any], _: int) -> None:
        self.log("val_loss", self._loss(batch), prog_bar=True, sync_dist=True,
                 batch_size=len(batch["label"]))

    def configure_optimizers(self) -> Any:
        cfg = self.cfg
        if cfg.optimizer == "sgd":
            opt = torch.optim.SGD(self.model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                                  nesterov=True, weight_decay=cfg.weight_decay)
        else:
            opt = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr,
                                    weight_decay=cfg.weight_decay)
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        warm = int(round(cfg.warmup_epochs * total / max(cfg.epochs, 1)))
        sched = torch.optim.lr_scheduler.LambdaLR(opt, WarmupCosine(total, warm))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


@dataclass
class OneShotData:
    """The one-shot protocol: auxiliary training/validation sets and the novel-class sets."""

    classes: List[str]
    aux: List[str]
    novel: List[str]
    layout: str
    in_channels: int
    aux_train: Tuple[SampleSet, np.ndarray]
    aux_val: Tuple[SampleSet, np.ndarray]
    exemplar_pool: Tuple[SampleSet, np.ndarray]
    queries: Tuple[SampleSet, np.ndarray]


def prepare_oneshot(cfg: OneShotConfig, classes: Optional[List[str]] = None) -> OneShotData:
    """Load the data of ``cfg`` and split it into auxiliary and novel parts."""
    data = prepare_sets(cfg, load_sets(DataSpec.from_config(cfg)), classes)
    aux, novel = split_classes(data.classes, cfg.novel_classes)
    out: Dict[str, Tuple[SampleSet, np.ndarray]] = {}
    for split in ("train", "test"):
        s = data.sets[split]
        y = encode_labels(s, data.classes, cfg.label_by)
        is_novel = np.isin(y, [data.classes.index(c) for c in novel])
        sa, ya = _subset(s, y, ~is_novel, f"{s.name}:aux")
        ya = np.array([aux.index(data.classes[k]) for k in ya], dtype=np.int64)
        sn, yn = _subset(s, y, is_novel, f"{s.name}:novel")
        yn = np.array([novel.index(data.classes[k]) for k in yn], dtype=np.int64)
        out[f"{split}_aux"], out[f"{split}_novel"] = (sa, ya), (sn, yn)
    for key in ("train_aux", "test_novel", "train_novel"):
        if len(out[key][1]) == 0:
            raise Flag3dError(f"the one-shot protocol has no samples in {key.replace('_', ' ')}")
    return OneShotData(data.classes, aux, novel, data.layout, data.in_channels,
                       out["train_aux"], out["test_aux"], out["train_novel"], out["test_novel"])


def build_embedding_model(cfg: OneShotConfig, num_aux: int, layout: str, in_channels: int) -> EmbeddingModel:
    """The recogniser of ``cfg`` with the one-shot projection."""
    return EmbeddingModel(build_model(cfg, num_aux, layout, in_channels), cfg.proj_dim)


def train_oneshot(cfg: OneShotConfig, opts: Any) -> Dict[str, Any]:
    """Train on the auxiliary classes, then evaluate one-shot on the novel ones (rank 0)."""
    from flag3d.tasks.trainer import make_trainer, resume_path

    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    opts = dataclasses.replace(
        opts, max_epochs=cfg.epochs, seed=cfg.seed, monitor=None,
        extra_callbacks=[*opts.extra_callbacks, ReplicaDigest(Path(opts.out) / "replicas")])
    d = prepare_oneshot(cfg)
    model = build_embedding_model(cfg, len(d.aux), d.layout, d.in_channels)
    _model_layout_check(model, d.aux_train[0].layout, cfg)
    dims = d.aux_train[0].dims
    train_ds = RecognitionDataset(*d.aux_train, cfg.pipeline(dims, "train", 2, d.layout))
    val_ds = RecognitionDataset(*d.aux_val, cfg.pipeline(dims, "test", 2, d.layout))
    info = {"task": "oneshot", "classes": d.classes, "aux_classes": d.aux,
            "novel_classes": d.novel, "layout": d.layout, "in_channels": d.in_channels,
            "backbone": cfg.backbone, "data": {"dataset": cfg.dataset,
                                                "synthetic": cfg.dataset == "synthetic"}}
    module = OneShotModule(cfg, model, train_ds)
    trainer = make_trainer(opts, config_to_dict(cfg), info=info)
    trainer.fit(module, _loader(train_ds, cfg, True), _loader(val_ds, cfg, False),
                ckpt_path=resume_path(opts))
    if trainer.global_rank != 0:
        return {}
    return evaluate_oneshot(Path(opts.out) / "best")


# -------------------------------------------------------------------- evaluation
def embed(model: EmbeddingModel, s: SampleSet, labels: np.ndarray, cfg: OneShotConfig,
          layout: str, clips: int) -> np.ndarray:
    """Clip-averaged, re-normalised embeddings ``(N, proj_dim)`` (deterministic)."""
    ds = RecognitionDataset(s, labels, cfg.pipeline(s.dims, "test", clips, layout))
    out = []
    with torch.inference_mode():
        for batch in _loader(ds, cfg, False):
            x = batch["x"]
            z = model(x.flatten(0, 1)).view(x.shape[0], x.shape[1], -1).mean(dim=1)
            out.append(F.normalize(z, dim=-1).numpy())
    return np.concatenate(out)


def oneshot_accuracy(q: np.ndarray, qy: np.ndarray, pool: np.ndarray, py: np.ndarray,
                     pool_ids: List[str], n_classes: int, draws: int, seed: int) -> List[float]:
    """1-NN accuracy for ``draws`` exemplar draws (draw 0: the first sample of each class by id)."""
    rng = np.random.default_rng(seed)
    accs = []
    for d in range(draws):
        pick = []
        for c in range(n_classes):
            rows = np.nonzero(py == c)[0]
            if len(rows) == 0:
                raise Flag3dError(f"no exemplar candidate for novel class {c}")
            rows = rows[np.argsort([pool_ids[r] for r in rows])]
            pick.append(rows[0] if d == 0 else rng.choice(rows))
        pred = nearest_exemplar(q, pool[pick])
        accs.append(float((pred == qy).mean()))
    return accs


def evaluate_oneshot(checkpoint: PathLike, draws: Optional[int] = None,
                     out: Optional[PathLike] = None, overrides: Tuple[str, ...] = ()) -> Dict[str, Any]:
    """One-shot accuracy of a trained checkpoint and of the untrained network (reference)."""
    from flag3d.models.checkpoint import load_checkpoint, load_weights

    ckpt = Path(checkpoint)
    _, config, info = load_checkpoint(ckpt)
    cfg = config_from_dict(OneShotConfig, config, overrides, source=ckpt / "config.json")
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    if info.get("task") != "oneshot":
        raise Flag3dError("not a one-shot checkpoint (info.json task is "
                          f"{info.get('task')!r})", path=ckpt)
    d = prepare_oneshot(dataclasses.replace(cfg, novel_classes=info["novel_classes"]),
                        info["classes"])
    draws = int(draws or cfg.exemplar_draws)
    report: Dict[str, Any] = {"novel_classes": d.novel, "aux_classes": d.aux,
                              "queries": len(d.queries[1]), "draws": draws,
                              "synthetic": cfg.dataset == "synthetic", "dataset": cfg.dataset}
    torch.manual_seed(cfg.seed)
    for name in ("untrained", "trained"):
        model = build_embedding_model(cfg, len(d.aux), d.layout, d.in_channels)
        if name == "trained":
            load_weights(model, ckpt)
        model.eval()
        t0 = time.perf_counter()
        q = embed(model, *d.queries, cfg, d.layout, cfg.num_clips)
        pool = embed(model, *d.exemplar_pool, cfg, d.layout, cfg.num_clips)
        accs = oneshot_accuracy(q, d.queries[1], pool, d.exemplar_pool[1],
                                d.exemplar_pool[0].ids, len(d.novel), draws, cfg.seed)
        report[name] = {"accuracy_first": accs[0], "accuracy_mean": float(np.mean(accs)),
                        "accuracy_std": float(np.std(accs)), "seconds": time.perf_counter() - t0}
    folder = Path(out) if out is not None else ckpt.resolve().parent / "eval" / "oneshot"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(report, indent=1) + "\n")
    report["out"] = str(folder)
    return report

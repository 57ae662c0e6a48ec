"""The shared Lightning plumbing: run folder, exported best checkpoint, resume."""

import json

import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset

from flag3d.models.checkpoint import load_checkpoint
from flag3d.tasks.trainer import TrainOptions, make_trainer, resume_path


class Tiny(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.model = torch.nn.Linear(4, 2)

    def training_step(self, batch, _):
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self.model(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, _):
        x, y = batch
        self.log("val_loss", torch.nn.functional.cross_entropy(self.model(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    return DataLoader(TensorDataset(x, (x[:, 0] > 0).long()), batch_size=16)


def test_fit_exports_best_and_resumes(tmp_path):
    opts = TrainOptions(out=tmp_path, max_epochs=2, progress=False, monitor="val_loss")
    trainer = make_trainer(opts, {"lr": 0.1}, info={"task": "tiny"})
    trainer.fit(Tiny(), _data(), _data())
    state, cfg, info = load_checkpoint(tmp_path / "best")
    assert cfg == {"lr": 0.1} and info["task"] == "tiny" and "val_loss" in info["metrics"]
    assert set(state) == {"weight", "bias"}
    assert (tmp_path / "last.ckpt").is_file()
    assert (tmp_path / "logs" / "version_0" / "metrics.csv").is_file()
    opts.resume, opts.max_epochs = True, 3
    assert resume_path(opts) == str(tmp_path / "last.ckpt")
    again = make_trainer(opts, {"lr": 0.1})
    again.fit(Tiny(), _data(), _data(), ckpt_path=resume_path(opts))
    assert again.current_epoch == 3
    assert (tmp_path / "logs" / "version_0" / "metrics.csv").is_file()  # earlier logs kept
    assert json.loads((tmp_path / "best" / "info.json").read_text())["model_class"] == "Linear"

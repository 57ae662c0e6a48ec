"""``flag3d train|eval recognition``, ``flag3d train|eval oneshot`` and ``flag3d fuse``.

Example:
    $ flag3d train recognition --config configs/recognition/uiprmd_stgcn.yaml --out runs/uiprmd_stgcn
    $ flag3d eval recognition --checkpoint runs/uiprmd_stgcn/best --clips 10
    $ flag3d fuse runs/j/eval/cross-10clip/scores.npz runs/b/eval/cross-10clip/scores.npz
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

import typer

from flag3d.errors import Flag3dError

_PRECISIONS = {"fp32": "32-true", "32": "32-true", "32-true": "32-true",
               "bf16": "bf16-mixed", "bf16-mixed": "bf16-mixed"}


def _devices(text: str) -> Any:
    text = text.strip()
    if text == "auto":
        return "auto"
    if "," in text:
        return [int(x) for x in text.split(",") if x.strip()]
    try:
        return int(text)
    except ValueError:
        raise Flag3dError(f"--devices must be auto, a count or a comma list of ids, got {text!r}") from None


def _options(config: Path, out: Optional[Path], devices: str, num_nodes: int, strategy: str,
             resume: bool, precision: str, progress: bool) -> Any:
    from flag3d.tasks.trainer import TrainOptions

    if precision not in _PRECISIONS:
        raise Flag3dError(f"--precision must be fp32 or bf16, got {precision!r}")
    return TrainOptions(out=out or Path("runs") / "recognition" / config.stem,
                        devices=_devices(devices), num_nodes=num_nodes, strategy=strategy,
                        precision=_PRECISIONS[precision], resume=resume, progress=progress)


def _print_report(r: Dict[str, Any]) -> None:
    synth = " (synthetic data)" if r.get("synthetic") else ""
    typer.echo(f"{r['backbone']} / {r['stream']} on {r['split']}{synth}: {r['samples']} samples, "
               f"{r['clips']} clip(s), {r['precision']}")
    typer.echo(f"top-1 {100 * r['top1']:.2f} %   top-5 {100 * r['top5']:.2f} %   "
               f"mean class accuracy {100 * r['mean_class_accuracy']:.2f} %")
    what = "body part" if r["group_by"] == "body_part" else "class"
    typer.echo(f"per {what}: " + ", ".join(f"{g} {100 * v['accuracy']:.1f} % ({v['samples']})"
                                           for g, v in r["per_group"].items()))
    typer.echo(f"wrote {r['out']}/results.json and scores.npz")


_CONFIG = typer.Option(..., "--config", help="A flat YAML config (configs/recognition/*.yaml).")
_SET = typer.Option(None, "--set", help="Override a config key: --set key=value (repeatable).")
_OUT = typer.Option(None, "--out", help="Run folder (default runs/recognition/<config name>).")
_DEVICES = typer.Option("auto", "--devices", help="auto, a process count (CPU DDP), or ids.")
_NODES = typer.Option(1, "--num-nodes", help="Machines taking part (DDP across nodes).")
_STRATEGY = typer.Option("auto", "--strategy", help="auto, ddp, ddp_spawn ...")
_RESUME = typer.Option(False, "--resume", help="Continue from <out>/last.ckpt.")
_PRECISION = typer.Option("fp32", "--precision", help="fp32 or bf16 (CPU autocast).")
_PROGRESS = typer.Option(True, "--progress/--no-progress", help="Show a progress bar.")


def train_recognition(
    config: Path = _CONFIG, set_: Optional[List[str]] = _SET, out: Optional[Path] = _OUT,
    devices: str = _DEVICES, num_nodes: int = _NODES, strategy: str = _STRATEGY,
    resume: bool = _RESUME, precision: str = _PRECISION, progress: bool = _PROGRESS,
) -> None:
    """Train a skeleton action recogniser, then evaluate it on the test split (10-clip testing).

    Writes <out>/best/ (model.safetensors + config.json + info.json), logs, last.ckpt for
    --resume, and <out>/eval/<split>-<clips>clip/{results.json,scores.npz}.
    Under torchrun, pass --devices/--num-nodes matching the launch.

    Example: flag3d train recognition --config configs/recognition/uiprmd_stgcn.yaml --set epochs=2 --out runs/demo
    """
    from flag3d.config import load_config
    from flag3d.tasks.recognition import RecognitionConfig, train

    cfg = load_config(RecognitionConfig, config, set_ or [])
    opts = _options(config, out, devices, num_nodes, strategy, resume, precision, progress)
    report = train(cfg, opts)
    if report:
        _print_report(report)


def eval_recognition(
    checkpoint: Path = typer.Option(..., "--checkpoint", help="An exported checkpoint folder (<run>/best)."),
    clips: Optional[int] = typer.Option(None, "--clips", help="Clips per sample (default: the config's num_clips)."),
    precision: str = typer.Option("fp32", "--precision", help="fp32 or bf16 (CPU autocast)."),
    set_: Optional[List[str]] = typer.Option(None, "--set", help="Override a data key, e.g. --set test_split=cross."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for results.json and scores.npz."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Samples per batch."),
    progress: bool = _PROGRESS,
) -> None:
    """Evaluate a trained recogniser (deterministic): top-1, top-5, confusion, per-body-part accuracy.

    Example: flag3d eval recognition --checkpoint runs/uiprmd_stgcn/best --clips 10
    """
    from flag3d.tasks.recognition import evaluate

    if precision not in ("fp32", "bf16"):
        raise Flag3dError(f"--precision must be fp32 or bf16, got {precision!r}")
    report = evaluate(checkpoint, clips=clips, precision=precision, overrides=tuple(set_ or ()),
                      out=out, batch_size=batch_size, progress=progress)
    _print_report(report)


def fuse(
    scores: List[Path] = typer.Argument(..., help="Score files (scores.npz from 'flag3d eval recognition')."),
    coef: Optional[str] = typer.Option(None, "--coef", help="One weight per file, e.g. 2,2,1,1 (default: 2 joint, 2 bone, 1 each motion stream)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Also save the fused scores here (.npz)."),
) -> None:
    """Fuse the saved scores of several streams and print top-1 / top-5.

    Example: flag3d fuse j/scores.npz b/scores.npz jm/scores.npz bm/scores.npz --coef 2,2,1,1
    """
    from flag3d.tasks.fusion import fuse_files, load_scores, parse_coefs, save_scores

    r = fuse_files(scores, parse_coefs(coef))
    for path, stream, c, acc in zip(scores, r.streams, r.coefs, r.single_top1):
        typer.echo(f"{stream or '?':12s} x{c:g}  top-1 {100 * acc:6.2f} %  {path}")
    typer.echo(f"fused ({len(scores)} files, {len(r.ids)} samples): top-1 {100 * r.top1:.2f} %   "
               f"top-5 {100 * r.top5:.2f} %")
    if out is not None:
        save_scores(out, r.ids.tolist(), r.labels, r.scores, load_scores(scores[0]).classes,
                    "+".join(s or "?" for s in r.streams))
        typer.echo(f"wrote {out}")


def train_oneshot(
    config: Path = _CONFIG, set_: Optional[List[str]] = _SET, out: Optional[Path] = _OUT,
    devices: str = _DEVICES, num_nodes: int = _NODES, strategy: str = _STRATEGY,
    resume: bool = _RESUME, precision: str = _PRECISION, progress: bool = _PROGRESS,
) -> None:
    """Train embeddings for one-shot recognition (supervised contrastive on auxiliary classes).

    Then evaluates 1-nearest-neighbour against one exemplar per novel class.

    Example: flag3d train oneshot --config configs/recognition/oneshot_uiprmd.yaml --out runs/oneshot
    """
    from flag3d.config import load_config
    from flag3d.tasks.oneshot import OneShotConfig, train_oneshot as run

    cfg = load_config(OneShotConfig, config, set_ or [])
    opts = _options(config, out, devices, num_nodes, strategy, resume, precision, progress)
    report = run(cfg, opts)
    if report:
        _print_oneshot(report)


def _print_oneshot(r: Dict[str, Any]) -> None:
    synth = " (synthetic data)" if r.get("synthetic") else ""
    typer.echo(f"one-shot on {len(r['novel_classes'])} novel classes ({', '.join(r['novel_classes'])}), "
               f"{r['queries']} queries, {r['draws']} exemplar draws{synth}")
    for name in ("untrained", "trained"):
        v = r[name]
        typer.echo(f"{name:9s}: first draw {100 * v['accuracy_first']:.1f} %, mean "
                   f"{100 * v['accuracy_mean']:.1f} +- {100 * v['accuracy_std']:.1f} %")
    typer.echo(f"wrote {r['out']}/results.json")


def eval_oneshot(
    checkpoint: Path = typer.Option(..., "--checkpoint", help="An exported one-shot checkpoint (<run>/best)."),
    draws: Optional[int] = typer.Option(None, "--draws", help="Exemplar draws to average."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for results.json."),
) -> None:
    """One-shot accuracy (1-NN to one exemplar per novel class) of a trained embedding model.

    Example: flag3d eval oneshot --checkpoint runs/oneshot/best --draws 10
    """
    from flag3d.tasks.oneshot import evaluate_oneshot

    _print_oneshot(evaluate_oneshot(checkpoint, draws=draws, out=out))


def register(app: typer.Typer, train_app: typer.Typer, eval_app: typer.Typer) -> None:
    """Attach the recognition commands to the main CLI."""
    train_app.command("recognition")(train_recognition)
    eval_app.command("recognition")(eval_recognition)
    train_app.command("oneshot")(train_oneshot)
    eval_app.command("oneshot")(eval_oneshot)
    app.command("fuse")(fuse)

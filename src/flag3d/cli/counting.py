"""``flag3d count``, ``flag3d train counting`` and ``flag3d eval counting``.

Thin: arguments are parsed here, the work is done by :mod:`flag3d.tasks.counting`.  Heavy
modules (torch, Lightning) are imported inside the commands, so ``flag3d count`` starts
fast.

Example:
    $ flag3d count recording.npz --activity "deep squat"
    $ flag3d train counting --config configs/counting/hlrac.yaml --out runs/counting
    $ flag3d eval counting --checkpoint runs/counting/best --data uiprmd
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List, Optional

import typer

from flag3d.errors import Flag3dError


def _read(path: Path, fmt: Optional[str], layout: Optional[str], fps: Optional[float]) -> Any:
    """A Sequence, or ``(array, layout, fps)`` for a raw ``.npy`` (NaN = missing joint)."""
    if path.suffix.lower() == ".npy" and fmt in (None, "npy") and path.is_file():
        from flag3d.io.flag3d_rac import load_npy
        from flag3d.skeleton.layouts import find_layout_for

        arr = load_npy(path)
        if arr.ndim != 3:
            raise Flag3dError(f"array has shape {arr.shape}, expected (T, V, 3)", path=path)
        name = layout or find_layout_for(arr.shape[1])
        if name is None:
            raise Flag3dError(f"cannot tell the layout of {arr.shape[1]} joints; pass --layout",
                              path=path)
        return arr, name, fps or 30.0
    from flag3d.io import read_sequence

    seq = read_sequence(path, fmt)
    if fps is not None:
        seq = seq.replace(fps=fps, times=None)
    return seq


def count(
    file: Path = typer.Argument(..., help="Skeleton file with one 3D sequence (npz, json, npy, UI-PRMD ...)."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", "-c", help="Checkpoint folder (default: the shipped model)."),
    activity: Optional[str] = typer.Option(None, "--activity", "-a", help="Activity id or name whose text guides the model."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", help="Input format; detected when omitted."),
    layout: Optional[str] = typer.Option(None, "--layout", help="Layout of a raw .npy array (default: from its joint count)."),
    fps: Optional[float] = typer.Option(None, "--fps", help="Frame rate (default: from the file, 30 for .npy)."),
    engine: str = typer.Option("numpy", "--engine", help="numpy (fast start) or torch."),
) -> None:
    """Count the repetitions in FILE and print each one's start and end in seconds.

    Long recordings are counted in full (overlapping windows at a frame rate matched to
    the tempo).  Input that cannot be counted (too short, no motion, no valid joints)
    prints 0 repetitions and the reason.

    Example: flag3d count ../shared/data/keraal/G3-Kinect-CTK-P1T1-Unknown-C-0.txt --activity CTK
    """
    from flag3d.tasks.counting_infer import load_counter

    src = _read(file, fmt, layout, fps)
    counter = load_counter(checkpoint, engine)
    if isinstance(src, tuple):
        res = counter.count(src[0], activity=activity, layout=src[1], fps=src[2])
    else:
        res = counter.count(src, activity=activity)
    if as_json:
        typer.echo(json.dumps({"file": str(file), **res.to_dict()}, indent=2))
        return
    if res.reason is not None:
        typer.echo(f"{file}: 0 repetitions ({res.reason})")
        return
    dur = len(res.density) / res.fps
    act = f", activity {res.activity}" if res.activity else ""
    typer.echo(f"{file}: {res.count} repetition{'s' if res.count != 1 else ''} "
               f"({dur:.1f} s at {res.fps:g} fps{act})")
    if res.repetitions:
        typer.echo(f"{'#':>4} {'start_s':>8} {'end_s':>8} {'frames':>13}")
        for i, r in enumerate(res.repetitions, 1):
            typer.echo(f"{i:>4} {r.start_s:8.2f} {r.end_s:8.2f} "
                       f"{f'{r.start_frame}-{r.end_frame}':>13}")


def train_counting(
    config: Optional[Path] = typer.Option(None, "--config", help="configs/counting/<name>.yaml (default settings when omitted)."),
    sets: List[str] = typer.Option([], "--set", help="Override one setting: key=value (repeatable)."),
    out: Path = typer.Option(Path("runs/counting"), "--out", help="Run folder (logs, last.ckpt, best/)."),
    devices: str = typer.Option("1", "--devices", help="CPU processes (DDP when > 1) or 'auto'."),
    resume: bool = typer.Option(False, "--resume", help="Continue from <out>/last.ckpt."),
    precision: str = typer.Option("32-true", "--precision", help="32-true or bf16-mixed."),
) -> None:
    """Train a counting model (HL-RAC, or the no-text model with --set text_mode=none).

    Example: flag3d train counting --config configs/counting/hlrac.yaml --out runs/hlrac
    """
    from flag3d.tasks.counting import train
    from flag3d.tasks.trainer import TrainOptions

    dev: Any = int(devices) if devices.isdigit() else devices
    opts = TrainOptions(out=out, devices=dev, resume=resume, precision=precision,
                        strategy="ddp" if isinstance(dev, int) and dev > 1 else "auto")
    best = train(config, opts, overrides=sets)
    typer.echo(f"best checkpoint: {best}")


def eval_counting(
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", "-c", help="Checkpoint folder (default: the shipped model)."),
    data: str = typer.Option("uiprmd", "--data", help="uiprmd (test subjects s08-s10), synthetic, rac:<folder> or store:<folder>."),
    idle: Optional[str] = typer.Option(None, "--idle", help="Add standing still, e.g. 5,15 seconds (UI-PRMD)."),
    protocol: str = typer.Option("full", "--protocol", help="full (whole recordings) or flag3d128 (128 sampled frames)."),
    no_text: bool = typer.Option(False, "--no-text", help="Give the model no activity text."),
    out_json: Optional[Path] = typer.Option(None, "--json", help="Also write the results (with every sequence) here."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Score only the first N sequences (a quick check)."),
) -> None:
    """Count a test set and print MAE / OBO in both conventions and the repetition IoU.

    Example: flag3d eval counting --data uiprmd --idle 5,15
    """
    from flag3d.tasks.counting import evaluate

    rng = None
    if idle:
        try:
            lo, hi = (float(v) for v in idle.split(","))
        except ValueError:
            raise Flag3dError(f"--idle must look like 5,15 (seconds), got {idle!r}") from None
        rng = (lo, hi)
    res = evaluate(checkpoint, data=data, idle=rng, protocol=protocol, use_text=not no_text,
                   limit=limit)
    typer.echo(f"{res['n']} sequences of {data} ({protocol}, idle {rng}, "
               f"text {'off' if no_text else 'on'}) in {res['seconds']} s")
    for conv in ("flag3d", "transrac"):
        m = res[conv]
        typer.echo(f"  {conv:9s} MAE {m['mae']:.4f}  OBO@0.4 {m['obo@0.4']:.4f}  "
                   f"OBO@1 {m['obo@1']:.4f}  OBO@Avg {m['obo@avg']:.4f}")
    if "intervals" in res:
        iv = res["intervals"]
        typer.echo(f"  repetitions: mean IoU {iv['mean_iou']:.4f}  precision {iv['precision']:.4f}"
                   f"  recall {iv['recall']:.4f}")
    if out_json is not None:
        out_json.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")


def register(app: typer.Typer, train_app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add ``count``, ``train counting`` and ``eval counting`` to the CLI."""
    app.command("count")(count)
    train_app.command("counting")(train_counting)
    eval_app.command("counting")(eval_counting)

"""``flag3d assess``, ``flag3d train quality`` (+ ``quality-thresholds``), ``flag3d eval quality``.

Thin: arguments are parsed here, the work is done by :mod:`flag3d.tasks.quality` and
:mod:`flag3d.feedback`.  Heavy modules (torch, Lightning) are imported inside the commands.

Example:
    $ flag3d assess recording.npz --activity "sumo squat"
    $ flag3d train quality --config configs/quality/uiprmd.yaml --out runs/quality-uiprmd
    $ flag3d train quality-thresholds --checkpoint runs/quality-uiprmd/best
    $ flag3d eval quality --checkpoint runs/quality-uiprmd/best
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List, Optional

import typer

from flag3d.errors import Flag3dError


def _parse_reps(text: Optional[str]) -> Optional[List[List[int]]]:
    """``"0-60,70-130"`` -> ``[[0, 60], [70, 130]]`` (frames, end exclusive)."""
    if text is None:
        return None
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            a, b = (int(v) for v in part.split("-"))
        except ValueError:
            raise Flag3dError(f"--reps must look like 0-60,70-130 (frames), got {part!r}") from None
        out.append([a, b])
    return out


def assess_file(
    file: Path = typer.Argument(..., help="Skeleton file with one 3D sequence (npz, json, UI-PRMD ...)."),
    activity: Optional[str] = typer.Option(None, "--activity", "-a", help="Activity id or name (default: from the file)."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", "-c", help="Quality checkpoint folder (default: the shipped model)."),
    reps: Optional[str] = typer.Option(None, "--reps", help="Repetitions as frames, e.g. 0-60,70-130 (default: counted)."),
    counter: Optional[Path] = typer.Option(None, "--counter", help="Counting checkpoint used to find the repetitions."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", help="Input format; detected when omitted."),
    as_json: bool = typer.Option(False, "--json", help="Print the feedback as JSON."),
) -> None:
    """Score every repetition of FILE against its activity's three standards (FLAG3D++ Eq. 1).

    Prints the score, and per repetition the failed standards with a corrective tip.  A
    recording without any repetition is reported as not assessable, with the reason.

    Example: flag3d assess ../shared/data/uiprmd/incorrect/Positions/m01_s08_e02_positions_inc.txt.gz --reps 0-80
    """
    from flag3d.feedback import build_feedback
    from flag3d.io import read_sequence
    from flag3d.tasks.quality_infer import assess

    seq = read_sequence(file, fmt)
    res = assess(seq, repetitions=_parse_reps(reps), activity=activity, checkpoint=checkpoint,
                 counter_checkpoint=counter)
    fb = build_feedback(res)
    if as_json:
        typer.echo(json.dumps({"file": str(file), **fb.to_dict()}, indent=2))
        return
    if not fb.assessable:
        typer.echo(f"{file}: {fb.activity_name}: {fb.reason}")
        return
    typer.echo(f"{file}: {fb.activity_name}, {len(fb.repetitions)} repetitions "
               f"({fb.segmentation}); score {fb.score:.2f} / 9 (Eq. 1; soft {fb.score_soft:.2f})")
    for r in fb.repetitions:
        probs = " ".join(f"{c.key}={c.probability:.2f}" for c in r.checks)
        verdict = "ok" if r.ok else "FAILED " + ", ".join(c.key for c in r.failed)
        typer.echo(f"  #{r.index + 1} {r.start_s:6.2f}-{r.end_s:6.2f} s  {verdict}  [{probs}]")
        if r.tip:
            typer.echo(f"      tip: {r.tip}")


def train_quality(
    config: Optional[Path] = typer.Option(None, "--config", help="configs/quality/<name>.yaml (default settings when omitted)."),
    sets: List[str] = typer.Option([], "--set", help="Override one setting: key=value (repeatable)."),
    out: Path = typer.Option(Path("runs/quality"), "--out", help="Run folder (logs, last.ckpt, best/)."),
    devices: str = typer.Option("1", "--devices", help="CPU processes (DDP when > 1) or 'auto'."),
    resume: bool = typer.Option(False, "--resume", help="Continue from <out>/last.ckpt."),
    precision: str = typer.Option("32-true", "--precision", help="32-true or bf16-mixed."),
) -> None:
    """Train the per-repetition, per-standard scorer G (HL-GCN + standard sentence).

    Example: flag3d train quality --config configs/quality/uiprmd.yaml --out runs/quality-uiprmd
    """
    from flag3d.tasks.quality import train
    from flag3d.tasks.trainer import TrainOptions

    dev: Any = int(devices) if devices.isdigit() else devices
    opts = TrainOptions(out=out, devices=dev, resume=resume, precision=precision,
                        strategy="ddp" if isinstance(dev, int) and dev > 1 else "auto")
    best = train(config, opts, overrides=sets)
    typer.echo(f"best checkpoint: {best}")


def tune_quality_thresholds(
    checkpoint: Path = typer.Option(..., "--checkpoint", "-c", help="Checkpoint folder from 'flag3d train quality'."),
    sets: List[str] = typer.Option([], "--set", help="Override a data setting: key=value (repeatable)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only print the thresholds; do not store them."),
) -> None:
    """Choose per-standard decision thresholds on the checkpoint's VALIDATION people and store them.

    Per standard, the threshold (0.05-0.95) with the best fault F1 on the validation
    repetitions goes into the checkpoint's config.json ("thresholds"); assess, analyze and
    eval then use it.  The test people are not used.

    Example: flag3d train quality-thresholds --checkpoint runs/quality-synthetic/best
    """
    from flag3d.tasks.quality_threshold import tune_thresholds

    sel = tune_thresholds(checkpoint, overrides=sets, write=not dry_run)
    typer.echo(f"validation {sel['validation_people']}: {sel['repetitions']} repetitions, "
               f"faults per standard {sel['faults']}")
    for j, (t, f, h) in enumerate(zip(sel["thresholds"], sel["f1_at_thresholds"], sel["f1_at_0.5"])):
        typer.echo(f"  standard {j}: threshold {t:.2f}  fault F1 {f:.4f} (at 0.5: {h:.4f})")
    typer.echo("not stored (--dry-run)" if dry_run else f"stored in {checkpoint / 'config.json'}")


def eval_quality(
    checkpoint: Path = typer.Option(..., "--checkpoint", "-c", help="Checkpoint folder from 'flag3d train quality'."),
    data: Optional[str] = typer.Option(None, "--data", help="uiprmd or synthetic (default: what it was trained on)."),
    no_predicted: bool = typer.Option(False, "--no-predicted", help="Synthetic: skip the predicted-segmentation scores."),
    counter: Optional[Path] = typer.Option(None, "--counter", help="Counting checkpoint for the predicted segmentation."),
    sets: List[str] = typer.Option([], "--set", help="Override a data setting: key=value (repeatable)."),
    out_json: Optional[Path] = typer.Option(None, "--json", help="Also write the full results here."),
) -> None:
    """Evaluate a scorer on the held-out people: accuracy per movement / standard, Eq. 1 ranking.

    Example: flag3d eval quality --checkpoint runs/quality-uiprmd/best
    """
    from flag3d.tasks.quality import as_json, evaluate

    res = evaluate(checkpoint, data=data, predicted=not no_predicted, counter_checkpoint=counter,
                   overrides=sets)
    reps = res["repetitions"]
    typer.echo(f"{res['data']}: {reps['n']} test repetitions ({res['split']['test']}), "
               f"threshold {res['threshold']}, {res['seconds']} s")
    for a, v in reps["per_activity"].items():
        typer.echo(f"  {a:6s} n={v['n']:4d}  accuracy {v['accuracy']:.4f}")
    if "mean_accuracy" in reps:
        typer.echo(f"  mean accuracy over activities {reps['mean_accuracy']:.4f}")
    if "per_standard" in reps:
        for k, v in reps["per_standard"].items():
            typer.echo(f"  {k:9s} accuracy {v['accuracy']:.4f}  fault F1 {v['f1']:.4f}  "
                       f"macro F1 {v['macro_f1']:.4f}")
    if "score_spearman" in reps:
        s = reps["score_spearman"]
        typer.echo(f"  m01 scores: Spearman {s['rho_p_all']:.4f} (n={s['n']})")
    for name in ("gt_seg", "pred_seg"):
        r = res.get("recordings", {}).get(name)
        if r and "score" in r:
            typer.echo(f"  Eq. 1 ({name}): Spearman {r['score']['overall']:.4f} pooled, "
                       f"{r['score']['fisher_mean']:.4f} body-part mean, R-l2 {r['r_l2']:.4f}, "
                       f"n={r['n']}, not assessable {len(r['not_assessable'])}")
    if out_json is not None:
        out_json.write_text(as_json(res) + "\n", encoding="utf-8")


def register(app: typer.Typer, train_app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add ``assess``, ``train quality``, ``train quality-thresholds`` and ``eval quality``."""
    app.command("assess")(assess_file)
    train_app.command("quality")(train_quality)
    train_app.command("quality-thresholds")(tune_quality_thresholds)
    eval_app.command("quality")(eval_quality)

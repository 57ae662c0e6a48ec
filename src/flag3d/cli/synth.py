"""``flag3d synth`` (write a synthetic corpus) and ``flag3d demo`` (the built-in default job).

Example:
    $ flag3d demo
    $ flag3d synth corpus/ --n 2000 --seed 1 --reps 1 40 --formats store,rac
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Tuple

import typer
from rich.console import Console
from rich.table import Table

from flag3d.errors import Flag3dError

console = Console()


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def _size(p: Path) -> int:
    return p.stat().st_size if p.is_file() else sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def synth(
    out: Path = typer.Argument(..., help="Output folder (created; an earlier corpus there needs --overwrite)."),
    n: int = typer.Option(250, "--n", help="Number of sequences."),
    seed: int = typer.Option(0, help="Corpus seed (same seed, same corpus)."),
    reps: Tuple[int, int] = typer.Option((1, 40), help="Range of repetitions per sequence."),
    subjects: int = typer.Option(10, help="Number of synthetic subjects."),
    activities: Optional[str] = typer.Option(None, help="Comma-separated activity ids or names (default: all 25 implemented)."),
    formats: str = typer.Option("store,pyskl3d,pyskl2d,rac", help="Comma-separated: store, pyskl3d, pyskl2d, rac."),
    views: str = typer.Option("front,side,oblique", help="Camera views for the 2D pickle."),
    fault_rate: float = typer.Option(0.13, help="Mean per-repetition, per-standard fault probability."),
    overwrite: bool = typer.Option(False, help="Replace a corpus written earlier to OUT."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Generate a synthetic FLAG3D-like corpus with exact counts and quality labels, in the real formats.

    Every file says it is synthetic. See docs/synthetic.md for what is generated.

    Example: flag3d synth corpus/ --n 2000 --seed 1 --formats store,rac
    """
    from flag3d.data.progress import ImportProgress
    from flag3d.synth import SynthConfig
    from flag3d.synth.write import write_corpus
    from flag3d.taxonomy import get_activity

    acts = None
    if activities:
        acts = tuple(get_activity(a.strip()).id for a in activities.split(",") if a.strip())
    config = SynthConfig(n_sequences=n, seed=seed, reps=tuple(reps), n_subjects=subjects,
                         activities=acts, fault_rate=fault_rate,
                         views=tuple(v.strip() for v in views.split(",") if v.strip()))
    fmts = [f.strip() for f in formats.split(",") if f.strip()]
    with ImportProgress(progress, n, label="generating") as tick:
        info = write_corpus(config, out, fmts, overwrite=overwrite, on_sample=lambda s: tick())
    console.print(f"wrote {info.sequences} synthetic sequences, {info.repetitions} repetitions, "
                  f"{info.frames} frames to {out}")
    for fmt, rel in info.files.items():
        console.print(f"  {fmt:8s} {out / rel}  ({_human(_size(out / rel))})")


def demo(
    out: Path = typer.Option(Path("flag3d-demo"), help="Folder for the demo corpus (replaced on every run)."),
    n: int = typer.Option(25, "--n", help="Number of sequences (25 = one per implemented activity)."),
    seed: int = typer.Option(0, help="Corpus seed."),
) -> None:
    """The built-in default job: a small synthetic corpus, written, read back and summarised.

    Generates one sequence per implemented activity, writes it in the real formats (store,
    FLAG3D++ counting folder, PYSKL pickles), reads every file back and prints what it holds.

    Example: flag3d demo --out /tmp/demo --n 50
    """
    from flag3d.data.progress import ImportProgress
    from flag3d.data.store import Store
    from flag3d.io import iter_sequences
    from flag3d.synth import SynthConfig, SynthSample
    from flag3d.synth.write import MARKER, write_corpus
    from flag3d.taxonomy import get_activity

    if out.exists() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise Flag3dError("folder exists and was not written by flag3d demo; choose --out", path=out)
    config = SynthConfig(n_sequences=n, seed=seed, reps=(2, 12), views=("front", "side"))
    samples: List[SynthSample] = []
    with ImportProgress(True, n, label="generating") as tick:
        def keep(s: SynthSample) -> None:
            samples.append(s)
            tick()

        info = write_corpus(config, out, overwrite=True, on_sample=keep)

    # Read everything back through the public readers.
    rac = {s.meta["id"]: s for s in iter_sequences(out / "rac", "flag3d-rac")}
    pk3 = list(iter_sequences(out / info.files["pyskl3d"], "pyskl"))
    pk2 = list(iter_sequences(out / info.files["pyskl2d"], "pyskl"))
    store = Store.open(out / "store")
    table = Table(title=f"{out}: {len(samples)} synthetic sequences (read back from the files)")
    for col in ("activity", "name", "subject", "split", "reps", "seconds", "faulty reps", "score"):
        table.add_column(col, justify="right" if col in ("reps", "seconds", "faulty reps", "score") else "left")
    for s in samples:
        seq_id = s.clean["flag3d24"].meta["id"]
        back = rac[seq_id]
        stored = store.get(seq_id)
        if len(back.meta.get("repetitions", [])) != s.count or stored.meta["repetitions"] != s.repetitions.tolist():
            raise Flag3dError(f"read-back mismatch for {seq_id}", path=out)
        faulty = int((s.quality.min(axis=1) == 0).sum())
        table.add_row(s.activity, get_activity(s.activity).name, s.subject,
                      str(stored.meta.get("split")), str(len(back.meta["repetitions"])),
                      f"{back.duration:.1f}", str(faulty), f"{s.score:.2f}")
    console.print(table)
    files = Table(title="files")
    for col in ("path", "format", "content", "size"):
        files.add_column(col)
    files.add_row(str(out / "store"), "flag3d store", f"{len(store)} x flag3d24 3D", _human(_size(out / "store")))
    files.add_row(str(out / "rac"), "FLAG3D++ counting folder", f"{len(rac)} x flag3d24 + Sta/End CSVs", _human(_size(out / "rac")))
    files.add_row(str(out / info.files["pyskl3d"]), "PYSKL pickle (3D)", f"{len(pk3)} x ntu25", _human(_size(out / info.files["pyskl3d"])))
    files.add_row(str(out / info.files["pyskl2d"]), "PYSKL pickle (2D)", f"{len(pk2)} x coco17 views", _human(_size(out / info.files["pyskl2d"])))
    console.print(files)
    store.close()
    console.print(f"{info.repetitions} repetitions in {info.frames / config.fps / 60:.1f} minutes of motion. "
                  "All of it is SYNTHETIC (see SYNTHETIC.txt in the folder); counts, boundaries and "
                  "quality labels are exact by construction.")
    console.print(f"Next: flag3d inspect {out / 'rac'}   |   flag3d data info {out / 'store'}")

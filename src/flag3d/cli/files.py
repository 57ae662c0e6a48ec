"""``flag3d inspect`` and ``flag3d convert``: look into any skeleton file, change its layout.

Example:
    $ flag3d inspect ../shared/data/uiprmd/correct/Positions/m01_s01_e01_positions.txt.gz
    $ flag3d convert pose.json pose_h36m.npz --layout h36m17
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from flag3d.errors import FormatError

console = Console()


def _reps(meta: dict) -> str:
    reps = meta.get("repetitions")
    return "-" if reps is None else str(len(reps))


def inspect(
    path: Path = typer.Argument(..., help="A skeleton file or folder (any format flag3d reads), or a RepCount-A CSV."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", help="Format name; detected when omitted."),
    limit: int = typer.Option(20, help="Show at most this many sequences."),
) -> None:
    """Print what a file holds: layout, shape, fps, activity, repetitions, synthetic or real.

    Example: flag3d inspect ../shared/data/keraal/G3-BP-CTK-P1T1-Unknown-C-0.json
    """
    from flag3d.io import detect_format, iter_sequences

    if path.suffix.lower() == ".csv" and fmt in (None, "repcount"):
        _inspect_repcount(path)
        return
    name = fmt or detect_format(path)
    table = Table(title=f"{path} ({name})")
    for col in ("id", "layout", "shape", "fps", "seconds", "activity", "reps", "synthetic"):
        table.add_column(col)
    n = frames = 0
    for seq in iter_sequences(path, name):
        n += 1
        frames += seq.num_frames
        if n <= limit:
            table.add_row(
                str(seq.meta.get("id", "-")), seq.layout, "x".join(map(str, seq.joints.shape)),
                f"{seq.fps:g}", f"{seq.duration:.1f}", str(seq.meta.get("activity", "-")),
                _reps(seq.meta), "yes" if seq.synthetic else "no",
            )
    if n == 0:
        raise FormatError("holds no sequence", path=path)
    console.print(table)
    more = f" (showing {limit})" if n > limit else ""
    console.print(f"{n} sequence(s), {frames} frames{more}")


def _inspect_repcount(path: Path) -> None:
    from flag3d.io.repcount import read_repcount_csv

    items = read_repcount_csv(path)
    if not items:
        raise FormatError("holds no annotation rows", path=path)
    table = Table(title=f"{path} (RepCount-A annotations)")
    for col in ("class", "videos", "repetitions", "mean count", "inconsistent rows"):
        table.add_column(col)
    by: dict = {}
    for it in items:
        by.setdefault(it.action, []).append(it)
    for action, rows in sorted(by.items()):
        counts = [r.count for r in rows]
        table.add_row(action, str(len(rows)), str(sum(counts)), f"{sum(counts) / len(rows):.1f}",
                      str(sum(not r.consistent for r in rows)))
    console.print(table)


def convert(
    src: Path = typer.Argument(..., help="Input skeleton file (one sequence)."),
    dest: Path = typer.Argument(..., help="Output file: .npz or .json (flag3d formats)."),
    layout: str = typer.Option(..., "--layout", "-l", help="Target layout, e.g. coco17, h36m17, ntu25."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", help="Input format; detected when omitted."),
) -> None:
    """Convert one sequence to another joint layout and save it as npz or json.

    Example: flag3d convert ../shared/data/keraal/G3-BP-CTK-P1T1-Unknown-C-0.json ctk_coco.npz --layout coco17
    """
    from flag3d.io import read_sequence, write_sequences
    from flag3d.skeleton.convert import convert as convert_layout

    out_fmt = {".npz": "npz", ".json": "json"}.get(dest.suffix.lower())
    if out_fmt is None:
        raise FormatError("output must end in .npz or .json", path=dest)
    seq = convert_layout(read_sequence(src, fmt), layout)
    write_sequences(dest, [seq], out_fmt)
    console.print(f"wrote {dest}: {seq.layout} {'x'.join(map(str, seq.joints.shape))} "
                  f"({seq.meta.get('conversion')})")

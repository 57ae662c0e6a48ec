"""``flag3d analyze`` (the main job) and ``flag3d serve`` (the web app).

Example:
    $ flag3d analyze                                   # the built-in demo recording
    $ flag3d analyze ../shared/data/videos/barbell-squat-side.mp4 --out squat/
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def analyze(
    input: Optional[Path] = typer.Argument(None, help="A video (mp4/mov/avi/webm/mkv) or a skeleton file; none: the built-in demo."),
    activity: Optional[str] = typer.Option(None, "--activity", "-a", help="The exercise (id or name, e.g. 'sumo squat'); default: recognised."),
    out: Path = typer.Option(Path("flag3d-analysis"), "--out", "-o", help="Folder for result.json and report.html."),
    overlay: bool = typer.Option(False, help="Also write overlay.mp4 (videos only): skeleton and a running count."),
    as_json: bool = typer.Option(False, "--json", help="Print result.json instead of the summary."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
) -> None:
    """Analyse a workout recording: which exercise, how many repetitions, where each starts and
    ends, how well each met the standards, and what to fix.

    Writes result.json (schema in the README) and a self-contained report.html.

    Example: flag3d analyze ../shared/data/videos/barbell-squat-side.mp4 --out squat/
    """
    from flag3d.analysis.pipeline import analyze as run

    if progress:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("{task.description:12s}"), BarColumn(), TimeElapsedColumn(),
                      console=Console(stderr=True), transient=True) as bar:
            tasks: dict = {}

            def tick(stage: str, fraction: float) -> None:
                if stage == "done":
                    return
                if stage not in tasks:
                    for other in tasks.values():
                        bar.update(other, completed=1.0)
                    tasks[stage] = bar.add_task(stage, total=1.0)
                bar.update(tasks[stage], completed=fraction)

            output = run(input, activity=activity, out=out, progress=tick, overlay=overlay)
    else:
        output = run(input, activity=activity, out=out, overlay=overlay)
    result = output.result
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    _print_summary(result, output.files)


def _print_summary(result: Any, files: Any) -> None:
    inp, act, cnt, q = result["input"], result["activity"], result["counting"], result["quality"]
    src = {"demo": "built-in demo (SYNTHETIC)", "video": "video", "skeleton": "skeleton file"}[inp["kind"]]
    console.print(f"[bold]{inp['path'] or 'demo'}[/bold]: {src}, {inp['duration_s']:.1f} s at "
                  f"{inp['fps']:.3g} fps" + (" (synthetic data)" if inp["synthetic"] and inp["kind"] != "demo" else ""))
    name = f"{act['id']} {act['name']}" if act["id"] else "unknown"
    console.print(f"activity: {name} ({act['source']})")
    if act["top3"]:
        console.print("  top 3: " + ", ".join(f"{a['name']} {a['probability']:.0%}" for a in act["top3"]))
    console.print(f"[bold]repetitions: {cnt['count']}[/bold]  ({cnt['method']})"
                  + (f" - {cnt['reason']}" if cnt.get("reason") else ""))
    if q["assessable"]:
        console.print(f"[bold]score: {q['score']:.2f}[/bold] of 9 (FLAG3D++ Eq. 1)")
    else:
        console.print(f"score: {q['reason']}")
    if cnt["repetitions"]:
        table = Table()
        for col in ("#", "start s", "end s", *(s["key"] for s in q["standards"] if q["assessable"]), "tip"):
            table.add_column(col)
        per = {r["index"]: r for r in q.get("repetitions", [])}
        for r in cnt["repetitions"]:
            qr = per.get(r["index"])
            marks = ["yes" if s["met"] else "[red]no[/red]" for s in qr["standards"]] if qr else []
            table.add_row(str(r["index"] + 1), f"{r['start_s']:.2f}", f"{r['end_s']:.2f}", *marks,
                          (qr or {}).get("tip") or "")
        console.print(table)
    for line in result.get("feedback", [])[1:]:
        console.print(f"- {line}")
    if "truth" in inp:
        console.print(f"(demo ground truth: {inp['truth']['count']} repetitions, score {inp['truth']['score']:.2f})")
    for w in result.get("warnings", []):
        console.print(f"[yellow]note:[/yellow] {w}")
    for kind, path in files.items():
        console.print(f"wrote {path}")


def register(app: typer.Typer, train_app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add ``analyze`` (and ``serve`` when the web app is installed) to the CLI."""
    app.command("analyze")(analyze)
    try:
        from flag3d.web.cli import register_serve
    except ImportError:
        return
    register_serve(app)

"""``flag3d taxonomy list|show``: the activities, their instructions and standards.

Example:
    $ flag3d taxonomy list --body-part leg
    $ flag3d taxonomy show "jumping jacks" --level 3
"""

from __future__ import annotations

from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(no_args_is_help=True, help="Activities, their instruction texts and standards.")
console = Console()


@app.command("list")
def list_(
    source: Optional[str] = typer.Option(None, help="flag3d or uiprmd (default: both)."),
    body_part: Optional[str] = typer.Option(None, help="Only this body part, e.g. leg."),
) -> None:
    """List activity ids, names, body parts and standard keys.

    Example: flag3d taxonomy list --source uiprmd
    """
    from flag3d.synth import synth_activities
    from flag3d.taxonomy import activities

    synth = set(synth_activities())
    table = Table()
    for col in ("id", "name", "body part", "standards", "synthetic"):
        table.add_column(col)
    for a in activities(source):
        if body_part and a.body_part != body_part.lower():
            continue
        table.add_row(a.id, a.name, a.body_part, ", ".join(a.keys), "yes" if a.id in synth else "")
    console.print(table)


@app.command()
def show(
    activity: str = typer.Argument(..., help="An id (A057, m01) or a name, loosely spelled."),
    level: int = typer.Option(3, min=1, max=3, help="Text level: 1 name, 2 description, 3 instructions."),
) -> None:
    """Show one activity: its text at a level and its three standards with tips.

    Example: flag3d taxonomy show "sumo squats" --level 2
    """
    from flag3d.taxonomy import get_activity

    a = get_activity(activity)
    console.print(f"[bold]{a.id} {a.name}[/bold] ({a.body_part})")
    console.print(a.text(level))
    table = Table(title="standards")
    for col in ("#", "key", "standard", "common mistake", "tip"):
        table.add_column(col)
    for s in a.standards:
        table.add_row(str(s.index + 1), s.key, s.text, s.mistake, s.tip)
    console.print(table)

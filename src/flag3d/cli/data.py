"""``flag3d data``: import, inspect, validate, export and split dataset stores.

A thin layer over :class:`flag3d.data.Store`, :mod:`flag3d.io` and :mod:`flag3d.data.splits`.
Problems are raised as :class:`~flag3d.errors.Flag3dError`; the main wrapper prints them in
one line and exits with status 2.

Example:
    $ flag3d data import flag3d.pkl stores/flag3d --format pyskl
    $ flag3d data info stores/flag3d
    $ flag3d data split stores/flag3d --by subject --protocol flag3d
    $ flag3d data validate stores/flag3d
    $ flag3d data export stores/flag3d test.npz --format npz --split test
"""

from __future__ import annotations

import inspect
import shutil
from enum import Enum
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import typer

from flag3d.errors import Flag3dError, StoreError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Import, inspect, validate, export and split datasets.",
)


def _console() -> Any:
    from rich.console import Console

    return Console()


def _reader_takes(fmt: str, option: str) -> bool:
    from flag3d.io import get_format

    reader = get_format(fmt).reader
    if reader is None:
        return False
    try:
        params = inspect.signature(reader).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return False
    return option in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


@app.command("import")
def import_(
    source: Path = typer.Argument(..., help="File or folder to read (any registered format)."),
    store: Path = typer.Argument(..., help="Store folder to create (or to add to with --append)."),
    fmt: Optional[str] = typer.Option(
        None, "--format", "-f", help="Format name (see 'flag3d.io.format_names'); detected if omitted."),
    append: bool = typer.Option(False, "--append", help="Add to an existing store."),
    layout: Optional[str] = typer.Option(
        None, "--layout", help="Joint layout: passed to readers that take one; every sequence must have it."),
    chunk_size: int = typer.Option(4096, "--chunk-size", min=1, help="Sequences per commit."),
    skip_duplicates: bool = typer.Option(
        False, "--skip-duplicates", help="Skip sequences whose id is already stored (default: error)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Import every sequence of SOURCE into the store STORE.

    Commits every --chunk-size sequences: an interrupted import keeps what was committed.

    Finish an interrupted import with --append --skip-duplicates.

    Example: flag3d data import flag3d.pkl stores/flag3d --format pyskl
    """
    from flag3d.data import Store
    from flag3d.data.store import MARKER
    from flag3d.io import detect_format, iter_sequences

    name = fmt or detect_format(source)
    if (store / MARKER).exists() and not append:
        raise StoreError("a store already exists here; add --append to add to it", path=store)
    opts: Dict[str, Any] = {}
    if layout is not None and _reader_takes(name, "layout"):
        opts["layout"] = layout
    created = not (store / MARKER).exists()
    st = Store.open_or_create(store)
    before = len(st)
    try:
        added = st.append(
            iter_sequences(source, name, **opts), chunk_size=chunk_size, layout=layout,
            on_duplicate="skip" if skip_duplicates else "error", progress=progress,
        )
    except Flag3dError as err:
        st.refresh()
        kept = len(st) - before
        if created and len(st) == 0:  # do not leave an empty store behind
            st.close()
            shutil.rmtree(store, ignore_errors=True)
            note = "nothing was stored"
        else:
            note = f"{kept} new sequences were committed before it and stay in {store}"
        raise type(err)(f"{err.problem} (import stopped; {note})", path=err.path) from None
    typer.echo(f"imported {added} sequences from {source} (format {name}) into {store}; "
               f"the store holds {len(st)}")


@app.command("info")
def info(
    store: Path = typer.Argument(..., help="Store folder."),
    top: int = typer.Option(60, "--top", help="Rows shown per count table."),
) -> None:
    """Show what a store holds: sequences, frames, hours, layouts and counts per column.

    Example: flag3d data info stores/flag3d
    """
    from rich.table import Table

    from flag3d.data import Store

    s = Store.open(store).summary()
    con = _console()
    over = Table(title=f"store {s['path']}", show_header=False)
    over.add_column("what", style="bold")
    over.add_column("value")
    over.add_row("sequences", f"{s['rows']:,}")
    over.add_row("frames", f"{s['frames']:,}")
    over.add_row("hours (at each sequence's fps)", f"{s['hours']:.2f}")
    over.add_row("synthetic sequences", f"{s['synthetic']:,} of {s['rows']:,}")
    over.add_row("size on disk", f"{s['bytes'] / 2**20:,.1f} MiB")
    over.add_row("array groups", ", ".join(f"{k} ({v:,})" for k, v in s["layouts"].items()) or "-")
    con.print(over)
    for key in ("split", "source", "subject", "activity"):
        counts = s[key]
        if not counts:
            continue
        t = Table(title=f"per {key}")
        t.add_column(key)
        t.add_column("sequences", justify="right")
        for k, v in list(counts.items())[:top]:
            t.add_row(k, f"{v:,}")
        if len(counts) > top:
            t.add_row(f"... {len(counts) - top} more", "")
        con.print(t)


@app.command("validate")
def validate(
    store: Path = typer.Argument(..., help="Store folder."),
    quick: bool = typer.Option(False, "--quick", help="Check the manifest and file sizes only, not every value."),
) -> None:
    """Check every row of a store; exits with status 2 and a one-line summary on problems.

    Example: flag3d data validate stores/flag3d
    """
    from flag3d.data import Store

    report = Store.open(store).validate(values=not quick)
    for note in report.notes:
        typer.echo(f"note: {note}")
    if not report.ok:
        for p in report.problems[:20]:
            typer.echo(f"problem: {p}")
        raise StoreError(report.summary(), path=store)
    typer.echo(report.summary())


@app.command("export")
def export(
    store: Path = typer.Argument(..., help="Store folder."),
    dest: Path = typer.Argument(..., help="File or folder to write."),
    fmt: str = typer.Option(..., "--format", "-f", help="Format name of a writer in flag3d.io."),
    split: Optional[str] = typer.Option(None, "--split", help="Only this split (train, val, test ...)."),
    activity: Optional[List[str]] = typer.Option(None, "--activity", help="Only these activities."),
) -> None:
    """Write the sequences of a store (or one split of it) in another format.

    Example: flag3d data export stores/flag3d test.npz --format npz --split test
    """
    from flag3d.data import Store
    from flag3d.io import write_sequences

    st = Store.open(store)
    rows = st.select(split=split, activity=activity or None)
    if not len(rows):
        have = ", ".join(st.summary()["split"]) or "none"
        raise StoreError(f"no sequences match (split={split}, activity={activity}); splits: {have}",
                         path=store)
    count = {"n": 0}

    def counted() -> Iterator[Any]:
        for seq in st.iter(rows):
            count["n"] += 1
            yield seq

    write_sequences(dest, counted(), fmt)
    typer.echo(f"exported {count['n']} sequences to {dest} (format {fmt})")


class SplitBy(str, Enum):
    subject = "subject"
    activity = "activity"


@app.command("split")
def split(
    store: Path = typer.Argument(..., help="Store folder."),
    by: Optional[SplitBy] = typer.Option(None, "--by", help="Keep each subject or each activity in one split."),
    protocol: Optional[str] = typer.Option(
        None, "--protocol", help="A published rule: flag3d, flag3d-quality, flag3d-counting, uiprmd."),
    train: Optional[List[str]] = typer.Option(None, "--train", help="Train subjects/activities (repeat or comma-separate)."),
    test: Optional[List[str]] = typer.Option(None, "--test", help="Test subjects/activities (repeat or comma-separate)."),
    seed: int = typer.Option(0, "--seed", help="Seed of a random split."),
    test_fraction: Optional[float] = typer.Option(
        None, "--test-fraction", help="Fraction of subjects/activities sent to test at random."),
    n_test: Optional[int] = typer.Option(None, "--n-test", help="Number of subjects/activities sent to test at random."),
) -> None:
    """Assign the split column of a store by subject or by activity (written atomically).

    With --train/--test the lists decide; one list alone means the rest is the other split.

    Otherwise a seeded random choice sends --n-test or --test-fraction of the groups to test.

    Defaults: 30% of subjects; 1/6 of activities (10 of 60, FLAG3D++ counting).

    Example: flag3d data split stores/uiprmd --by subject --test s08,s09,s10

    Example: flag3d data split stores/flag3d --protocol flag3d-counting
    """
    from rich.table import Table

    from flag3d.data import Store
    from flag3d.data.splits import PROTOCOLS, SplitError, protocol_split, split_by_activity, split_by_subject

    st = Store.open(store)
    if protocol is not None:
        if train or test or test_fraction is not None or n_test is not None:
            raise SplitError("--protocol cannot be combined with --train/--test/--test-fraction/--n-test")
        if protocol not in PROTOCOLS:
            raise SplitError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
        key = PROTOCOLS[protocol].by
        if by is not None and by.value != key:
            raise SplitError(f"protocol {protocol} splits by {key}, not by {by.value}")
        values = protocol_split(protocol, st)
    else:
        if by is None:
            raise SplitError("say --by subject or --by activity (or --protocol NAME)")
        key = by.value
        fn = split_by_subject if key == "subject" else split_by_activity
        values = fn(st, train=train or None, test=test or None, n_test=n_test,
                    test_fraction=test_fraction, seed=seed)
    st.set_split(list(values))
    groups: Dict[str, set] = {"train": set(), "test": set()}
    rows = {"train": 0, "test": 0}
    for g, v in zip(st.table.column(key).to_pylist(), values):
        groups[v].add(g)
        rows[v] += 1
    t = Table(title=f"split of {store} by {key}")
    t.add_column("split")
    t.add_column("sequences", justify="right")
    t.add_column(f"{key}s")
    for name in ("train", "test"):
        t.add_row(name, f"{rows[name]:,}", ", ".join(sorted(groups[name])))
    _console().print(t)

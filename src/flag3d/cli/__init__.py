"""The ``flag3d`` command line: a thin layer that parses arguments and calls the library.

Each area has its own sub-command module (``data``, ``synth``, ...); this module wires them
into one Typer app.  Any :class:`~flag3d.errors.Flag3dError` is printed as one line on
stderr and the process exits with status 2.

Example:
    $ flag3d --help
"""

from __future__ import annotations

import os
import sys
from typing import List, Optional

# numpy's OpenBLAS starts one thread per core and spins them; next to MediaPipe, a second
# analysis or a training run on a 2-core machine that made the numpy recogniser 60-100x
# slower (15 s instead of 0.15 s for one recording).  The command line's numpy work is
# small matrices, so one BLAS thread; set OPENBLAS_NUM_THREADS yourself to override.
# (Set before numpy is imported; the torch paths set their own threads.)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import typer  # noqa: E402

from flag3d.errors import Flag3dError  # noqa: E402

app = typer.Typer(
    name="flag3d",
    help="3D fitness activity comprehension: skeleton data, counting, quality.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


train_app = typer.Typer(no_args_is_help=True, help="Train a model: recognition, counting, quality.")
eval_app = typer.Typer(no_args_is_help=True, help="Evaluate a trained model on a test split.")


_registered = False


def _register() -> None:
    """Attach the sub-command modules once (imported lazily so --help stays fast)."""
    global _registered
    if _registered:
        return
    _registered = True
    import importlib

    from flag3d.cli import data as data_cli
    from flag3d.cli import files, synth, taxonomy

    app.command()(synth.demo)
    app.command()(synth.synth)
    app.command()(files.inspect)
    app.command()(files.convert)
    app.add_typer(data_cli.app, name="data", help="Import, inspect, validate, export and split datasets.")
    app.add_typer(taxonomy.app, name="taxonomy", help="Activities, their instruction texts and standards.")
    # Task modules register their own commands: register(app, train_app, eval_app).
    for name in TASK_MODULES:
        try:
            module = importlib.import_module(f"flag3d.cli.{name}")
        except ModuleNotFoundError as err:  # a task whose CLI is not written yet
            if err.name != f"flag3d.cli.{name}":
                raise
            continue
        module.register(app, train_app, eval_app)
    app.add_typer(train_app, name="train")
    app.add_typer(eval_app, name="eval")


#: CLI modules of the tasks, each with ``register(app, train_app, eval_app)``.
TASK_MODULES = ("recognition", "counting", "quality", "analyze", "text")


def main(argv: Optional[List[str]] = None) -> None:
    """Entry point of the ``flag3d`` script."""
    _register()
    try:
        app(args=argv, standalone_mode=False)
    except Flag3dError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(2)
    except (typer.Exit, SystemExit) as ex:  # --help and explicit exits
        code = getattr(ex, "exit_code", getattr(ex, "code", 0))
        sys.exit(code or 0)
    except Exception as ex:  # click usage errors arrive here with standalone_mode=False
        import click

        if isinstance(ex, click.exceptions.ClickException):
            ex.show()
            sys.exit(2)
        if isinstance(ex, click.exceptions.Abort):
            typer.echo("aborted", err=True)
            sys.exit(1)
        raise

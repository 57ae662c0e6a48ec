"""``flag3d serve``: run the web app with uvicorn.

:func:`register_serve` adds the command to the ``flag3d`` Typer app (the CLI's analyze
module calls it when the web dependencies are installed).

Example:
    $ flag3d serve --port 8000 --workers 2
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, min=1, max=65535, help="TCP port."),
    max_upload_mb: float = typer.Option(200.0, min=0.001, help="Largest upload accepted, MB."),
    max_duration_s: float = typer.Option(600.0, min=1.0, help="Longest recording accepted, seconds."),
    workers: int = typer.Option(2, min=1, help="Analyses run at once (worker processes)."),
    data_dir: Optional[Path] = typer.Option(None, help="Folder for the jobs' files (default: a temporary folder)."),
) -> None:
    """Serve the upload page and the JSON API (OpenAPI at /docs) until Ctrl-C.

    Example: flag3d serve --host 127.0.0.1 --port 8000 --max-upload-mb 200 --workers 2
    """
    import uvicorn

    from flag3d.web.app import create_app

    app = create_app(max_upload_mb=max_upload_mb, max_duration_s=max_duration_s,
                     workers=workers, data_dir=data_dir)
    typer.echo(f"flag3d web app on http://{host}:{port}/ (API docs: /docs); Ctrl-C stops it",
               err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def register_serve(app: typer.Typer) -> None:
    """Add ``serve`` to the ``flag3d`` command line."""
    app.command("serve")(serve)

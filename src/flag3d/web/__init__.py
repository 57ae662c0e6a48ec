"""The web app of ``flag3d serve``: upload a recording, follow its analysis, read the report.

* :func:`create_app` (:mod:`flag3d.web.app`): the FastAPI app (page + JSON API);
* :mod:`flag3d.web.jobs`: the bounded worker pool, job status and clean-up;
* :mod:`flag3d.web.uploads`: size limits while streaming uploads to disk, content checks;
* :mod:`flag3d.web.cli`: ``register_serve(app)`` adds ``flag3d serve`` to the CLI.

Needs FastAPI, uvicorn and python-multipart.

Example:
    >>> from flag3d.web import create_app
    >>> create_app(executor="thread").title
    'flag3d'
"""

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # FastAPI is imported only when the app is built, so `flag3d count` and the other
    # commands do not pay ~0.6 s for it at start-up.
    if name == "create_app":
        from flag3d.web.app import create_app

        return create_app
    raise AttributeError(f"module 'flag3d.web' has no attribute {name!r}")

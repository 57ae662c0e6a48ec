"""The FastAPI app of ``flag3d serve``: an upload page and the same as a JSON API.

=========================================  =================================================
``GET /``                                  the upload page (:mod:`flag3d.web.page`)
``GET /jobs/{id}``                         the page, following one job
``POST /api/jobs``                         upload (multipart field ``file``, optional
                                           ``activity``; or the raw bytes with
                                           ``?filename=``); 202 + the job's status.
                                           ``?wait=true`` answers when the job has ended:
                                           200, or the job's 4xx/5xx with its message
``GET /api/jobs``                          recent jobs
``GET /api/jobs/{id}``                     status, stage, progress, summary, and the full
                                           ``result`` once done
``GET /api/jobs/{id}/report``              ``report.html`` (409 while running; the job's
``GET /api/jobs/{id}/result``              error status and message if it failed)
``GET /api/health``                        limits, workers and job counts
``GET /docs``, ``/openapi.json``           the OpenAPI description (FastAPI)
=========================================  =================================================

Refused uploads answer at once with ``{"detail": message}``: 413 too large (by the
declared length before the body is read, or by the running count while streaming) or too
long, 415 unknown extension, 400 empty / corrupt / unreadable (checks in
:mod:`flag3d.web.uploads`).  Errors the analysis raises (:class:`~flag3d.errors.Flag3dError`,
e.g. no person in the video) make the job ``failed`` with the one-line message, reported
by the status endpoint, and a 422 from ``report``/``result`` and ``?wait=true``.

Example:
    >>> from flag3d.web.app import create_app
    >>> app = create_app(executor="thread")
    >>> sorted(r.path for r in app.routes if r.path.startswith("/api/jobs"))[:2]
    ['/api/jobs', '/api/jobs']
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import tempfile
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Dict, List, Optional, Union

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from flag3d import __version__
from flag3d.web.jobs import DEFAULT_ANALYZE, Job, JobManager
from flag3d.web.page import PAGE_CSP, index_html
from flag3d.web.uploads import UploadRejected, check_upload, receive_upload

_JOB_ID = re.compile(r"^[0-9a-f]{32}$")
REPORT_CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
              "script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'")


def _activity_names() -> List[str]:
    try:
        from flag3d.taxonomy import activities

        return [a.name for a in activities("flag3d")]
    except Exception:  # the page works without suggestions
        return []


def create_app(
    analyze_fn: Optional[Union[Callable[..., Any], str]] = None,
    *,
    max_upload_mb: float = 200.0,
    max_duration_s: float = 600.0,
    workers: int = 2,
    executor: str = "process",
    data_dir: Optional[Path] = None,
    keep_jobs: int = 100,
) -> FastAPI:
    """Build the app.

    Args:
        analyze_fn: the analyse function (the pipeline's signature: ``(input_path,
            activity=, out=, progress=, **options)`` returning an ``AnalysisOutput`` or a
            result dict), or a ``"module:function"`` reference; default the pipeline,
            imported in the workers.  With processes it must be picklable (module level).
        max_upload_mb: largest upload accepted (megabytes, 10^6 bytes).
        max_duration_s: longest recording accepted (seconds).
        workers: jobs analysed at once (further jobs queue).
        executor: ``"process"`` (default) or ``"thread"``; see :mod:`flag3d.web.jobs`.
        data_dir: folder for the jobs' files (default: a temporary folder removed at
            shutdown).
        keep_jobs: finished jobs kept (older ones and their files are deleted).
    """
    own_dir = data_dir is None
    root = Path(tempfile.mkdtemp(prefix="flag3d-web-")) if own_dir else Path(data_dir)
    manager = JobManager(analyze_fn or DEFAULT_ANALYZE, root, workers=workers,
                         executor=executor, keep_jobs=keep_jobs)
    limit = int(max_upload_mb * 1e6)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        manager.shutdown()
        if own_dir:
            shutil.rmtree(root, ignore_errors=True)

    app = FastAPI(title="flag3d", version=__version__, lifespan=lifespan,
                  description="Upload a workout video or skeleton file; get the exercise, the "
                              "repetitions, per-repetition quality and a report.")
    app.state.jobs = manager
    app.state.limits = {"max_upload_mb": max_upload_mb, "max_duration_s": max_duration_s}

    def find(job_id: str) -> Job:
        job = manager.get(job_id) if _JOB_ID.match(job_id) else None
        if job is None:
            raise HTTPException(404, f"no job {job_id[:40]!r} (finished jobs are kept for a while only)")
        return job

    def status_with_result(job: Job) -> Dict[str, Any]:
        st = manager.status(job)
        st["result"] = None
        if st["status"] == "done":
            try:
                st["result"] = json.loads((job.folder / "result.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                pass
        return st

    def finished_file(job: Job, name: str) -> Path:
        st = manager.status(job)
        if st["status"] == "failed":
            raise HTTPException(job.error_status or 422, job.error or "the analysis failed")
        if st["status"] != "done":
            raise HTTPException(409, f"job {job.id} is {st['status']} ({st['stage']}); poll "
                                     f"/api/jobs/{job.id} until it is done")
        path = job.folder / name
        if not path.is_file():
            raise HTTPException(410, f"the files of job {job.id} were removed")
        return path

    page = index_html(max_upload_mb, max_duration_s, _activity_names())

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(page, headers={"Content-Security-Policy": PAGE_CSP})

    @app.get("/jobs/{job_id}", response_class=HTMLResponse, include_in_schema=False)
    def job_page(job_id: str) -> HTMLResponse:
        find(job_id)
        return HTMLResponse(page, headers={"Content-Security-Policy": PAGE_CSP})

    @app.post("/api/jobs", status_code=202, summary="Upload a recording and start its analysis")
    async def create_job(request: Request, activity: Optional[str] = None,
                         filename: Optional[str] = None, wait: bool = False) -> JSONResponse:
        """Body: ``multipart/form-data`` with ``file`` (and optionally ``activity``), or the
        raw file bytes with ``?filename=NAME``."""
        job = manager.new_job("upload", "unknown")
        try:
            upload = await receive_upload(request, job.upload_dir, limit, filename)
            job.name, job.kind = upload.name, upload.kind
            job.activity = (upload.fields.get("activity") or activity or "").strip()[:200] or None
            job.facts = await run_in_threadpool(check_upload, upload, max_duration_s)
        except UploadRejected as err:
            manager.discard(job)
            return JSONResponse({"detail": err.message}, status_code=err.status,
                                headers={"Connection": "close"})
        except ClientDisconnect:
            manager.discard(job)
            return JSONResponse({"detail": "the upload was interrupted"}, status_code=400)
        except BaseException:
            manager.discard(job)
            raise
        future = manager.submit(job, upload.path)
        if wait:
            try:
                await asyncio.wrap_future(future)
            except Exception:  # a dead worker or a cancelled job: _finished recorded it
                pass
            if job.status == "failed":
                return JSONResponse({"detail": job.error, **manager.status(job)},
                                    status_code=job.error_status or 422)
            return JSONResponse(status_with_result(job), status_code=200)
        return JSONResponse(manager.status(job), status_code=202,
                            headers={"Location": f"/api/jobs/{job.id}"})

    @app.get("/api/jobs", summary="Recent jobs")
    def list_jobs() -> List[Dict[str, Any]]:
        return [manager.status(j) for j in manager.jobs()]

    @app.get("/api/jobs/{job_id}", summary="A job's status, progress and (when done) result")
    def job_status(job_id: str) -> Dict[str, Any]:
        return status_with_result(find(job_id))

    @app.get("/api/jobs/{job_id}/report", response_class=HTMLResponse, summary="The report page")
    def job_report(job_id: str) -> FileResponse:
        path = finished_file(find(job_id), "report.html")
        return FileResponse(path, media_type="text/html; charset=utf-8",
                            headers={"Content-Security-Policy": REPORT_CSP})

    @app.get("/api/jobs/{job_id}/result", summary="The job's result.json")
    def job_result(job_id: str) -> FileResponse:
        path = finished_file(find(job_id), "result.json")
        return FileResponse(path, media_type="application/json", filename="result.json",
                            content_disposition_type="inline")

    @app.get("/api/health", summary="Limits, workers and job counts")
    def health() -> Dict[str, Any]:
        return {"status": "ok", "version": __version__, "workers": manager.workers,
                "executor": manager.kind, **app.state.limits, "jobs": manager.counts()}

    return app

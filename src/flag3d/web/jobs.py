"""Analysis jobs of the web app: a bounded pool of workers, status, progress, clean-up.

**Processes, not threads, by default.**  The analysis is CPU bound and long (seconds to
minutes): MediaPipe, FFmpeg decoding, torch and numpy.  Worker processes run jobs truly in
parallel whatever holds the GIL, each has its own MediaPipe graph (MediaPipe is not
thread-safe per graph) and its own torch thread pool (pinned to ``cores / workers``
threads so two jobs do not fight over the cores), a crash inside native code fails one
job instead of the server, and memory is returned when a worker is replaced.  The costs -
a worker start of a few seconds (paid once, in the background, at the first job) and
pickling the analyse function by reference - are small next to a video analysis.
``executor="thread"`` exists for tests and for analyse functions that cannot be pickled.

A job's files live in ``<root>/<job id>/``: the upload in ``upload/`` (deleted as soon as
the job ends, whatever the outcome, by the worker and again by the server), and
``result.json``, ``report.html``, ``progress.json`` and ``status.json`` written by the
worker.  Only the newest ``keep_jobs`` finished jobs are kept.

Example:
    >>> from flag3d.web.jobs import overall_progress
    >>> overall_progress("counting", 0.5)
    0.9
"""

from __future__ import annotations

import datetime as _dt
import importlib
import json
import logging
import os
import shutil
import threading
import time
import uuid
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

log = logging.getLogger("flag3d.web")

#: The pipeline, imported in the worker (lazily: it pulls in torch and MediaPipe).
DEFAULT_ANALYZE = "flag3d.analysis.pipeline:analyze"
AnalyzeRef = Union[str, Callable[..., Any]]
#: Share of the whole job at which each pipeline stage starts (a video spends most in pose).
STAGES: Dict[str, Tuple[float, float]] = {
    "queued": (0.0, 0.0), "start": (0.0, 0.02), "load": (0.02, 0.05), "pose": (0.05, 0.8),
    "recognition": (0.8, 0.85), "counting": (0.85, 0.95), "quality": (0.95, 0.97),
    "report": (0.97, 1.0), "done": (1.0, 1.0),
}
JOB_ID_LEN = 32


def overall_progress(stage: Optional[str], fraction: float) -> float:
    """The whole job's progress in [0, 1] from the current stage and its own fraction."""
    lo, hi = STAGES.get(stage or "start", (0.0, 0.0))
    return round(lo + (hi - lo) * min(max(float(fraction), 0.0), 1.0), 3)


def resolve(ref: AnalyzeRef) -> Callable[..., Any]:
    """The analyse function from a ``"module:function"`` reference (or itself)."""
    if callable(ref):
        return ref
    module, _, name = str(ref).partition(":")
    return getattr(importlib.import_module(module), name)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    tmp.replace(path)


class _ProgressFile:
    """The worker's ``progress(stage, fraction)`` callback: writes ``progress.json``
    at most every 0.2 s, and at once when the stage changes."""

    def __init__(self, path: Path) -> None:
        self.path, self.stage, self.last = path, None, 0.0

    def __call__(self, stage: str, fraction: float) -> None:
        now = time.monotonic()
        if stage == self.stage and now - self.last < 0.2:
            return
        self.stage, self.last = stage, now
        try:
            _write_json(self.path, {"stage": stage, "fraction": float(fraction)})
        except OSError:  # the job folder was removed (server shutting down)
            pass


def _unpack(output: Any) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """``(result, arrays)`` from an ``AnalysisOutput``-like object or a plain result dict."""
    if isinstance(output, dict) and "schema" in output:
        return output, {}
    result = output["result"] if isinstance(output, dict) else getattr(output, "result")
    arrays = {}
    for key in ("skeleton", "skeleton2d", "signal", "density"):
        value = output.get(key) if isinstance(output, dict) else getattr(output, key, None)
        arrays[key] = value
    return result, arrays


def worker_init(threads: int) -> None:
    """Process-pool initializer: cap the math libraries' threads per worker."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ.setdefault("GLOG_minloglevel", "2")


def run_job(analyze: AnalyzeRef, input_path: str, job_dir: str, activity: Optional[str],
            display_name: str, threads: int = 1) -> Dict[str, Any]:
    """Analyse one upload in a worker; returns the job's final state (never raises).

    Writes ``result.json`` and ``report.html`` into ``job_dir``; the input file is removed
    before returning.  A :class:`~flag3d.errors.Flag3dError` becomes ``failed`` with its
    one-line message (naming the upload as the user called it, not the server's path).
    """
    from flag3d.errors import Flag3dError

    folder = Path(job_dir)
    src = Path(input_path)
    progress = _ProgressFile(folder / "progress.json")
    progress("start", 0.0)
    try:
        _limit_torch_threads(threads)
        fn = resolve(analyze)
        output = fn(src, activity=activity or None, out=None, progress=progress, write=False)
        result, arrays = _unpack(output)
        result.setdefault("input", {})["path"] = display_name
        progress("report", 0.0)
        t = time.perf_counter()
        from flag3d.analysis.result import check_result
        from flag3d.report.html import write_report

        check_result(result)
        write_report(result, folder, **arrays)
        timings = result.setdefault("timings_s", {})
        timings["report"] = round(time.perf_counter() - t, 3)
        if "total" in timings:
            timings["total"] = round(float(timings["total"]) + timings["report"], 3)
        _write_json(folder / "result.json", result)
        progress("done", 1.0)
        return {"status": "done", "summary": summarize(result)}
    except Flag3dError as err:
        problem = err.problem if err.path is not None else str(err)
        message = f"{display_name}: {problem}".replace(str(src), display_name)
        return {"status": "failed", "error": message, "error_status": 422}
    except Exception as err:  # a bug, not the user's input: keep the details in the log
        log.exception("job in %s failed", job_dir)
        return {"status": "failed", "error": f"internal error while analysing {display_name}: "
                                             f"{type(err).__name__}", "error_status": 500}
    finally:
        shutil.rmtree(src.parent, ignore_errors=True)


def _limit_torch_threads(threads: int) -> None:
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and threads > 0:
        torch.set_num_threads(threads)


def summarize(result: Dict[str, Any]) -> Dict[str, Any]:
    """The few numbers the page shows while the report loads."""
    act, cnt, q = result.get("activity") or {}, result.get("counting") or {}, result.get("quality") or {}
    return {"activity": act.get("name"), "activity_id": act.get("id"),
            "count": int(cnt.get("count") or 0), "score": q.get("score"),
            "assessable": bool(q.get("assessable")), "reason": q.get("reason"),
            "synthetic": bool((result.get("input") or {}).get("synthetic"))}


@dataclass
class Job:
    """One analysis job (the server's view of it)."""

    id: str
    folder: Path
    name: str
    kind: str
    activity: Optional[str] = None
    created: str = field(default_factory=_now)
    status: str = "queued"
    error: Optional[str] = None
    error_status: Optional[int] = None
    summary: Optional[Dict[str, Any]] = None
    finished: Optional[float] = None
    facts: Dict[str, Any] = field(default_factory=dict)

    @property
    def upload_dir(self) -> Path:
        """Where the uploaded file sits until the job ends."""
        return self.folder / "upload"


class JobManager:
    """Creates jobs, runs them on a bounded pool, reports their state.

    Args:
        analyze: the analyse function or a ``"module:function"`` reference (picklable for
            processes).
        root: folder for the jobs' files.
        workers: how many jobs run at once; further jobs wait in the queue.
        executor: ``"process"`` (default, see the module docstring) or ``"thread"``.
        keep_jobs: how many finished jobs (files and status) to keep.
    """

    def __init__(self, analyze: AnalyzeRef, root: Path, workers: int = 2,
                 executor: str = "process", keep_jobs: int = 100) -> None:
        if executor not in ("process", "thread"):
            raise ValueError(f"executor must be 'process' or 'thread', got {executor!r}")
        self.analyze, self.root = analyze, Path(root)
        self.workers, self.kind, self.keep_jobs = max(1, int(workers)), executor, keep_jobs
        self.threads = max(1, (os.cpu_count() or 1) // self.workers)
        self.root.mkdir(parents=True, exist_ok=True)
        self._jobs: Dict[str, Job] = {}
        self._lock = threading.Lock()
        self._pool: Optional[Executor] = None

    # ------------------------------------------------------------------ pool
    def _executor(self) -> Executor:
        with self._lock:
            if self._pool is None:
                if self.kind == "thread":
                    self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="flag3d-job")
                else:
                    import multiprocessing

                    self._pool = ProcessPoolExecutor(
                        self.workers, mp_context=multiprocessing.get_context("spawn"),
                        initializer=worker_init, initargs=(self.threads,))
            return self._pool

    def shutdown(self) -> None:
        """Stop the pool (running jobs are abandoned, queued ones cancelled)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ jobs
    def new_job(self, name: str, kind: str) -> Job:
        """A fresh job with its (empty) upload folder."""
        job = Job(uuid.uuid4().hex, Path(), name, kind)
        job.folder = self.root / job.id
        job.upload_dir.mkdir(parents=True)
        return job

    def discard(self, job: Job) -> None:
        """Remove a job that was never submitted (a refused upload)."""
        shutil.rmtree(job.folder, ignore_errors=True)

    def submit(self, job: Job, input_path: Path) -> "Future[Dict[str, Any]]":
        """Queue ``job`` on the pool."""
        with self._lock:
            self._jobs[job.id] = job
        args = (self.analyze, str(input_path), str(job.folder), job.activity, job.name, self.threads)
        try:
            future = self._executor().submit(run_job, *args)
        except BrokenProcessPool:
            self._replace_broken_pool()
            future = self._executor().submit(run_job, *args)
        future.add_done_callback(lambda f, job=job: self._finished(job, f))
        return future

    def _replace_broken_pool(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _finished(self, job: Job, future: "Future[Dict[str, Any]]") -> None:
        try:
            state = future.result()
        except BrokenProcessPool:
            state = {"status": "failed", "error": f"the analysis of {job.name} stopped "
                     "unexpectedly (the worker process died)", "error_status": 500}
            self._replace_broken_pool()
        except BaseException as err:  # cancelled at shutdown, or a pickling problem
            state = {"status": "failed", "error": f"the job could not run: {type(err).__name__}",
                     "error_status": 500}
        shutil.rmtree(job.upload_dir, ignore_errors=True)
        with self._lock:
            job.status = state["status"]
            job.error = state.get("error")
            job.error_status = state.get("error_status")
            job.summary = state.get("summary")
            job.finished = time.time()
        self._prune()

    def _prune(self) -> None:
        with self._lock:
            done = sorted((j for j in self._jobs.values() if j.finished is not None),
                          key=lambda j: j.finished or 0.0)
            old = done[: max(0, len(done) - self.keep_jobs)]
            for j in old:
                del self._jobs[j.id]
        for j in old:
            shutil.rmtree(j.folder, ignore_errors=True)

    def get(self, job_id: str) -> Optional[Job]:
        """The job with this id, or ``None``."""
        with self._lock:
            return self._jobs.get(job_id)

    def jobs(self) -> List[Job]:
        """All known jobs, newest first."""
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.created, reverse=True)

    def status(self, job: Job) -> Dict[str, Any]:
        """The job's state for the JSON API (progress read from the worker's file)."""
        stage, fraction, status = None, 0.0, job.status
        if status == "queued":
            try:
                prog = json.loads((job.folder / "progress.json").read_text(encoding="utf-8"))
                stage, fraction, status = prog.get("stage"), float(prog.get("fraction", 0.0)), "running"
            except (OSError, ValueError):
                stage = "queued"
        elif status == "done":
            stage, fraction = "done", 1.0
        base = f"/api/jobs/{job.id}"
        return {
            "id": job.id, "status": status, "file": job.name, "kind": job.kind,
            "activity_requested": job.activity, "created": job.created, "stage": stage,
            "progress": 1.0 if status == "done" else overall_progress(stage, fraction),
            "error": job.error, "summary": job.summary,
            "links": {"self": base, "report": f"{base}/report", "result": f"{base}/result",
                      "page": f"/jobs/{job.id}"},
        }

    def counts(self) -> Dict[str, int]:
        """How many jobs are in each state."""
        out: Dict[str, int] = {"queued": 0, "running": 0, "done": 0, "failed": 0}
        for job in self.jobs():
            out[self.status(job)["status"]] += 1
        return out

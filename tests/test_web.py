"""The web app (``flag3d serve``): uploads, jobs, reports, limits and refusals.

Most tests use ``analysis_fakes.fake_analyze`` (exact counts from the file's labels, an
optional delay to hold jobs in flight) on a thread pool; one runs the default process pool,
a few run the real pipeline.  The oversized-upload tests drive the ASGI app directly with
a body that records how much of it was read, because the test client reads a request body
completely before the app sees it.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np
import pytest

pytest.importorskip("httpx", reason="httpx (for fastapi.testclient) is not installed")
from fastapi.testclient import TestClient  # noqa: E402

from analysis_fakes import (  # noqa: E402
    fake_analyze, synth_sequence, write_audio, write_blank_video,
)
from flag3d.io import write_sequences  # noqa: E402
from flag3d.web import create_app  # noqa: E402

DONE = ("done", "failed")


# ----------------------------------------------------------------------------- helpers
def skeleton_file(path: Path, reps: int, activity: str = "A049", seed: int = 0,
                  **meta: Any) -> Path:
    """A synthetic recording with exact labels (and fake_* knobs) in its metadata."""
    seq = synth_sequence(activity, reps=reps, seed=seed)
    seq = seq.replace(meta={**seq.meta, **meta})
    write_sequences(path, [seq], "npz")
    return path


def wait_for(client: TestClient, job_id: str, timeout: float = 30.0) -> Dict[str, Any]:
    end = time.monotonic() + timeout
    while True:
        st = client.get(f"/api/jobs/{job_id}").json()
        if st["status"] in DONE:
            return st
        assert time.monotonic() < end, f"job {job_id} did not finish: {st}"
        time.sleep(0.05)


def upload(client: TestClient, path: Path, name: Optional[str] = None, wait: bool = False,
           **fields: str) -> Any:
    with open(path, "rb") as fh:
        return client.post("/api/jobs" + ("?wait=true" if wait else ""),
                           files={"file": (name or path.name, fh)}, data=fields or None)


def files_under(folder: Path) -> List[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., Tuple[TestClient, Path]]]:
    """``make_client(**create_app options) -> (client, data_dir)``; closed after the test."""
    opened: List[TestClient] = []

    def make(analyze_fn: Any = fake_analyze, **kw: Any) -> Tuple[TestClient, Path]:
        data = tmp_path / f"data{len(opened)}"
        kw.setdefault("executor", "thread")
        client = TestClient(create_app(analyze_fn, data_dir=data, **kw))
        client.__enter__()
        opened.append(client)
        return client, data

    yield make
    for c in opened:
        c.__exit__(None, None, None)


# ------------------------------------------------------------------------ happy paths
def test_health_reports_limits_and_workers(make_client: Any) -> None:
    client, _ = make_client(max_upload_mb=12.5, max_duration_s=90, workers=3)
    h = client.get("/api/health").json()
    assert h["status"] == "ok" and h["workers"] == 3 and h["executor"] == "thread"
    assert (h["max_upload_mb"], h["max_duration_s"]) == (12.5, 90)
    assert h["jobs"] == {"queued": 0, "running": 0, "done": 0, "failed": 0}
    page = client.get("/")
    assert page.status_code == 200 and "Limits: 12.5 MB, 90 s." in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]


def test_upload_skeleton_file_then_read_result_and_report(make_client: Any, tmp_path: Path) -> None:
    client, data = make_client()
    path = skeleton_file(tmp_path / "squats.npz", reps=5, seed=3)
    r = upload(client, path)
    assert r.status_code == 202, r.text
    st = r.json()
    job = st["id"]
    assert r.headers["location"] == f"/api/jobs/{job}"
    assert st["file"] == "squats.npz" and st["kind"] == "skeleton"
    st = wait_for(client, job)
    assert st["status"] == "done" and st["progress"] == 1.0
    assert st["summary"]["count"] == 5 and st["summary"]["activity"] == "Sumo Squat"
    assert st["summary"]["synthetic"] is True and st["summary"]["score"] == pytest.approx(7.8)
    result = st["result"]
    assert result["counting"]["count"] == 5 and len(result["counting"]["repetitions"]) == 5
    assert result["input"]["path"] == "squats.npz"  # the user's name, not the server's path
    report = client.get(st["links"]["report"])
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert 'id="count" data-count="5">5<' in report.text
    assert "default-src 'none'" in report.headers["content-security-policy"]
    assert client.get(st["links"]["result"]).json()["counting"]["count"] == 5
    assert client.get(st["links"]["page"]).status_code == 200
    assert [j["id"] for j in client.get("/api/jobs").json()] == [job]
    # the upload is gone; only the job's outputs remain
    names = sorted(p.name for p in files_under(data))
    assert names == ["progress.json", "report.html", "result.json"]
    assert not (data / job / "upload").exists()


def test_raw_body_upload_and_wait(make_client: Any, tmp_path: Path) -> None:
    client, _ = make_client()
    body = skeleton_file(tmp_path / "x.npz", reps=3, seed=1).read_bytes()
    r = client.post("/api/jobs?wait=true&filename=my%20set.npz&activity=A049", content=body,
                    headers={"content-type": "application/octet-stream"})
    assert r.status_code == 200, r.text
    st = r.json()
    assert st["status"] == "done" and st["file"] == "my set.npz"
    assert st["activity_requested"] == "A049"
    assert st["result"]["counting"]["count"] == 3


def test_real_pipeline_with_a_named_activity(make_client: Any, tmp_path: Path) -> None:
    client, data = make_client(None)  # the default analyse function: the pipeline
    path = skeleton_file(tmp_path / "lift.npz", reps=4, seed=5)
    r = upload(client, path, wait=True, activity="sumo squat")
    assert r.status_code == 200, r.text
    res = r.json()["result"]
    assert res["activity"]["id"] == "A049" and res["activity"]["source"] == "user"
    assert res["counting"]["count"] == 4
    assert res["input"]["path"] == "lift.npz" and res["timings_s"]["report"] >= 0
    assert client.get(f"/api/jobs/{r.json()['id']}/report").status_code == 200
    assert not any(p.suffix == ".npz" for p in files_under(data))


def test_process_pool_runs_jobs(make_client: Any, tmp_path: Path) -> None:
    client, data = make_client(executor="process", workers=1)
    r = upload(client, skeleton_file(tmp_path / "p.npz", reps=2, seed=2), wait=True)
    assert r.status_code == 200, r.text
    assert r.json()["summary"]["count"] == 2
    assert client.get("/api/health").json()["executor"] == "process"
    assert not any(p.suffix == ".npz" for p in files_under(data))


def test_several_jobs_at_once(make_client: Any, tmp_path: Path) -> None:
    lock = threading.Lock()
    running = {"now": 0, "peak": 0}

    def tracked(input_path: Path, **kw: Any) -> Any:
        with lock:
            running["now"] += 1
            running["peak"] = max(running["peak"], running["now"])
        try:
            return fake_analyze(input_path, **kw)
        finally:
            with lock:
                running["now"] -= 1

    client, data = make_client(tracked, workers=2)
    counts = [2, 3, 4, 5]
    jobs = {}
    for n in counts:
        path = skeleton_file(tmp_path / f"set{n}.npz", reps=n, seed=n, fake_delay_s=1.2)
        r = upload(client, path)
        assert r.status_code == 202
        jobs[r.json()["id"]] = n
    h = client.get("/api/health").json()["jobs"]
    assert h["running"] + h["queued"] == 4 and h["running"] <= 2, h
    for job, n in jobs.items():
        st = wait_for(client, job)
        assert st["status"] == "done", st
        assert st["file"] == f"set{n}.npz" and st["summary"]["count"] == n
        assert st["result"]["counting"]["count"] == n
    assert running["peak"] == 2  # two workers: two at once, the others queued
    assert client.get("/api/health").json()["jobs"]["done"] == 4
    assert not any(p.suffix == ".npz" for p in files_under(data))


def test_job_status_while_running_and_unknown_jobs(make_client: Any, tmp_path: Path) -> None:
    client, _ = make_client(workers=1)
    r = upload(client, skeleton_file(tmp_path / "slow.npz", reps=2, fake_delay_s=1.0))
    job = r.json()["id"]
    busy = client.get(f"/api/jobs/{job}/report")
    assert busy.status_code == 409 and f"poll /api/jobs/{job} until it is done" in busy.json()["detail"]
    assert wait_for(client, job)["status"] == "done"
    missing = client.get("/api/jobs/" + "0" * 32)
    assert missing.status_code == 404 and "no job" in missing.json()["detail"]
    assert client.get("/api/jobs/../../etc/passwd").status_code == 404


def test_old_jobs_are_pruned(make_client: Any, tmp_path: Path) -> None:
    client, data = make_client(keep_jobs=1)
    first = upload(client, skeleton_file(tmp_path / "a.npz", reps=2), wait=True).json()["id"]
    second = upload(client, skeleton_file(tmp_path / "b.npz", reps=3), wait=True).json()["id"]
    assert client.get(f"/api/jobs/{first}").status_code == 404
    assert not (data / first).exists()
    assert client.get(f"/api/jobs/{second}").json()["summary"]["count"] == 3


# --------------------------------------------------------------------------- refusals
def _refused(r: Any, status: int, detail: str, data: Path) -> None:
    assert r.status_code == status, r.text
    assert r.json()["detail"] == detail
    assert files_under(data) == [], "a refused upload left files behind"


def test_empty_upload(make_client: Any) -> None:
    client, data = make_client()
    r = client.post("/api/jobs", files={"file": ("nothing.mp4", b"")})
    _refused(r, 400, "nothing.mp4: empty file (0 bytes)", data)
    r = client.post("/api/jobs?filename=a.npz", content=b"")
    _refused(r, 400, "empty upload (0 bytes)", data)


def test_unknown_extension_is_415(make_client: Any) -> None:
    client, data = make_client()
    r = client.post("/api/jobs", files={"file": ("plan.docx", b"PK\x03\x04 workout plan")})
    _refused(r, 415, "plan.docx: unsupported file type .docx; upload a video (.mp4, .mov, .avi, "
                     ".webm, .mkv, .m4v) or a skeleton file (.npz, .json, .npy, .pkl, .pickle, .txt)",
             data)
    r = client.post("/api/jobs", files={"file": ("voice.m4a", b"\x00\x00\x00\x18ftypM4A ")})
    _refused(r, 415, "voice.m4a: an audio file (.m4a) has no picture to analyse; upload a video "
                     "(.mp4, .mov, .avi, .webm, .mkv, .m4v) or a skeleton file", data)


def test_corrupt_video_is_400(make_client: Any) -> None:
    pytest.importorskip("av", reason="PyAV (the 'video' extra) is not installed")
    client, data = make_client()
    junk = np.random.default_rng(1).bytes(6000)
    r = client.post("/api/jobs", files={"file": ("clip.mp4", junk)})
    assert r.status_code == 400
    assert r.json()["detail"].startswith("clip.mp4: cannot read as a video: ")
    assert "(the file is truncated, corrupt or not a video;" in r.json()["detail"]
    assert files_under(data) == []


def test_audio_only_video_is_400(make_client: Any, tmp_path: Path) -> None:
    client, data = make_client()
    path = write_audio(tmp_path / "voice.mp4")
    _refused(upload(client, path), 400, "voice.mp4: no video stream (audio only: aac); need a video",
             data)


def test_corrupt_skeleton_file_is_400(make_client: Any, tmp_path: Path) -> None:
    client, data = make_client()
    good = skeleton_file(tmp_path / "s.npz", reps=2).read_bytes()
    r = client.post("/api/jobs", files={"file": ("cut.npz", good[: len(good) // 2])})
    assert r.status_code == 400 and r.json()["detail"].startswith("cut.npz: ")
    assert files_under(data) == []


def test_video_without_a_person_fails_the_job_with_the_message(make_client: Any, tmp_path: Path) -> None:
    pytest.importorskip("mediapipe", reason="MediaPipe (the 'video' extra) is not installed")
    client, data = make_client(None)  # the real pipeline
    path = write_blank_video(tmp_path / "room.mp4")
    r = upload(client, path, wait=True)
    assert r.status_code == 422, r.text
    detail = "room.mp4: no person found in the video (20 frames analysed over 1.3 s)"
    assert r.json()["detail"] == detail
    job = r.json()["id"]
    assert client.get(f"/api/jobs/{job}").json()["error"] == detail
    rep = client.get(f"/api/jobs/{job}/report")
    assert rep.status_code == 422 and rep.json()["detail"] == detail
    assert not any(p.suffix == ".mp4" for p in files_under(data))


def test_failed_job_message_and_cleanup(make_client: Any, tmp_path: Path) -> None:
    client, data = make_client()
    path = skeleton_file(tmp_path / "bad.npz", reps=2, fake_error="the joints are upside down")
    r = upload(client, path)
    st = wait_for(client, r.json()["id"])
    assert st["status"] == "failed" and st["error"] == "bad.npz: the joints are upside down"
    assert not (data / st["id"] / "upload").exists()
    assert client.get("/api/health").json()["jobs"]["failed"] == 1


def test_too_long_recording_is_413(make_client: Any, tmp_path: Path) -> None:
    client, data = make_client(max_duration_s=5)
    path = skeleton_file(tmp_path / "long.npz", reps=6)
    r = upload(client, path)
    assert r.status_code == 413
    assert r.json()["detail"].startswith("long.npz: the recording is ")
    assert r.json()["detail"].endswith(" s long; the limit is 5 s")
    assert files_under(data) == []


def test_oversized_upload_through_the_client_is_413(make_client: Any) -> None:
    client, data = make_client(max_upload_mb=0.01)
    r = client.post("/api/jobs?filename=big.npz", content=b"\0" * 20_001)
    _refused(r, 413, "upload of 20.0 kB is larger than the limit of 10.0 kB", data)


# ------------------------------------------- oversized uploads, driven at the ASGI level
class Body:
    """An ASGI ``receive`` that serves ``chunks`` chunks of ``size`` bytes and counts reads."""

    def __init__(self, chunks: int, size: int = 64 * 1024, prefix: bytes = b"") -> None:
        self.chunks, self.size, self.prefix = chunks, size, prefix
        self.served = 0
        self.bytes = 0

    async def __call__(self) -> Dict[str, Any]:
        if self.served >= self.chunks:
            await asyncio.sleep(3600)  # the client has nothing more to send
        data = self.prefix if self.served == 0 and self.prefix else b"\1" * self.size
        self.served += 1
        self.bytes += len(data)
        return {"type": "http.request", "body": data, "more_body": self.served < self.chunks}


def asgi_post(app: Any, query: str, headers: Dict[str, str], body: Body) -> Tuple[int, bytes]:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/api/jobs", "raw_path": b"/api/jobs",
        "query_string": query.encode(), "root_path": "", "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    sent: Dict[str, Any] = {"status": None, "body": b""}

    async def send(message: Dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            sent["status"] = message["status"]
        elif message["type"] == "http.response.body":
            sent["body"] += message.get("body", b"")

    asyncio.run(asyncio.wait_for(app(scope, body, send), timeout=20))
    return sent["status"], sent["body"]


def test_declared_oversized_length_is_refused_before_reading(tmp_path: Path) -> None:
    data = tmp_path / "data"
    app = create_app(fake_analyze, executor="thread", data_dir=data, max_upload_mb=1)
    for ctype, query in (("application/octet-stream", "filename=huge.mp4"),
                         ("multipart/form-data; boundary=xyz", "")):
        body = Body(chunks=10**6)  # 64 GB if anyone read it
        status, raw = asgi_post(app, query, {"content-type": ctype,
                                             "content-length": str(5 * 10**9)}, body)
        assert status == 413
        assert raw == b'{"detail":"upload of 5000.0 MB is larger than the limit of 1.0 MB"}'
        assert body.served == 0, f"the app read {body.bytes} bytes of a refused body"
    assert files_under(data) == []


def test_streamed_upload_without_length_stops_at_the_limit(tmp_path: Path) -> None:
    data = tmp_path / "data"
    app = create_app(fake_analyze, executor="thread", data_dir=data, max_upload_mb=1)
    body = Body(chunks=10**6)  # chunked transfer, no Content-Length: only the count can stop it
    status, raw = asgi_post(app, "filename=endless.npz",
                            {"content-type": "application/octet-stream"}, body)
    assert status == 413
    assert raw == b'{"detail":"upload is larger than the limit of 1.0 MB"}'
    limit_chunks = 10**6 // body.size + 1
    assert body.served == limit_chunks, body.served  # stopped at the first chunk past the limit
    assert files_under(data) == []


def test_lying_content_length_in_a_form_is_caught_while_streaming(tmp_path: Path) -> None:
    data = tmp_path / "data"
    app = create_app(fake_analyze, executor="thread", data_dir=data, max_upload_mb=1)
    head = (b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.npz\"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n")
    body = Body(chunks=10**6, prefix=head)
    status, raw = asgi_post(app, "", {"content-type": "multipart/form-data; boundary=xyz",
                                      "content-length": "1000"}, body)
    assert status == 413 and b"larger than the limit of 1.0 MB" in raw
    assert body.bytes <= 10**6 + 64 * 1024 + 2 * body.size
    assert files_under(data) == []


def test_uploaded_bytes_are_not_kept(make_client: Any, tmp_path: Path) -> None:
    client, data = make_client()
    path = skeleton_file(tmp_path / "keep.npz", reps=2, seed=9)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    r = upload(client, path, wait=True)
    assert r.status_code == 200
    for f in files_under(data):
        assert hashlib.sha256(f.read_bytes()).hexdigest() != digest, f

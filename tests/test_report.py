"""``report.html`` and the overlay video, on result dicts whose every number is known.

The results come from :mod:`analysis_fakes` (the generator's exact repetitions and quality
labels), so the count, each repetition's span and each standard's verdict on the page can be
checked exactly.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np
import pytest

from analysis_fakes import output_for, synth_sequence
from flag3d.report.html import render_report, write_report
from flag3d.report.overlay import repetition_state, write_overlay
from flag3d.report.plots import LEFT, RIGHT, WIDTH
from flag3d.skeleton import Sequence

EVIL = '<script>alert("x")</script>'


@pytest.fixture(scope="module")
def squat() -> Sequence:
    """5 sumo squats with known faults (seed 3: repetitions 1, 3, 4 miss the third standard)."""
    return synth_sequence("A049", reps=5, seed=3)


def _page(seq: Sequence, **kw: Any) -> Tuple[str, Dict[str, Any]]:
    out = output_for(seq, path="squat.npz", **kw)
    return render_report(out.result, skeleton=out.skeleton, signal=out.signal,
                         density=out.density), out.result


def _rep_rows(page: str) -> List[str]:
    table = re.search(r'<table id="rep-table">(.*?)</table>', page, re.S)
    assert table, "no repetition table"
    return re.findall(r"<tr(?: class=\"(?:good|fail)\")?>(.*?)</tr>", table.group(1), re.S)[1:]


def test_written_page_shows_the_count_and_is_self_contained(tmp_path: Path, squat: Sequence) -> None:
    out = output_for(squat, path="squat.npz")
    path = write_report(out.result, tmp_path / "new", skeleton=out.skeleton, signal=out.signal,
                        density=out.density)
    assert path == tmp_path / "new" / "report.html"
    page = path.read_text(encoding="utf-8")
    assert re.search(r'id="count" data-count="5">5<', page)
    assert "<title>flag3d: Sumo Squat, 5 repetitions — squat.npz</title>" in page
    # Nothing from the network: no URL, no external script/style/image, and a CSP that forbids it.
    assert not re.search(r"(https?:)?//[A-Za-z0-9]", page.replace("http-equiv", ""))
    assert not re.search(r"<(link|img|iframe)\b", page)
    assert not re.search(r"<script[^>]*\bsrc=", page)
    assert "@import" not in page and "url(" not in page
    assert "default-src 'none'" in page
    assert not list(tmp_path.glob("new/.*.tmp")), "temporary file left behind"


def test_one_row_per_repetition_with_times_and_verdicts(squat: Sequence) -> None:
    page, result = _page(squat)
    rows = _rep_rows(page)
    reps = squat.meta["repetitions"]
    labels = np.asarray(squat.meta["quality"])
    assert len(rows) == len(reps) == 5
    for i, (row, (a, b)) in enumerate(zip(rows, reps)):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        assert cells[0] == str(i + 1)
        assert cells[1] == f"{a / squat.fps:.2f}" and cells[2] == f"{b / squat.fps:.2f}"
        met = [int(m) for m in re.findall(r'data-met="([01])"', row)]
        assert met == labels[i].tolist()
    # The fixture's faults are what the rows say: three repetitions miss the third standard.
    assert labels[:, 2].tolist() == [0, 1, 0, 0, 1] and labels[:, :2].all()
    tips = result["quality"]["repetitions"]
    assert tips[0]["tip"] and tips[0]["tip"] in page.replace("&#x27;", "'").replace("&quot;", '"')


def test_shaded_intervals_match_the_repetitions_and_their_verdicts(squat: Sequence) -> None:
    page, _ = _page(squat)
    svg = re.search(r'<svg class="signal-plot".*?</svg>', page, re.S).group(0)
    rects = re.findall(r'<rect class="rep-span" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" '
                       r'height="[\d.]+" fill="(#[0-9a-f]{6})"', svg)
    reps = squat.meta["repetitions"]
    ok = np.asarray(squat.meta["quality"]).all(axis=1)
    # two panels (signal and density), one shaded span per repetition in each
    assert len(rects) == 2 * len(reps)
    t1 = (squat.num_frames - 1) / squat.fps
    px_per_s = (WIDTH - LEFT - RIGHT) / t1
    for k, (x, _, w, fill) in enumerate(rects[: len(reps)]):
        a, b = reps[k]
        assert float(x) == pytest.approx(LEFT + a / squat.fps * px_per_s, abs=0.15)
        assert float(w) == pytest.approx((b - a) / squat.fps * px_per_s, abs=0.15)
        assert fill == ("#2ca02c" if ok[k] else "#d62728")
    # repetition numbers above the top panel
    labels = re.findall(r'<text x="[\d.]+" y="13.0" text-anchor="middle" font-size="9">(\d+)</text>', svg)
    assert labels == ["1", "2", "3", "4", "5"]


def test_strings_from_the_result_are_escaped(tmp_path: Path, squat: Sequence) -> None:
    out = output_for(squat, path=f'/uploads/{EVIL}.npz')
    result = out.result
    result["feedback"].append(f'Keep going {EVIL} & "rest"')
    result["warnings"].append(f"note {EVIL}")
    result["counting"]["method"] = f"counter {EVIL}"
    result["quality"]["repetitions"][0]["tip"] = f"tip {EVIL}"
    page = write_report(result, tmp_path, skeleton=out.skeleton, signal=out.signal).read_text()
    assert "<script>alert" not in page
    assert page.count("<script") == 3  # the two JSON data blocks and the player, nothing else
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
    assert page.count(escaped) >= 5
    assert f"Keep going {escaped} &amp; &quot;rest&quot;" in page
    # the file is named without the server's folder
    assert "/uploads/" not in page


def test_json_blocks_cannot_close_their_script_element(squat: Sequence) -> None:
    out = output_for(squat)
    out.result["counting"]["repetitions"][0]["start_s"] = 3.0
    page = render_report(out.result, skeleton=out.skeleton)
    blocks = re.findall(r'<script type="application/json" id="([\w-]+)">(.*?)</script>', page, re.S)
    assert [b[0] for b in blocks] == ["anim-data", "rep-data"]
    reps = json.loads(blocks[1][1])
    assert len(reps) == 5 and reps[0][0] == 3.0
    anim = json.loads(blocks[0][1])
    assert len(anim["p"]) == len(anim["t"]) and len(anim["e"]) == len(anim["c"])


def test_synthetic_banner_only_for_generated_input(squat: Sequence) -> None:
    page, _ = _page(squat)
    assert '<div class="banner" id="synthetic"><b>Synthetic input.</b>' in page
    out = output_for(squat, path="me.mp4", kind="video")
    out.result["input"]["synthetic"] = False
    real = render_report(out.result, skeleton=out.skeleton)
    assert 'id="synthetic"' not in real
    assert "<tr><td>synthetic</td><td>no</td></tr>" in real


def test_not_assessable_reason_is_shown_instead_of_a_score(squat: Sequence) -> None:
    page, result = _page(squat, assess=False)
    reason = "not assessable: no quality model for this activity"
    assert result["quality"]["score"] is None
    assert re.search(r'id="score" data-score="">not assessable</div><p>' + re.escape(reason), page)
    assert f"Quality: {reason}" in page
    assert 'data-met="' not in page  # no per-standard verdicts without an assessment
    assert len(_rep_rows(page)) == 5
    # the shading is grey (not assessed)
    assert set(re.findall(r'class="rep-span"[^>]*fill="(#[0-9a-f]{6})"', page)) == {"#7f7f7f"}


def test_score_is_shown_when_assessable(squat: Sequence) -> None:
    page, result = _page(squat)
    score = result["quality"]["score"]
    # Eq. 1 from the labels: 6 + (1 + 1 + (2 * 2/5 - 1)) = 7.8
    assert score == pytest.approx(7.8)
    assert f'id="score" data-score="{score}">7.80</div>' in page


def test_no_repetition_and_no_arrays_still_render(tmp_path: Path) -> None:
    seq = synth_sequence("A049", reps=3, seed=1)
    result = output_for(seq).result
    result["counting"].update(count=0, repetitions=[])
    result["quality"].update(assessable=False, reason="not assessable: no repetition was found",
                             score=None, repetitions=[])
    result["signals"] = {}
    page = write_report(result, tmp_path).read_text()
    assert 'data-count="0">0<' in page
    assert "No repetition was found, so there is nothing to assess per repetition." in page
    assert "No counting signal was recorded." in page
    assert "No skeleton to draw." in page


# ------------------------------------------------------------------------ overlay
def _write_video(path: Path, n: int, fps: int, w: int, h: int) -> Path:
    av = pytest.importorskip("av", reason="PyAV (the 'video' extra) is not installed")
    c = av.open(str(path), "w")
    s = c.add_stream("mpeg4", rate=fps)
    s.width, s.height, s.pix_fmt = w, h, "yuv420p"
    for _ in range(n):
        img = np.full((h, w, 3), 128, np.uint8)
        for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
            c.mux(pkt)
    for pkt in s.encode():
        c.mux(pkt)
    c.close()
    return path


def _decode(path: Path) -> List[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def test_overlay_writes_every_frame_with_skeleton_and_counter(tmp_path: Path) -> None:
    pytest.importorskip("cv2", reason="OpenCV is needed for the overlay")
    video = _write_video(tmp_path / "in.mp4", n=24, fps=12, w=320, h=240)
    # a standing coco17 figure right of the counter box (x 208-272, y 69-230), analysed at 6 fps
    t = 12
    base = np.array([[120, 20], [117, 17], [123, 17], [114, 19], [126, 19], [110, 35], [130, 35],
                     [106, 55], [134, 55], [104, 72], [136, 72], [114, 72], [126, 72], [113, 92],
                     [127, 92], [112, 112], [128, 112]], np.float32)
    base = (base - [120, 0]) * [2.0, 1.7] + [240, 40]
    pose = Sequence(np.repeat(base[None], t, axis=0), "coco17", fps=6.0,
                    confidence=np.ones((t, 17), np.float32),
                    meta={"units": "px", "img_shape": [240, 320]})
    result = {"counting": {"repetitions": [{"index": 0, "start_s": 0.5, "end_s": 1.0}]},
              "quality": {"assessable": False}}
    path = write_overlay(video, pose, result, tmp_path / "out")
    assert path == tmp_path / "out" / "overlay.mp4"
    frames = _decode(path)
    assert len(frames) == 24
    assert frames[0].shape == (240, 320, 3)
    last = frames[-1].astype(int)
    # the left upper arm (blue), the right one (red) and the joints (yellow dots) are drawn ...
    left, right, hip = last[116, 216], last[116, 264], last[162, 228]
    assert left[2] > left[0] + 60, left
    assert right[0] > right[2] + 60, right
    assert hip[0] > 180 and hip[1] > 160 and hip[2] < 100, hip
    # ... the background away from the skeleton and the counter box stays grey ...
    assert np.abs(last[150:230, 20:150] - 128).max() < 20
    # ... and the counter box (black with white text) sits top left
    box = last[2:36, 2:160]
    assert (box < 40).all(axis=-1).mean() > 0.6 and (box > 200).all(axis=-1).any()
    assert "warnings" not in result


def test_overlay_is_skipped_with_a_note_for_non_video_input(tmp_path: Path) -> None:
    result: Dict[str, Any] = {"counting": {"repetitions": []}, "quality": {}}
    seq = synth_sequence("A049", reps=2, seed=1)
    assert write_overlay(tmp_path / "seq.npz", seq, result, tmp_path) is None
    assert result["warnings"] == ["overlay video not written: the input seq.npz is not a video"]
    assert write_overlay(tmp_path / "v.mp4", None, result, tmp_path) is None
    assert result["warnings"][-1] == "overlay video not written: there is no 2D pose of the video"
    assert not (tmp_path / "overlay.mp4").exists()


def test_repetition_state_counts_finished_repetitions() -> None:
    reps = [{"index": 0, "start_s": 1.0, "end_s": 2.0}, {"index": 1, "start_s": 2.0, "end_s": 3.0}]
    assert [repetition_state(reps, t) for t in (0.5, 1.0, 1.99, 2.0, 2.5, 3.0)] == [
        (0, -1), (0, 0), (0, 0), (1, 1), (1, 1), (2, -1)]

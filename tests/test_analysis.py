"""``flag3d analyze``: the built-in demo, skeleton files, named activities, bad input, the CLI,
and the acceptance case on the real squat video (skipped without the shared data).

The shipped models may be absent: the pipeline then counts with the training-free
joint-angle counter and says quality is not assessable.  Tests assert what holds either
way, and check the method in the result where the numbers depend on it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List, Tuple

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from analysis_fakes import synth_sequence, write_audio, write_blank_video
from flag3d.analysis.pipeline import DEMO, analyze
from flag3d.analysis.result import SCHEMA, VERSION, check_result
from flag3d.cli import main
from flag3d.errors import FormatError, TaxonomyError
from flag3d.io import write_sequences
from flag3d.skeleton import Sequence
from flag3d.synth import SynthConfig, generate_sequence

STAGES = ("load", "recognition", "counting", "quality", "report", "done")


def _reps(result: dict) -> List[Tuple[float, float]]:
    return [(r["start_s"], r["end_s"]) for r in result["counting"]["repetitions"]]


def _check_quality(result: dict) -> None:
    """Quality is either assessed (a score in [3, 9], one row per repetition) or says why not."""
    q, n = result["quality"], result["counting"]["count"]
    if q["assessable"]:
        assert 3.0 <= q["score"] <= 9.0
        assert [r["index"] for r in q["repetitions"]] == list(range(n))
        assert all(len(r["standards"]) == 3 for r in q["repetitions"])
    else:
        assert q["score"] is None and q["reason"].startswith("not assessable")


# --------------------------------------------------------------------------- the demo
@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Any, Path, List[Tuple[str, float]]]:
    out = tmp_path_factory.mktemp("demo")
    calls: List[Tuple[str, float]] = []
    output = analyze(None, write=True, out=out, progress=lambda s, f: calls.append((s, f)))
    return output, out, calls


def test_demo_writes_a_valid_result_json(demo: Any) -> None:
    output, out, _ = demo
    result = json.loads((out / "result.json").read_text(encoding="utf-8"))
    assert check_result(result) is result
    assert (result["schema"], result["version"]) == (SCHEMA, VERSION)
    assert result == json.loads(json.dumps(output.result))  # the file is the returned dict
    assert output.files == {"report": str(out / "report.html"), "result": str(out / "result.json")}
    inp = result["input"]
    assert (inp["kind"], inp["path"], inp["synthetic"], inp["layout"]) == (
        "demo", None, True, "flag3d24")
    assert inp["fps"] == 30.0 and inp["frames"] == output.skeleton.num_frames
    assert set(result["timings_s"]) >= {"load", "recognition", "counting", "quality", "report", "total"}
    assert not list(out.glob("*.tmp"))


def test_demo_counts_its_eight_sumo_squats(demo: Any) -> None:
    result = demo[0].result
    truth = result["input"]["truth"]
    assert DEMO["reps"] == truth["count"] == 8
    assert result["counting"]["count"] == 8
    assert result["activity"]["id"] == "A049" and result["activity"]["source"] == "file"
    # every repetition found is centred inside its true repetition
    fps = result["input"]["fps"]
    for (a, b), (ta, tb) in zip(_reps(result), truth["repetitions"]):
        assert ta / fps <= (a + b) / 2 <= tb / fps
    _check_quality(result)
    assert result["feedback"][0] == "8 repetitions of Sumo Squat found."


def test_demo_report_and_progress(demo: Any) -> None:
    _, out, calls = demo
    page = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="count" data-count="8">8<' in page and 'id="synthetic"' in page
    stages = [s for s, _ in calls]
    assert [s for i, s in enumerate(stages) if i == 0 or stages[i - 1] != s] == list(STAGES)
    assert all(0.0 <= f <= 1.0 for _, f in calls)


# ----------------------------------------------------------------------- skeleton files
def _write(path: Path, seq: Sequence) -> Path:
    write_sequences(path, [seq], "npz")
    return path


def test_skeleton_file_in_another_layout(tmp_path: Path) -> None:
    sample = generate_sequence("A010", seed=2, config=SynthConfig(reps=(4, 4), views=()))
    path = _write(tmp_path / "lunge.npz", sample.clean["ntu25"])
    output = analyze(path, write=True, out=tmp_path / "out")
    result = check_result(json.loads((tmp_path / "out" / "result.json").read_text()))
    assert result["input"]["kind"] == "skeleton" and result["input"]["layout"] == "ntu25"
    assert result["input"]["path"] == str(path)
    assert output.skeleton.layout == "flag3d24"  # converted for the models
    assert result["activity"]["id"] == "A010" and result["activity"]["source"] == "file"
    assert result["counting"]["count"] == 4
    _check_quality(result)
    assert "truth" not in result["input"]


def test_activity_named_by_the_user(tmp_path: Path) -> None:
    seq = synth_sequence("A049", reps=3, seed=4)
    seq = seq.replace(meta={k: v for k, v in seq.meta.items() if k not in ("activity", "label")})
    path = _write(tmp_path / "nolabel.npz", seq)
    named = analyze(path, activity="sumo squat", write=False).result
    assert named["activity"]["id"] == "A049" and named["activity"]["source"] == "user"
    assert named["activity"]["name"] == "Sumo Squat"
    assert named["counting"]["count"] == 3
    assert [s["key"] for s in named["quality"]["standards"]] != []
    _check_quality(named)
    # without the name the recogniser decides, or the activity stays unknown with a reason
    plain = analyze(path, write=False).result
    if plain["activity"]["source"] == "unknown":
        assert plain["activity"]["id"] is None
        assert plain["quality"]["reason"] == ("not assessable: the activity is unknown "
                                              "(name it with --activity)")
    else:
        assert plain["activity"]["source"] == "recognized" and len(plain["activity"]["top3"]) == 3


def test_unknown_activity_name_is_one_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.npz", synth_sequence("A049", reps=2, seed=1))
    with pytest.raises(TaxonomyError) as exc:
        analyze(path, activity="underwater basket weaving", write=False)
    assert "\n" not in str(exc.value) and "underwater basket weaving" in str(exc.value)


def test_two_dimensional_input_is_refused_clearly(tmp_path: Path) -> None:
    sample = generate_sequence("A049", seed=1, config=SynthConfig(reps=(2, 2), views=("front",)))
    two_d = sample.views[0]
    assert (two_d.dims, two_d.layout) == (2, "coco17")
    path = _write(tmp_path / "keypoints2d.npz", two_d)
    with pytest.raises(FormatError) as exc:
        analyze(path, write=True, out=tmp_path / "out")
    msg = str(exc.value)
    assert msg.startswith(str(path) + ": this input holds 2D keypoints; counting and quality need 3D")
    assert "\n" not in msg
    assert not (tmp_path / "out" / "result.json").exists()


def test_missing_and_unknown_files(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match=r"nope\.npz: no such file$"):
        analyze(tmp_path / "nope.npz", write=False)
    (tmp_path / "notes.txt").write_text("squats on monday\n")
    with pytest.raises(FormatError, match=r"notes\.txt: neither a video \(mp4, mov, .*\) nor a "
                                          r"skeleton file flag3d can read \(known formats: "):
        analyze(tmp_path / "notes.txt", write=False)


# ----------------------------------------------------------------------------- CLI
entry = typer.Typer(add_completion=False)


@entry.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                 "help_option_names": []})
def flag3d_entry(ctx: typer.Context) -> None:
    """The real entry point (``flag3d.cli.main``: one-line errors, exit 2) under CliRunner."""
    main(list(ctx.args))


def cli(*args: Any) -> Any:
    return CliRunner().invoke(entry, [str(a) for a in args])


def _one_line_error(res: Any, path: Path, *parts: str) -> str:
    assert res.exit_code == 2, (res.exit_code, res.output, res.exception)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith(f"error: {path}: "), lines[0]
    for part in parts:
        assert part in lines[0], lines[0]
    assert "Traceback" not in res.output
    return lines[0]


def test_cli_analyzes_a_skeleton_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "squat.npz", synth_sequence("A049", reps=3, seed=4))
    res = cli("analyze", path, "--out", tmp_path / "out", "--no-progress")
    assert res.exit_code == 0, res.output
    text = " ".join(res.stdout.split())  # rich wraps long lines
    assert "activity: A049 Sumo Squat (file)" in text
    assert "repetitions: 3" in text
    assert f"wrote {tmp_path / 'out' / 'result.json'}" in text
    assert json.loads((tmp_path / "out" / "result.json").read_text())["counting"]["count"] == 3
    res = cli("analyze", path, "--json", "--no-progress", "--out", tmp_path / "o2")
    assert res.exit_code == 0
    assert json.loads(res.stdout)["counting"]["count"] == 3


def test_cli_empty_file(tmp_path: Path) -> None:
    for name in ("empty.mp4", "empty.npz"):
        (tmp_path / name).write_bytes(b"")
        _one_line_error(cli("analyze", tmp_path / name, "--no-progress"), tmp_path / name, "empty file")


def test_cli_corrupt_video(tmp_path: Path) -> None:
    pytest.importorskip("av", reason="PyAV (the 'video' extra) is not installed")
    path = tmp_path / "corrupt.mp4"
    path.write_bytes(np.random.default_rng(0).bytes(5000))
    _one_line_error(cli("analyze", path, "--no-progress"), path, "cannot read as a video",
                    "truncated, corrupt or not a video")


@pytest.mark.parametrize("name", ["voice.mp4", "voice.m4a"])
def test_cli_audio_only_file(tmp_path: Path, name: str) -> None:
    path = write_audio(tmp_path / name)
    _one_line_error(cli("analyze", path, "--no-progress"), path,
                    "no video stream (audio only: aac); need a video")


def test_cli_video_without_a_person(tmp_path: Path) -> None:
    pytest.importorskip("mediapipe", reason="MediaPipe (the 'video' extra) is not installed")
    path = write_blank_video(tmp_path / "empty-room.mp4")
    _one_line_error(cli("analyze", path, "--no-progress", "--out", tmp_path / "out"), path,
                    "no person found in the video (20 frames analysed over 1.3 s)")
    assert not (tmp_path / "out" / "result.json").exists()


# ---------------------------------------------------------------- the real squat video
def _shipped_counter_installed() -> bool:
    from flag3d.tasks.counting_infer import shipped_weights

    return (shipped_weights() / "model.safetensors").is_file()


@pytest.fixture(scope="module")
def squat_video(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from conftest import shared_path

    path = shared_path("videos", "barbell-squat-side.mp4")
    pytest.importorskip("mediapipe", reason="MediaPipe (the 'video' extra) is not installed")
    out = tmp_path_factory.mktemp("squat")
    return analyze(path, write=True, out=out).result


@pytest.mark.realdata
def test_real_squat_video_facts_and_quiet_start(squat_video: dict) -> None:
    inp = squat_video["input"]
    assert inp["kind"] == "video" and inp["synthetic"] is False
    assert inp["duration_s"] == pytest.approx(20.49, abs=0.05)
    assert inp["video"]["width"] == 608 and inp["video"]["height"] == 1080
    assert inp["person_present_fraction"] > 0.95
    assert squat_video["counting"]["count"] >= 1
    # the first 8 s are standing still: no repetition may start there
    assert min(a for a, _ in _reps(squat_video)) >= 8.0


@pytest.mark.realdata
@pytest.mark.xfail(
    not _shipped_counter_installed(), strict=False,
    reason="measured with the fallback joint-angle counter (no shipped counting model): 5 "
           "repetitions at 8.81-10.48, 10.48-12.95, 15.42-17.15, 17.15-18.49, 18.49-19.82 s "
           "instead of 2 (each squat is split into 2-3 cycles)")
def test_real_squat_video_acceptance(squat_video: dict) -> None:
    reps = _reps(squat_video)
    assert squat_video["counting"]["count"] == 2, reps
    assert any(a <= 10.5 <= b for a, b in reps) and any(a <= 17.5 <= b for a, b in reps), reps
    assert min(a for a, _ in reps) >= 8.0
    top3 = squat_video["activity"]["top3"]
    from flag3d.analysis.recognize import shipped_recognizer

    if (shipped_recognizer() / "model.safetensors").is_file():
        # the shipped recogniser: a squat-family activity among its top 3
        assert len(top3) == 3 and any("squat" in a["name"].lower() for a in top3), top3

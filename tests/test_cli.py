"""The command line: demo, synth, inspect, convert, taxonomy, and one-line errors with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from flag3d.cli import main
from flag3d.io import read_sequence, write_sequences
from flag3d.io.pyskl import read_pyskl
from flag3d.skeleton import Sequence


def run(capsys, *args) -> tuple:
    """Run ``flag3d args``; return (exit code, stdout, stderr)."""
    code = 0
    try:
        main([str(a) for a in args])
    except SystemExit as ex:
        code = int(ex.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_demo_writes_and_reads_back_a_synthetic_corpus(tmp_path, capsys):
    out = tmp_path / "demo"
    code, stdout, _ = run(capsys, "demo", "--out", out, "--n", "5")
    assert code == 0
    assert "SYNTHETIC" in stdout and "A020" in stdout and "A057" not in stdout  # A002..A020
    info = json.loads((out / "corpus.json").read_text())
    assert info["synthetic"] is True and info["sequences"] == 5
    assert (out / "SYNTHETIC.txt").read_text().startswith("This folder holds a SYNTHETIC corpus")
    assert (out / "rac" / "SYNTHETIC.txt").is_file()
    seqs = list(read_pyskl(out / "flag3d_synthetic.pkl"))
    assert len(seqs) == 5 and all(s.synthetic and s.layout == "ntu25" for s in seqs)
    assert sum(len(s.meta["repetitions"]) for s in seqs) == info["repetitions"]
    # A second run replaces its own corpus ...
    assert run(capsys, "demo", "--out", out, "--n", "3")[0] == 0
    assert json.loads((out / "corpus.json").read_text())["sequences"] == 3
    # ... but never a folder it did not write.
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    code, _, err = run(capsys, "demo", "--out", other)
    assert code == 2 and "not written by flag3d demo" in err
    assert (other / "notes.txt").read_text() == "keep me"


def test_synth_formats_and_overwrite(tmp_path, capsys):
    out = tmp_path / "c"
    args = ("synth", out, "--n", "4", "--reps", "2", "3", "--formats", "rac,store",
            "--activities", "sumo squat,A057", "--no-progress")
    assert run(capsys, *args)[0] == 0
    assert sorted(p.name for p in out.iterdir()) == ["SYNTHETIC.txt", "corpus.json", "rac", "store"]
    code, _, err = run(capsys, *args)
    assert code == 2 and "pass --overwrite" in err
    assert run(capsys, *args, "--overwrite")[0] == 0
    code, _, err = run(capsys, "synth", tmp_path / "d", "--formats", "hdf5", "--no-progress")
    assert code == 2 and "unknown corpus format(s) ['hdf5']" in err


def test_inspect_and_convert(tmp_path, capsys):
    src = tmp_path / "pose.json"
    rng = np.random.default_rng(0)
    write_sequences(src, [Sequence(rng.random((12, 33, 2)), "blazepose33", meta={"id": "p1"})], "json")
    code, out, _ = run(capsys, "inspect", src)
    assert code == 0 and "blazepose33" in out and "1 sequence(s), 12 frames" in out
    dest = tmp_path / "pose_h36m.npz"
    assert run(capsys, "convert", src, dest, "--layout", "h36m17")[0] == 0
    back = read_sequence(dest)
    assert back.layout == "h36m17" and back.joints.shape == (12, 17, 2)
    assert back.meta["conversion"] == "blazepose33>coco17>h36m17"


def test_taxonomy_commands(capsys):
    code, out, _ = run(capsys, "taxonomy", "show", "jumpin jacks", "--level", "1")
    assert code == 0 and "A057 Jumping Jacks" in out and "arms_overhead" in out
    code, out, _ = run(capsys, "taxonomy", "list", "--source", "uiprmd")
    assert code == 0 and "m10" in out and "A001" not in out
    code, _, err = run(capsys, "taxonomy", "show", "xyzzy")
    assert code == 2 and "unknown activity 'xyzzy'" in err


def test_every_subcommand_has_help(capsys):
    for args in (["--help"], ["demo", "--help"], ["synth", "--help"], ["inspect", "--help"],
                 ["convert", "--help"], ["data", "--help"], ["data", "import", "--help"],
                 ["taxonomy", "show", "--help"]):
        code, out, _ = run(capsys, *args)
        assert code == 0 and "Usage" in out, args


# ---------------------------------------------------------------- bad input: exit 2
def _npy(path: Path, arr: np.ndarray) -> Path:
    np.save(path, arr)
    return path


def _bad_inputs(tmp: Path) -> dict:
    empty = tmp / "empty.npy"
    empty.write_bytes(b"")
    truncated = _npy(tmp / "cut.npy", np.zeros((300, 24, 3), np.float32))
    truncated.write_bytes(truncated.read_bytes()[:1000])
    nan = np.zeros((40, 24, 3), np.float32)
    nan[5:9] = np.nan
    nan_path = _npy(tmp / "nan.npy", nan)
    wrong = tmp / "wrong.json"
    wrong.write_text(json.dumps({"format": "flag3d-sequence", "version": 1, "layout": "coco17",
                                 "fps": 30, "joints": np.zeros((3, 18, 2)).tolist(), "meta": {}}))
    unknown = tmp / "unknown.json"
    unknown.write_text(json.dumps({"format": "flag3d-sequence", "version": 1, "layout": "smpl99",
                                   "fps": 30, "joints": np.zeros((3, 24, 3)).tolist(), "meta": {}}))
    csv = tmp / "annotations.csv"
    csv.write_bytes(b"\x00\x01\xff\xfe garbage \x00\n\x07\x08")
    return {
        "empty": (empty, "empty"),
        "truncated npy": (truncated, "truncated .npy"),
        "NaN frames": (nan_path, "joints contain NaN in 4 of 40 frames"),
        "wrong joint count": (wrong, "18 joints on axis V but layout coco17 has 17"),
        "unknown layout": (unknown, "unknown layout 'smpl99'"),
        "unreadable CSV": (csv, "not a text CSV file (cannot decode as UTF-8)"),
    }


_SKELETON_CASES = ["empty", "truncated npy", "NaN frames", "wrong joint count", "unknown layout"]


@pytest.mark.parametrize("command,case", [("inspect", c) for c in _SKELETON_CASES + ["unreadable CSV"]]
                         + [("import", c) for c in _SKELETON_CASES])
def test_bad_input_gives_one_line_naming_file_and_exit_2(tmp_path, capsys, case, command):
    path, problem = _bad_inputs(tmp_path)[case]
    args = ["inspect", path] if command == "inspect" else ["data", "import", path, tmp_path / "store"]
    code, out, err = run(capsys, *args)
    assert code == 2, (out, err)
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and str(path) in lines[0], lines[0]
    assert problem in lines[0]
    assert "Traceback" not in out + err

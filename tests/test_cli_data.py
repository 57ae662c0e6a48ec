"""Tests of ``flag3d data``: import, info, validate, export, split through flag3d.cli.main."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Iterator, Optional

import numpy as np
import pytest

from flag3d.cli import main
from flag3d.data import Store
from flag3d.errors import FormatError
from flag3d.io import register_format
from flag3d.skeleton import Sequence

FMT = "test-seqjson"


def _read(path: Path, layout: Optional[str] = None) -> Iterator[Sequence]:
    """A tiny format for these tests: a JSON list of {joints, layout, fps, meta}."""
    try:
        items = json.loads(Path(path).read_text())
    except ValueError as err:
        raise FormatError(f"not JSON ({err.msg})", path=path) from None
    for item in items:
        yield Sequence(np.asarray(item["joints"], np.float32), layout or item["layout"],
                       fps=item["fps"], meta=item["meta"])


def _write(path: Path, sequences: Iterable[Sequence]) -> None:
    items = [{"joints": s.joints.tolist(), "layout": s.layout, "fps": s.fps, "meta": s.meta}
             for s in sequences]
    Path(path).write_text(json.dumps(items))


register_format(FMT, "test-only JSON list of sequences", lambda p: p.suffix == ".seqjson",
                reader=_read, writer=_write)


def source_file(path: Path, n: int = 12, layout: str = "coco17") -> Path:
    rng = np.random.default_rng(0)
    items = []
    for k in range(n):
        items.append({
            "joints": rng.uniform(0, 100, (6, 17, 2)).round(2).tolist(), "layout": layout, "fps": 30,
            "meta": {"id": f"v{k:02d}", "activity": f"A{k % 4 + 1:03d}", "subject": f"s{k % 6 + 1:02d}",
                     "source": "unit", "repetitions": [[0, 3], [3, 6]]},
        })
    path.write_text(json.dumps(items))
    return path


def run(*args: str) -> int:
    """Run ``flag3d`` with ``args``; returns the exit code (0 when main returns)."""
    try:
        main([str(a) for a in args])
    except SystemExit as ex:
        return int(ex.code or 0)
    return 0


@pytest.fixture
def imported(tmp_path, capsys) -> Path:
    src = source_file(tmp_path / "in.seqjson")
    assert run("data", "import", src, tmp_path / "st", "--format", FMT, "--no-progress") == 0
    capsys.readouterr()
    return tmp_path / "st"


def test_import_reads_through_the_registry(tmp_path, capsys):
    src = source_file(tmp_path / "in.seqjson")
    assert run("data", "import", src, tmp_path / "st", "--no-progress") == 0  # format detected
    out = capsys.readouterr().out
    assert f"imported 12 sequences from {src} (format {FMT}) into {tmp_path / 'st'}; the store holds 12" in out
    st = Store.open(tmp_path / "st")
    assert st.ids[:2] == ["v00", "v01"] and st[0].meta["repetitions"] == [[0, 3], [3, 6]]
    assert st[3].meta["activity"] == "A004" and st.table.column("origin")[0].as_py() is None


def test_import_refuses_existing_store_without_append(imported, tmp_path, capsys):
    src = tmp_path / "in.seqjson"
    assert run("data", "import", src, imported, "--format", FMT, "--no-progress") == 2
    err = capsys.readouterr().err
    assert err.strip() == f"error: {imported}: a store already exists here; add --append to add to it"
    assert run("data", "import", src, imported, "--format", FMT, "--append", "--no-progress") == 2
    err = capsys.readouterr().err
    assert "duplicate id 'v00' (already in the store); ids must be unique (import stopped; 0 new" in err
    more = source_file(tmp_path / "more.seqjson", n=14)
    assert run("data", "import", more, imported, "--format", FMT, "--append", "--skip-duplicates",
               "--no-progress") == 0
    assert "imported 2 sequences" in capsys.readouterr().out
    assert len(Store.open(imported)) == 14


def test_import_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.seqjson"
    bad.write_text("{oops")
    assert run("data", "import", bad, tmp_path / "st", "--format", FMT, "--no-progress") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.seqjson: not JSON (Expecting property name" in err
    assert err.rstrip().endswith("(import stopped; nothing was stored)")
    assert not (tmp_path / "st").exists()  # no empty store left behind
    assert run("data", "import", bad, tmp_path / "st2", "--format", "no-such-format") == 2
    assert "unknown format 'no-such-format'; known formats:" in capsys.readouterr().err
    src = source_file(tmp_path / "in.seqjson")
    # --layout goes to the reader (it relabels 17 joints as h36m17), then must hold for all
    assert run("data", "import", src, tmp_path / "h36", "--format", FMT, "--layout", "h36m17",
               "--no-progress") == 0
    assert Store.open(tmp_path / "h36")[0].layout == "h36m17"


def test_layout_requirement_for_readers_without_a_layout_option(tmp_path, capsys):
    def read_plain(path: Path) -> Iterator[Sequence]:
        yield from _read(path)

    register_format("test-plain", "test-only", lambda p: False, reader=read_plain)
    src = source_file(tmp_path / "in.seqjson")
    assert run("data", "import", src, tmp_path / "st", "--format", "test-plain", "--layout",
               "flag3d24", "--no-progress") == 2
    assert "sequence 'v00' has layout coco17, but layout flag3d24 was required" in capsys.readouterr().err


def test_info_prints_counts(imported, capsys):
    assert run("data", "info", imported) == 0
    out = capsys.readouterr().out
    assert "sequences" in out and "12" in out and "coco17-c2 (12)" in out
    assert "0 of 12" in out  # synthetic
    assert "per activity" in out and "A004" in out and "per subject" in out and "s06" in out
    hours = 12 * 6 / 30 / 3600
    assert f"{hours:.2f}" in out


def test_validate_ok_and_broken(imported, capsys):
    assert run("data", "validate", imported) == 0
    assert "store is valid: 12 sequences, 72 frame rows checked" in capsys.readouterr().out
    with open(imported / "arrays" / "coco17-c2.f32", "r+b") as f:
        f.seek(5 * 6 * 34 * 4)
        f.write(np.float32(np.inf).tobytes())
    assert run("data", "validate", imported) == 2
    cap = capsys.readouterr()
    assert "problem: row 5 (id 'v05'): joints contain NaN or inf (frame row 0 of the sequence)" in cap.out
    assert cap.err.strip() == (
        f"error: {imported}: 1 problem(s) in 12 sequences (first: row 5 (id 'v05'): joints "
        "contain NaN or inf (frame row 0 of the sequence))")
    assert run("data", "validate", imported, "--quick") == 0


def test_split_then_export_one_split(imported, tmp_path, capsys):
    assert run("data", "split", imported, "--by", "subject", "--test", "s05,s06") == 0
    out = capsys.readouterr().out
    assert "s05, s06" in out and "s01, s02, s03, s04" in out
    st = Store.open(imported)
    assert [st.ids[i] for i in st.select(split="test")] == ["v04", "v05", "v10", "v11"]
    dest = tmp_path / "test.seqjson"
    assert run("data", "export", imported, dest, "--format", FMT, "--split", "test") == 0
    assert f"exported 4 sequences to {dest} (format {FMT})" in capsys.readouterr().out
    back = list(_read(dest))
    assert [s.meta["id"] for s in back] == ["v04", "v05", "v10", "v11"]
    assert all(s.meta["split"] == "test" for s in back)
    np.testing.assert_array_equal(back[0].joints, st.get("v04").joints)
    assert run("data", "export", imported, dest, "--format", FMT, "--split", "val") == 2
    assert "no sequences match (split=val" in capsys.readouterr().err


def test_split_by_activity_and_protocols(imported, capsys):
    assert run("data", "split", imported, "--by", "activity", "--n-test", "1", "--seed", "2") == 0
    st = Store.open(imported)
    test_acts = {st.table.column("activity")[i].as_py() for i in st.select(split="test")}
    assert len(test_acts) == 1 and len(st.select(split="test")) == 3
    assert run("data", "split", imported, "--protocol", "uiprmd") == 2
    assert "none of the test subjects (s08, s09, s10) appear in the manifest" in capsys.readouterr().err
    assert run("data", "split", imported) == 2
    assert "say --by subject or --by activity" in capsys.readouterr().err
    assert run("data", "split", imported, "--protocol", "flag3d-counting", "--by", "subject") == 2
    assert "protocol flag3d-counting splits by activity, not by subject" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["import", "info", "validate", "export", "split"])
def test_every_command_has_help_with_an_example(command, capsys):
    assert run("data", command, "--help") == 0
    out = capsys.readouterr().out
    assert f"Example: flag3d data {command} " in out


def test_missing_store_is_one_line(tmp_path, capsys):
    assert run("data", "info", tmp_path / "none") == 2
    err = capsys.readouterr().err
    assert err == f"error: {tmp_path / 'none'}: no such store (make one with 'flag3d data import' or Store.create)\n"

"""Tests for flag3d.text: hashing encoder, spec parsing, embedding cache, taxonomy texts, MiniLM."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import warnings
from pathlib import Path
from typing import List, Sequence

import numpy as np
import pytest

from flag3d.errors import Flag3dError, TaxonomyError
from flag3d.taxonomy import get_activity
from flag3d.text import (
    CachedEncoder,
    HashingEncoder,
    TextEncoder,
    TextEncoderError,
    TransformerEncoder,
    encode_activities,
    encode_activity,
    encode_standards,
    get_encoder,
    parse_spec,
    taxonomy_texts,
)
from flag3d.text.cache import EmbeddingStore, encoder_key, text_digest
from flag3d.text.hashing import features
from flag3d.text.transformer import minilm_path

PY = sys.executable


class FakeEncoder:
    """Counts calls and texts; vectors depend on the text and on ``seed``."""

    def __init__(self, identity: str = "fake-v1", dim: int = 8, seed: int = 0) -> None:
        self.name, self.dim, self.identity, self.seed = "fake", dim, identity, seed
        self.calls: List[List[str]] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        out = np.zeros((len(texts), self.dim))
        for i, t in enumerate(texts):
            rng = np.random.default_rng(abs(hash((t, self.seed))) % 2**32)
            out[i] = rng.normal(size=self.dim)
        return out  # deliberately float64 and not normalised: the cache must fix both


# ---------------------------------------------------------------- hashing encoder


def test_hashing_known_buckets_pin_the_algorithm() -> None:
    # If these change, the vectors change: bump ALGORITHM (the cache identity) too.
    v = HashingEncoder(384).encode(["Sumo Squat"])[0]
    nz = np.flatnonzero(v)
    assert nz.tolist() == [37, 238, 273]
    s = 1 / np.sqrt(3)
    np.testing.assert_allclose(v[nz], [-s, -s, s], rtol=1e-6)
    assert features("Push-ups, kneeling") == ["push", "ups", "kneeling", "push ups", "ups kneeling"]


def test_hashing_shape_norm_case_and_punctuation() -> None:
    enc = HashingEncoder(dim=128)
    v = enc.encode(["Jumping Jacks", "jumping   JACKS!", "High Knee", "Clap Jacks"])
    assert v.shape == (4, 128) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-6)
    assert np.array_equal(v[0], v[1])
    assert v[0] @ v[3] > v[0] @ v[2]  # 'jacks' shared
    assert enc.name == "hash128" and enc.identity.endswith(":128")
    assert isinstance(enc, TextEncoder)


def test_hashing_same_vector_across_processes_and_hash_seeds(tmp_path: Path) -> None:
    code = (
        "import sys, numpy as np; from flag3d.text import HashingEncoder;"
        "np.save(sys.argv[1], HashingEncoder(256).encode(['Squat With Alternate Knee Lift', 'nod']))"
    )
    outs = []
    for seed in ("1", "987654"):
        out = tmp_path / f"v{seed}.npy"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([PY, "-c", code, str(out)], check=True, env=env, timeout=60)
        outs.append(np.load(out, allow_pickle=False))
    assert np.array_equal(outs[0], outs[1])
    here = HashingEncoder(256).encode(["Squat With Alternate Knee Lift", "nod"])
    assert np.array_equal(outs[0], here)


@pytest.mark.parametrize(
    "texts, match",
    [
        ("Sumo Squat", r"takes a list of texts, got one str; wrap it: \['Sumo Squat'\]"),
        (["ok", ""], "text 1 is empty"),
        (["ok", "   "], "text 1 is empty"),
        (["ok", 3], "text 1 is a int, not a str"),
        (["?!..."], "text 0 has no letters or digits"),
    ],
)
def test_hashing_bad_texts(texts: object, match: str) -> None:
    with pytest.raises(TextEncoderError, match=match):
        HashingEncoder(32).encode(texts)  # type: ignore[arg-type]


@pytest.mark.parametrize("dim", [0, 7, 65537, 2.5, True])
def test_hashing_bad_dim(dim: object) -> None:
    with pytest.raises(TextEncoderError, match="dim must be an integer 8..65536"):
        HashingEncoder(dim)  # type: ignore[arg-type]


def test_empty_list_gives_zero_rows(tmp_path: Path) -> None:
    assert HashingEncoder(16).encode([]).shape == (0, 16)
    assert get_encoder("hash:16", cache_dir=tmp_path).encode([]).shape == (0, 16)


# ---------------------------------------------------------------- specs


def test_parse_spec_names() -> None:
    assert parse_spec("minilm") == ("minilm", "")
    assert parse_spec(" All-MiniLM-L6-v2 ") == ("minilm", "")
    assert parse_spec("hash") == ("hash", "384")
    assert parse_spec("HASH:256") == ("hash", "256")


@pytest.mark.parametrize(
    "spec, match",
    [
        ("hash:abc", r"bad text encoder 'hash:abc': hash dimension must be an integer 8..65536"),
        ("hash:4", "hash dimension must be an integer"),
        ("bert", r"unknown text encoder 'bert'; use minilm, hash, hash:DIM or a path"),
        ("", "empty text encoder spec"),
    ],
)
def test_parse_spec_errors(spec: str, match: str) -> None:
    with pytest.raises(TextEncoderError, match=match):
        parse_spec(spec)


def _fake_model_dir(folder: Path, weights: bytes = b"w" * 100, bin_only: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"hidden_size": 48, "max_position_embeddings": 128}))
    (folder / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\nsquat\n")
    (folder / ("pytorch_model.bin" if bin_only else "model.safetensors")).write_bytes(weights)
    return folder


def test_missing_or_incomplete_model_folder_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "model"
    with pytest.raises(TextEncoderError, match=r"nope/model: text model folder not found$"):
        get_encoder(str(missing))
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(TextEncoderError, match="text model path is a file; give the model folder"):
        get_encoder(str(tmp_path / "a.txt"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(TextEncoderError, match="not a model folder: config.json is missing"):
        get_encoder(str(empty))
    binonly = _fake_model_dir(tmp_path / "binonly", bin_only=True)
    with pytest.raises(TextEncoderError, match=r"no \*.safetensors weights .*pickle files can run code"):
        get_encoder(binonly)
    (binonly / "vocab.txt").unlink()
    with pytest.raises(TextEncoderError, match="no tokenizer in the model folder"):
        get_encoder(binonly)
    with pytest.raises(Flag3dError) as info:
        get_encoder(str(missing))
    assert "\n" not in str(info.value)


def test_model_folder_identity_follows_weights_not_readme(tmp_path: Path) -> None:
    d = _fake_model_dir(tmp_path / "tiny-bert")
    enc = TransformerEncoder(d)
    assert (enc.name, enc.dim, enc.loaded, enc.max_length, enc.pooling) == ("tiny-bert", 48, False, 128, "mean")
    first = enc.identity
    (d / "README.md").write_text("docs only")
    (d / "onnx").mkdir()
    (d / "onnx" / "model.onnx").write_bytes(b"never read")
    (d / "pytorch_model.bin").write_bytes(b"never read")
    assert TransformerEncoder(d).identity == first
    (d / "tokenizer_config.json").write_text('{"do_lower_case": false}')
    second = TransformerEncoder(d).identity
    assert second != first
    (d / "model.safetensors").write_bytes(b"w" * 99 + b"x")
    assert TransformerEncoder(d).identity not in (first, second)
    assert not enc.loaded  # identity never loads the model


def test_get_encoder_shares_one_model_per_process(tmp_path: Path) -> None:
    a = get_encoder("minilm", cache_dir=tmp_path)
    b = get_encoder("all-minilm-l6-v2", cache_dir=tmp_path / "other")
    assert isinstance(a, CachedEncoder) and a.encoder is b.encoder
    assert get_encoder("minilm", cache=False) is a.encoder
    assert (a.name, a.dim) == ("minilm", 384)


def test_import_is_light() -> None:
    code = "import sys, flag3d.text; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([PY, "-c", code], check=True, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["False", "False"]


# ---------------------------------------------------------------- cache


def test_cache_second_call_does_not_touch_the_model(tmp_path: Path) -> None:
    fake = FakeEncoder()
    enc = CachedEncoder(fake, root=tmp_path)
    v1 = enc.encode(["a", "b", "a"])
    assert fake.calls == [["a", "b"]]  # one batch, each distinct text once
    assert v1.dtype == np.float32 and v1.shape == (3, 8)
    np.testing.assert_allclose(np.linalg.norm(v1, axis=1), 1.0, rtol=1e-6)
    assert np.array_equal(v1[0], v1[2])
    v2 = enc.encode(["b", "a"])
    assert len(fake.calls) == 1 and enc.stats["memory"] == 2
    assert np.array_equal(v2, v1[[1, 0]])
    # a fresh wrapper (another process, in effect) reads the disk
    fake2 = FakeEncoder()
    enc2 = CachedEncoder(fake2, root=tmp_path)
    assert np.array_equal(enc2.encode(["a", "b", "c"])[:2], v1[:2])
    assert fake2.calls == [["c"]] and enc2.stats["disk"] == 2


def test_cache_layout_and_no_temp_files_left(tmp_path: Path) -> None:
    fake = FakeEncoder()
    CachedEncoder(fake, root=tmp_path).encode(["Sumo Squat"])
    folder = tmp_path / encoder_key(fake)
    h = text_digest("Sumo Squat")
    entry = folder / h[:2] / f"{h}.npy"
    assert entry.is_file()
    assert np.load(entry, allow_pickle=False).shape == (8,)
    info = json.loads((folder / "encoder.json").read_text())
    assert info == {"name": "fake", "dim": 8, "identity": "fake-v1", "encoder": "FakeEncoder"}
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".tmp-")]


def test_different_encoders_never_share_entries(tmp_path: Path) -> None:
    a, b = FakeEncoder("model-a", seed=1), FakeEncoder("model-b", seed=2)
    va = CachedEncoder(a, root=tmp_path).encode(["squat"])
    vb = CachedEncoder(b, root=tmp_path).encode(["squat"])
    assert len(b.calls) == 1 and not np.allclose(va, vb)
    assert encoder_key(a) != encoder_key(b)
    # hashing encoders of different dims are different encoders too
    assert encoder_key(HashingEncoder(64)) != encoder_key(HashingEncoder(128))
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 2


@pytest.mark.parametrize(
    "damage, problem",
    [
        (lambda p: p.write_bytes(b""), "unreadable"),
        (lambda p: p.write_bytes(p.read_bytes()[:-7]), "unreadable"),  # truncated .npy
        (lambda p: p.write_bytes(b"\x80\x04garbage pickle"), "unreadable"),
        (lambda p: np.save(p, np.ones(5, np.float32)), r"float32 \(5,\), expected float32 \(8,\)"),
        (lambda p: np.save(p, np.full(8, np.nan, np.float32)), "NaN or inf"),
        (lambda p: np.save(p, np.ones(8, np.float32)), r"norm 2.8284, expected 1"),
        (lambda p: np.save(p, np.ones(8, np.float64) / np.sqrt(8)), r"float64"),
    ],
)
def test_corrupt_entry_is_recomputed(tmp_path: Path, damage, problem: str) -> None:
    good = CachedEncoder(FakeEncoder(), root=tmp_path).encode(["squat"])[0]
    fake = FakeEncoder()
    enc = CachedEncoder(fake, root=tmp_path)
    entry = enc.store.path("squat")
    damage(entry)
    with pytest.warns(UserWarning, match=problem):
        v = enc.encode(["squat"])[0]
    assert fake.calls == [["squat"]] and enc.stats["rewritten"] == 1
    assert np.array_equal(v, good)
    assert np.array_equal(np.load(entry, allow_pickle=False), good)  # repaired on disk


def test_unwritable_cache_degrades_to_no_cache(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    fake = FakeEncoder()
    enc = CachedEncoder(fake, root=blocker / "cache")
    with pytest.warns(UserWarning, match="cannot write the text-embedding cache"):
        v = enc.encode(["a", "b"])
    assert v.shape == (2, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once, not on every call
        enc.encode(["c"])


def test_bad_encoder_output_is_an_error(tmp_path: Path) -> None:
    class Broken(FakeEncoder):
        def encode(self, texts: Sequence[str]) -> np.ndarray:
            return np.full((len(texts), self.dim), np.nan)

    with pytest.raises(TextEncoderError, match="encoder fake returned NaN or infinite values"):
        CachedEncoder(Broken(), root=tmp_path).encode(["x"])

    class Short(FakeEncoder):
        def encode(self, texts: Sequence[str]) -> np.ndarray:
            return np.ones((len(texts), 3))

    with pytest.raises(TextEncoderError, match=r"returned shape \(1, 3\), expected \(1, 8\)"):
        CachedEncoder(Short(), root=tmp_path).encode(["x"])


def test_concurrent_processes_share_one_cache(tmp_path: Path) -> None:
    code = (
        "import sys; from flag3d.text import get_encoder;"
        "enc = get_encoder('hash:64', cache_dir=sys.argv[1]);"
        "[enc.encode([f'text {i}']) for i in range(150)];"
        "enc.encode([f'text {i}' for i in range(150)])"
    )
    procs = [subprocess.Popen([PY, "-c", code, str(tmp_path)]) for _ in range(3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    texts = [f"text {i}" for i in range(150)]
    ref = HashingEncoder(64).encode(texts)
    store = EmbeddingStore(tmp_path / encoder_key(HashingEncoder(64)), 64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no corrupt entry
        got = np.stack([store.get(t) for t in texts])
    assert np.array_equal(got, ref)
    assert not [p for p in tmp_path.rglob(".tmp-*")]


def test_default_root_follows_flag3d_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLAG3D_CACHE", str(tmp_path))
    enc = get_encoder("hash:32")
    enc.encode(["Sit-ups"])
    assert enc.store.folder.parent == tmp_path / "text"
    assert enc.store.path("Sit-ups").is_file()


# ---------------------------------------------------------------- taxonomy texts


def test_encode_activity_and_standards(tmp_path: Path) -> None:
    enc = get_encoder("hash:64", cache_dir=tmp_path)
    act = get_activity("A049")
    for level in (1, 2, 3):
        v = encode_activity("sumo squats", level, enc)
        assert v.shape == (64,)
        assert np.array_equal(v, HashingEncoder(64).encode([act.text(level)])[0])
    s = encode_standards("A049", enc)
    assert s.shape == (3, 64)
    ref = HashingEncoder(64).encode([act.standard(j).text for j in range(3)])
    assert np.array_equal(s, ref)  # row j is standard j
    m = encode_activities(["A049", "m01", 52], 2, enc)
    assert m.shape == (3, 64) and np.array_equal(m[0], encode_activity("A049", 2, enc))
    assert encode_activities([], 1, enc).shape == (0, 64)
    with pytest.raises(TaxonomyError, match="level must be 1, 2 or 3, got 4"):
        encode_activity("A049", 4, enc)
    with pytest.raises(TaxonomyError, match="unknown activity 'xyzzy'"):
        encode_standards("xyzzy", enc)


def test_taxonomy_texts_cover_levels_and_standards() -> None:
    texts = taxonomy_texts()
    assert len(texts) == 70 * 6
    assert "Sumo Squat" in texts and get_activity("A006").standard(1).text in texts
    assert len(taxonomy_texts("uiprmd")) == 60


# ---------------------------------------------------------------- MiniLM (loads the real model)

# From sentence-transformers 6.2 SentenceTransformer(all-MiniLM-L6-v2).encode(["Sumo Squat"],
# normalize_embeddings=True)[0, :6]; flag3d's own pooling reproduced it to 1.5e-8.
SUMO_SQUAT_REF = [-0.059696, 0.081838, 0.024661, 0.024167, -0.143479, -0.012826]


@pytest.mark.slow
def test_minilm_offline_known_values_and_pairs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: List[object] = []

    def no_network(*args: object, **kwargs: object) -> None:
        attempts.append(args)  # recorded: a library might swallow the exception
        raise OSError("network use attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    fresh = TransformerEncoder(minilm_path(), name="minilm")  # not the shared one: load here
    enc = CachedEncoder(fresh, root=tmp_path)
    v = enc.encode(["Squat With Arm Lift", "Sumo Squat", "Two-way Head Turn"])
    assert fresh.loaded and attempts == []
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert v.shape == (3, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(v[1, :6], SUMO_SQUAT_REF, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.3  # squat ~ sumo squat (0.59) >> head turn (0.09)
    # padding does not change a vector: alone vs batched with a long level-3 text
    long = get_activity("A049").text(3)
    batched = fresh.encode(["Sumo Squat", long])[0]
    np.testing.assert_allclose(batched, v[1], atol=1e-5)
    # a name is closer to its own description than to another activity's
    names = encode_activities(["A049", "A027"], 1, enc)
    descr = encode_activities(["A049", "A027"], 2, enc)
    sim = names @ descr.T
    assert sim[0, 0] > sim[0, 1] and sim[1, 1] > sim[1, 0]
    # served from the cache afterwards: the model is not called again
    calls = []
    monkeypatch.setattr(fresh, "encode", lambda texts: calls.append(texts))
    again = CachedEncoder(fresh, root=tmp_path).encode(["Sumo Squat"])
    assert calls == [] and np.array_equal(again[0], v[1])


def _tiny_bert(folder: Path, pooling: str = "mean") -> Path:
    """A random 2-layer, 32-d BERT with a 12-word vocabulary, saved as safetensors."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True)
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "squat", "sumo", "head", "turn", "knee", "lift", "jump"]
    (folder / "vocab.txt").write_text("\n".join(words) + "\n")
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt")).save_pretrained(folder)
    cfg = BertConfig(vocab_size=len(words), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=64)
    torch.manual_seed(0)
    BertModel(cfg).save_pretrained(folder, safe_serialization=True)
    if pooling == "cls":
        (folder / "1_Pooling").mkdir()
        (folder / "1_Pooling" / "config.json").write_text(
            json.dumps({"word_embedding_dimension": 32, "pooling_mode_cls_token": True,
                        "pooling_mode_mean_tokens": False})
        )
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_local_bert_folder_pooling(tmp_path: Path, pooling: str) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    d = _tiny_bert(tmp_path / "tiny", pooling)
    enc = get_encoder(str(d), cache_dir=tmp_path / "cache")
    assert (enc.name, enc.dim) == ("tiny", 32)
    texts = ["sumo squat", "head turn knee lift jump squat"]
    v = enc.encode(texts)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    # reference, computed here from the model's hidden states, one text at a time (no padding)
    tok, model = AutoTokenizer.from_pretrained(d), AutoModel.from_pretrained(d).eval()
    for i, t in enumerate(texts):
        with torch.no_grad():
            h = model(**tok([t], return_tensors="pt")).last_hidden_state[0]
        ref = (h[0] if pooling == "cls" else h.mean(0)).numpy()
        np.testing.assert_allclose(v[i], ref / np.linalg.norm(ref), atol=1e-5)


# ---------------------------------------------------------------- CLI (flag3d text ...)


def _cli():
    import typer
    from typer.testing import CliRunner

    from flag3d.cli import text as text_cli

    root = typer.Typer()
    text_cli.register(root, typer.Typer(), typer.Typer())
    return root, CliRunner()


def test_cli_encode_prints_similarities_and_saves(tmp_path: Path) -> None:
    root, runner = _cli()
    out = tmp_path / "v.npy"
    res = runner.invoke(root, ["text", "encode", "Sumo Squat", "sumo squat", "Head Turn",
                               "--encoder", "hash:64", "--out", str(out), "--cache-dir", str(tmp_path / "c")])
    assert res.exit_code == 0, res.output
    assert "hash64: 3 x 64 float32" in res.output and "1.000" in res.output
    v = np.load(out, allow_pickle=False)
    assert v.shape == (3, 64) and np.array_equal(v[0], v[1])


def test_cli_warm_fills_the_cache_then_reads_it(tmp_path: Path) -> None:
    root, runner = _cli()
    args = ["text", "warm", "--encoder", "hash:32", "--source", "uiprmd", "--cache-dir", str(tmp_path)]
    first = runner.invoke(root, args)
    assert first.exit_code == 0, first.output
    assert "60 texts: 60 computed, 0 already cached" in first.output
    second = runner.invoke(root, args)
    assert "60 texts: 0 computed, 60 already cached" in second.output
    bad = runner.invoke(root, ["text", "encode", "x", "--encoder", "nonsense"])
    assert isinstance(bad.exception, TextEncoderError)

"""``flag3d text encode|warm``: sentence embeddings and the embedding cache.

Example:
    $ flag3d text encode "Sumo Squat" "Two-way Head Turn" --encoder minilm
    $ flag3d text warm --encoder minilm
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

console = Console()
app = typer.Typer(no_args_is_help=True, help="Text encoders: embed sentences, warm the embedding cache.")

_ENCODER_HELP = "minilm (default), hash, hash:DIM, or a local BERT-style model folder."


@app.command()
def encode(
    texts: List[str] = typer.Argument(..., help="One or more sentences."),
    encoder: str = typer.Option("minilm", help=_ENCODER_HELP),
    out: Optional[Path] = typer.Option(None, help="Save the (N, dim) float32 array to this .npy file."),
    cache_dir: Optional[Path] = typer.Option(None, help="Embedding cache root (default: $FLAG3D_CACHE/text)."),
) -> None:
    """Embed sentences; print their cosine similarities (and save them with --out).

    Example: flag3d text encode "Sumo Squat" "Squat Jump" "Two-way Head Turn" --encoder hash
    """
    import numpy as np

    from flag3d.text import get_encoder

    enc = get_encoder(encoder, cache_dir=cache_dir)
    vecs = enc.encode(texts)
    console.print(f"{enc.name}: {vecs.shape[0]} x {vecs.shape[1]} float32, unit-norm rows")
    if len(texts) > 1:
        sim = vecs @ vecs.T
        table = Table(title="cosine similarity")
        table.add_column("")
        for j in range(len(texts)):
            table.add_column(str(j + 1), justify="right")
        for i, t in enumerate(texts):
            label = t if len(t) <= 40 else t[:37] + "..."
            table.add_row(f"{i + 1} {label}", *(f"{sim[i, j]:.3f}" for j in range(len(texts))))
        console.print(table)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        np.save(out, vecs, allow_pickle=False)
        console.print(f"wrote {out}")


@app.command()
def warm(
    encoder: str = typer.Option("minilm", help=_ENCODER_HELP),
    source: Optional[str] = typer.Option(None, help="flag3d or uiprmd (default: both)."),
    cache_dir: Optional[Path] = typer.Option(None, help="Embedding cache root (default: $FLAG3D_CACHE/text)."),
) -> None:
    """Embed every taxonomy text (levels 1-3 and the standards) into the cache.

    Later runs (training, counting) then read the vectors without loading the model.

    Example: flag3d text warm --encoder minilm
    """
    from flag3d.text import CachedEncoder, get_encoder, taxonomy_texts

    texts = taxonomy_texts(source)
    enc = get_encoder(encoder, cache_dir=cache_dir)
    t0 = time.perf_counter()
    enc.encode(texts)
    secs = time.perf_counter() - t0
    where = enc.store.folder if isinstance(enc, CachedEncoder) else "-"
    stats = enc.stats if isinstance(enc, CachedEncoder) else {}
    console.print(
        f"{len(set(texts))} texts: {stats.get('computed', 0)} computed, "
        f"{stats.get('disk', 0)} already cached, {secs:.1f} s; cache {where}",
        soft_wrap=True,
    )


def register(app_: typer.Typer, train_app: typer.Typer, eval_app: typer.Typer) -> None:
    """Attach ``flag3d text ...`` to the main app (no train/eval commands)."""
    app_.add_typer(app, name="text", help="Text encoders: embed sentences, warm the embedding cache.")

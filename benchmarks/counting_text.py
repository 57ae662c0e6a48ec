"""HL-RAC with text against the same model without text, on the UI-PRMD counting test subjects.

Evaluates trained checkpoints (default: ``runs/counting-hlrac/best`` with text and
``runs/counting-notext/best`` without) on the UI-PRMD counting set built from the real
UI-PRMD recordings, test subjects s08-s10 only (never used for training or model
selection), in four settings: whole recordings (``full``), whole recordings with 5-15 s of
idle standing before, between and after the repetitions (``full+idle``), the FLAG3D++
128-frame protocol (``flag3d128``), and the text model given no text (``full, text off``).
A held-out synthetic set (labelled as such) is added for reference.

Every row gives MAE and OBO in both conventions (FLAG3D++ release: unrounded,
``|pred-gt|/(gt+0.1)``; TransRAC: rounded, ``|pred-gt|/gt``) and the interval IoU of the
repetitions.  Results go to ``benchmarks/results/counting_text.json``.

Example:
    $ .venv/bin/python benchmarks/counting_text.py
    $ .venv/bin/python benchmarks/counting_text.py --text src/flag3d/weights/counting-hlgcn
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent


def main(argv: Optional[List[str]] = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--text", default=str(ROOT / "runs" / "counting-hlrac" / "best"))
    ap.add_argument("--notext", default=str(ROOT / "runs" / "counting-notext" / "best"))
    ap.add_argument("--synthetic", type=int, default=100, help="held-out synthetic sequences (0: skip)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "counting_text.json"))
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from flag3d.tasks.counting import IDLE, evaluate

    settings = [
        ("full", dict(data="uiprmd")),
        ("full+idle 5-15 s", dict(data="uiprmd", idle=IDLE)),
        ("flag3d128", dict(data="uiprmd", protocol="flag3d128")),
    ]
    rows: List[Dict[str, Any]] = []
    t0 = time.time()
    for model, ckpt in (("HL-RAC (text)", args.text), ("same, no text", args.notext)):
        extra = [("full, text off", dict(data="uiprmd", use_text=False))] if "(text)" in model else []
        syn = [("synthetic (held out)", dict(data="synthetic", limit=args.synthetic))] if args.synthetic else []
        for name, spec in settings + extra + syn:
            r = evaluate(ckpt, **spec)
            row = {"model": model, "setting": name, "checkpoint": ckpt, "n": r["n"],
                   "data": "synthetic" if spec["data"] == "synthetic" else "uiprmd-counting test s08-s10 (real)",
                   "flag3d": r["flag3d"], "transrac": r["transrac"], "exact": r["exact"],
                   "intervals": r.get("intervals")}
            rows.append(row)
            iou = r.get("intervals", {}) or {}
            print(f"{model:15s} {name:22s} n={r['n']:3d}  MAE {r['flag3d']['mae']:.4f} "
                  f"(rounded {r['transrac']['mae']:.4f})  OBO@1 {r['transrac']['obo@1']:.4f}  "
                  f"OBO@Avg {r['flag3d']['obo@avg']:.4f}  exact {r['exact']:.3f}  "
                  f"IoU {iou.get('mean_iou', float('nan')):.3f}", flush=True)
    out = {"benchmark": "counting_text", "data_source": "uiprmd-counting test subjects s08-s10 "
           "(real UI-PRMD motion); one synthetic row marked as such",
           "conventions": {"flag3d": "pred not rounded, MAE = |pred-gt|/(gt+0.1)",
                           "transrac": "pred rounded, MAE = |pred-gt|/gt"},
           "seconds": round(time.time() - t0, 1), "load": list(os.getloadavg()), "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

"""Mining speed vs a decode-only pass, measured side by side (the machine is shared and noisy).

For every video of the corpora, alternately (the order flips from one video to the next, so
drifting load hits both alike): a decode-only pass (``cv2`` read of every frame, the floor of
a one-pass miner) and ``mine_video`` (fresh output folder, so nothing is cached), each timed
in wall seconds and CPU seconds of this process (``time.process_time``, all threads). The OCR
engine is created once before timing (it is created once per worker process in the stage).

Prints per frame size (640x360, 1280x720, ...): video seconds, decode-only and mining seconds,
their ratio (mining / decode-only; target <= 3) and the real-time factor
``video seconds / mining wall seconds`` (x real time; larger is better). Then, per corpus, the
mining metrics of ``aesformer.mining.evaluate.evaluate``: precision, recall, overlay residue,
SSIM mean and min of the cleaned poor images against the clean truth, narration character
error rate and exact share. The ``mine:`` section of
``--params`` (default: the project's ``params.yaml``) is what is mined, as ``dvc repro mine``.

    .venv/bin/python bench/mining.py [--corpus data/raw] [--holdout data/raw-holdout] [--params params.yaml]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from aesformer.config import MineConfig, load_params  # noqa: E402
from aesformer.mining.evaluate import evaluate  # noqa: E402
from aesformer.mining.ocr import get_reader  # noqa: E402
from aesformer.mining.video import mine_video  # noqa: E402

METRICS = (
    "precision",
    "recall",
    "overlay_residue",
    "ssim_mean",
    "ssim_min",
    "narration_cer_mean",
    "narration_exact",
    "pairs",
    "events",
)


def decode_only(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def timed(fn, *args):
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn(*args)
    return out, time.process_time() - c0, time.perf_counter() - w0


def bench_corpus(cfg: MineConfig, corpus: Path, out: Path, by_size: dict) -> list:
    """Time decode-only and mining of every video of ``corpus``; returns the results."""
    results = []
    for k, video in enumerate(sorted((corpus / "videos").glob("*.mp4"))):
        sha = hashlib.sha256(video.read_bytes()).hexdigest()
        order = ["decode", "mine"] if k % 2 == 0 else ["mine", "decode"]
        t: dict[str, float] = {}
        for name in order:
            if name == "decode":
                _, t["decode_cpu"], t["decode_wall"] = timed(decode_only, video)
            else:
                r, t["mine_cpu"], t["mine_wall"] = timed(
                    mine_video, cfg, video, video.stem, sha, out
                )
                results.append(r)
        size = f"{r.report.get('width')}x{r.report.get('height')}"
        video_s = r.report.get("frames", 0) / max(1e-9, r.report.get("fps") or 25.0)
        row = by_size[size]
        row["videos"] += 1
        row["video_s"] += video_s
        for key, v in t.items():
            row[key] += v
        steps = ", ".join(f"{s} {v:.2f}" for s, v in r.report.get("seconds", {}).items())
        print(
            f"  {corpus.name}/{video.name} {size} {video_s:.1f} s video: "
            f"mine {t['mine_wall']:.2f} s wall ({t['mine_cpu']:.2f} CPU-s), "
            f"decode-only {t['decode_wall']:.2f} s wall, "
            f"ratio {t['mine_wall'] / max(1e-9, t['decode_wall']):.1f}, "
            f"{video_s / max(1e-9, t['mine_wall']):.0f}x real time  [{steps}]",
            flush=True,
        )
    return results


def write_outputs(out: Path, results: list) -> None:
    with (out / "pairs.jsonl").open("w") as f:
        for r in results:
            for p in r.pairs:
                f.write(p.model_dump_json() + "\n")
    with (out / "rejects.jsonl").open("w") as f:
        for r in results:
            for rej in r.rejects:
                f.write(rej.model_dump_json() + "\n")


def print_table(by_size: dict) -> None:
    head = (
        f"{'size':>10} {'videos':>6} {'video s':>8} {'decode s':>9} {'mine s':>8} "
        f"{'ratio':>6} {'decode CPU-s':>12} {'mine CPU-s':>10} {'CPU ratio':>9} {'x real time':>11}"
    )
    print(
        "\nmining vs decode-only (wall seconds unless CPU; ratio = mine / decode-only, "
        "target <= 3; x real time = video s / mine wall s, larger is better)"
    )
    print(head)
    for size, t in sorted(by_size.items(), key=lambda kv: int(kv[0].split("x")[0])):
        print(
            f"{size:>10} {int(t['videos']):>6} {t['video_s']:>8.1f} {t['decode_wall']:>9.2f} "
            f"{t['mine_wall']:>8.2f} {t['mine_wall'] / max(1e-9, t['decode_wall']):>6.1f} "
            f"{t['decode_cpu']:>12.2f} {t['mine_cpu']:>10.2f} "
            f"{t['mine_cpu'] / max(1e-9, t['decode_cpu']):>9.1f} "
            f"{t['video_s'] / max(1e-9, t['mine_wall']):>10.1f}x"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=REPO / "data/raw")
    ap.add_argument("--holdout", type=Path, default=None, help="a second corpus (metrics too)")
    ap.add_argument(
        "--params", type=Path, default=REPO / "params.yaml", help="its `mine:` section is mined"
    )
    args = ap.parse_args()
    cfg: MineConfig = load_params(args.params).mine
    print(f"mine params: {args.params}", flush=True)
    get_reader(cfg.ocr_backend, cfg.ocr_side_len)  # once per process, as in the stage
    corpora = [c for c in (args.corpus, args.holdout) if c is not None]
    by_size: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    metrics = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n, corpus in enumerate(corpora):
            out = Path(tmp) / f"{n}_{corpus.name}"
            write_outputs(out, bench_corpus(cfg, corpus, out, by_size))
            metrics[corpus] = evaluate(out, corpus)
    print_table(by_size)
    print(
        "\nquality (aesformer.mining.evaluate; targets: precision >= 0.95, recall >= 0.90, "
        "residue 0, SSIM >= 0.85, narration CER <= 0.05)"
    )
    for corpus, m in metrics.items():
        scalars = {k: round(m[k], 3) if isinstance(m[k], float) else m[k] for k in METRICS}
        print(f"{corpus}: {json.dumps(scalars)} passes={m['passes_targets']['all']}")


if __name__ == "__main__":
    main()

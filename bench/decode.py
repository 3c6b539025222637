"""The mining decoding pass with and without read-ahead, measured side by side.

For every video of the corpus, alternately (the order flips from one video to the next, so
drifting load hits both alike): ``decode`` with the cut detectors as the stage runs it, once
with ``read_ahead=0`` (decoding and analysis on one thread) and once with ``read_ahead=N``
(frames decoded on a second thread while one is analysed), and a decode-only pass (``cv2`` read
of every frame). Prints wall seconds per frame size and the ratios; checks both passes
produced the same signals.

    .venv/bin/python bench/decode.py [--corpus data/raw] [--read-ahead 4] [--repeat 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

from mining import decode_only  # noqa: E402

from aesformer.config import MineConfig  # noqa: E402
from aesformer.mining.decode import decode  # noqa: E402
from aesformer.mining.video import cut_detector  # noqa: E402


def decode_pass(cfg: MineConfig, video: Path, read_ahead: int):
    cuts = cut_detector(cfg, video)  # as mine_video builds them
    out = decode(video, cfg.analysis_width, cfg.sample_fps, on_frame=cuts, read_ahead=read_ahead)
    return out, cuts.finish()


def frame_size(video: Path) -> str:
    import cv2

    cap = cv2.VideoCapture(str(video))
    size = f"{int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))}x{int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))}"
    cap.release()
    return size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=REPO / "data/raw")
    ap.add_argument("--read-ahead", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    cfg = MineConfig()
    rows: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    videos = sorted((args.corpus / "videos").glob("*.mp4"))
    depths = {"one thread": 0, "read-ahead": args.read_ahead}
    for r in range(args.repeat):
        for k, video in enumerate(videos):
            names = ["decode-only", "one thread", "read-ahead"]
            if (k + r) % 2:
                names.reverse()
            passes = {}
            for name in names:
                t0 = time.perf_counter()
                if name == "decode-only":
                    decode_only(video)
                else:
                    passes[name] = decode_pass(cfg, video, depths[name])
                rows[frame_size(video)][name] += time.perf_counter() - t0
            (one, cuts_one), (ahead, cuts_ahead) = passes["one thread"], passes["read-ahead"]
            if not (np.array_equal(one.diff, ahead.diff) and cuts_one == cuts_ahead):
                raise SystemExit(f"{video}: read-ahead changed the decoding pass's signals")
    print(
        f"decoding pass (cut detectors on): read-ahead {args.read_ahead} vs one thread, "
        f"{args.repeat} passes over {len(videos)} videos (wall seconds; same signals checked)"
    )
    print(
        f"{'size':>10} {'decode-only':>12} {'one thread':>11} {'read-ahead':>11} "
        f"{'speed-up':>9} {'one/decode':>11} {'ahead/decode':>13}"
    )
    for size, t in sorted(rows.items(), key=lambda kv: int(kv[0].split("x")[0])):
        print(
            f"{size:>10} {t['decode-only']:>12.3f} {t['one thread']:>11.3f} "
            f"{t['read-ahead']:>11.3f} {t['one thread'] / t['read-ahead']:>9.2f} "
            f"{t['one thread'] / t['decode-only']:>11.2f} {t['read-ahead'] / t['decode-only']:>13.2f}"
        )


if __name__ == "__main__":
    main()

"""Orchestration overhead, measured side by side in one run (the machine is shared and noisy).

Runs the same `corpus` stage (a small corpus, tracking on) three ways, alternating rounds so
drifting machine load hits all of them alike, and prints medians and ratios:

  direct   `aesformer corpus --out ...`                 (the stage command alone)
  dvc      `dvc repro --force corpus`                   (+ DVC hashing and lock update)
  flow     Prefect flow -> task -> `dvc repro --force`  (+ Prefect, in a fresh process)

and the no-op cost of a second `make run` (flow over an up-to-date repo).

    .venv/bin/python bench/pipeline.py [--rounds 3] [--videos 2]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def make_repo(root: Path, videos: int) -> None:
    shutil.copytree(
        REPO / "src/aesformer/corpus",
        root / "src/aesformer/corpus",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["corpus"].update(videos=videos)
    params["orchestration"]["retries"] = 0
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"corpus": stages["corpus"]}}))
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run([str(BIN / "dvc"), "init", "-q"], cwd=root, check=True)


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--videos", type=int, default=2)
    args = ap.parse_args()
    flow = str(REPO / "flows/pipeline.py")
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        root = Path(tmp)
        make_repo(root, args.videos)
        ways = {
            "direct": [str(BIN / "aesformer"), "corpus", "--out", "data/raw"],
            "dvc": [str(BIN / "dvc"), "repro", "--force", "corpus"],
            "flow": [sys.executable, flow, "--force"],
        }
        times: dict[str, list[float]] = {k: [] for k in ways}
        for _ in range(args.rounds):
            for name, cmd in ways.items():
                times[name].append(timed(cmd, root))
        noop = [timed([sys.executable, flow], root) for _ in range(args.rounds)]
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"corpus stage, {args.videos} videos, median of {args.rounds} alternating rounds")
    for name, value in med.items():
        print(f"  {name:<7} {value:7.2f} s   ratio to direct {value / med['direct']:.2f}")
    print(
        f"  no-op flow (all up to date) {statistics.median(noop):.2f} s "
        f"= {statistics.median(noop) / med['direct']:.2f} x direct"
    )


if __name__ == "__main__":
    main()

"""bench/thinker_head.py runs end to end on the tiny base and prints its side-by-side table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from aesformer.config import SftConfig
from aesformer.thinker.sft import train_sft
from tests.unit.test_thinker_data import build_tiny_release, build_tiny_thinker

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def test_bench_prints_every_way_with_equal_losses(tmp_path):
    base = build_tiny_thinker(tmp_path / "base")
    release = build_tiny_release(tmp_path / "rel")
    sft_dir = tmp_path / "sft"
    train_sft(
        SftConfig(max_steps=1, batch_size=2, image_max_pixels=64 * 64, eval_limit=1,
                  eval_max_new_tokens=8),
        release, base, sft_dir,
    )  # fmt: skip
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["sft"].update(batch_size=2, image_max_pixels=64 * 64, eval_max_new_tokens=8)
    params["grpo"].update(
        num_generations=2, batch_size=4, max_completion_length=8, image_max_pixels=64 * 64,
        eval_samples=None, eval_batch_size=None,
    )  # fmt: skip
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    done = subprocess.run(
        [
            sys.executable, str(REPO / "bench/thinker_head.py"), "--rounds", "1",
            "--sft-steps", "2", "--grpo-steps", "1", "--params", str(tmp_path / "params.yaml"),
            "--release", str(release), "--sft", str(sft_dir), "--base", str(base),
        ],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    table = done.stdout[done.stdout.index("training seconds") :].splitlines()[2:]
    rows = [line.split() for line in table if line.strip()]
    assert [(r[0], " ".join(r[2:-3])) for r in rows] == [
        ("sft", "full head"),
        ("sft", "compact"),
        ("grpo", "full head"),
        ("grpo", "compact"),
        ("grpo", "compact+merged"),
    ]
    for row in rows:
        assert float(row[-3]) > 0 and float(row[-2]) > 0
        assert float(row[-1]) < 1e-4, row  # the same computation, summed in another order

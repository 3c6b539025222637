"""AesThinker training on CPU before and after the two speed-ups, side by side.

1. the compact LM head (:mod:`aesformer.thinker.lm_head`): TRL's fused LM head projects every
   position on CPU; it now projects only the labelled ones (the plan tokens), in SFT and GRPO;
2. rollouts with the LoRA merged (``grpo.merge_lora_for_generation``,
   :func:`aesformer.thinker.grpo.merged_lora`), GRPO only.

This runs the real stages' training on the pipeline's release and tiny base, alternating the
ways round by round (so drifting machine load hits all alike), and prints the training seconds
(median of the rounds), the speed-up of each way over the first, and the largest relative
difference of the mean training loss from the first way's (float summation order only: both
are speed-ups, not different computations):

  sft    ``train_sft`` for ``--sft-steps`` optimizer steps:   full head | compact head
  grpo   ``train_grpo`` for ``--grpo-steps`` steps from the pipeline's SFT adapter:
         full head, unmerged | compact head, unmerged | compact head, merged

Needs ``make run`` first (data/release, models/base/thinker, models/thinker/sft).

    .venv/bin/python bench/thinker_head.py [--rounds 2] [--sft-steps 20] [--grpo-steps 4]
        [--params params.yaml] [--release data/release] [--sft models/thinker/sft] [--base DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from aesformer.config import load_params  # noqa: E402
from aesformer.thinker import grpo, sft  # noqa: E402
from aesformer.thinker.lm_head import compact_lm_head  # noqa: E402

#: way -> (head context the stage enters around trainer.train(), merge LoRA for generation)
WAYS = {
    "sft": {"full head": (contextlib.nullcontext, False), "compact": (compact_lm_head, False)},
    "grpo": {
        "full head": (contextlib.nullcontext, False),
        "compact": (compact_lm_head, False),
        "compact+merged": (compact_lm_head, True),
    },
}


def run(stage: str, way: str, args: argparse.Namespace, out: Path) -> tuple[float, float]:
    """(training seconds, mean train loss) of one run of ``stage`` the ``way`` given."""
    params = load_params(args.params)
    base = args.base or REPO / params.models.thinker.base_model
    release = args.release
    module = sft if stage == "sft" else grpo
    head, merge = WAYS[stage][way]
    original = module.compact_lm_head
    module.compact_lm_head = head
    try:
        if stage == "sft":
            cfg = params.sft.model_copy(
                update={"max_steps": args.sft_steps, "save_steps": 10**6, "eval_limit": 1}
            )
            s = sft.train_sft(cfg, release, base, out, resume=False)
        else:
            cfg = params.grpo.model_copy(
                update={
                    "max_steps": args.grpo_steps,
                    "save_steps": 10**6,
                    "eval_prompts": 1,
                    "merge_lora_for_generation": merge,
                }
            )
            s = grpo.train_grpo(cfg, params.rewards, release, base, args.sft, out, resume=False)
    finally:
        module.compact_lm_head = original
    return s["train_seconds"], s["train_loss"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--sft-steps", type=int, default=20)
    ap.add_argument("--grpo-steps", type=int, default=4)
    ap.add_argument("--params", type=Path, default=REPO / "params.yaml")
    ap.add_argument("--release", type=Path, default=REPO / "data/release")
    ap.add_argument("--sft", type=Path, default=REPO / "models/thinker/sft", help="GRPO's start")
    ap.add_argument("--base", type=Path, default=None, help="default: models.thinker.base_model")
    args = ap.parse_args()
    for need in (args.release, args.sft):
        if not need.exists():
            sys.exit(f"{need}: missing (run `make run` first)")
    seconds: dict[tuple[str, str], list[float]] = {}
    losses: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for stage, ways in WAYS.items():
                order = list(ways) if r % 2 == 0 else list(reversed(ways))
                for way in order:
                    out = Path(tmp) / f"{r}-{stage}-{way}"
                    t, loss = run(stage, way, args, out)
                    seconds.setdefault((stage, way), []).append(t)
                    losses.setdefault((stage, way), []).append(loss)
                    print(
                        f"  round {r} {stage} {way}: {t:.1f} s, train loss {loss:.6f}", flush=True
                    )
    print(
        "\ntraining seconds, median of the rounds; speed-up = first way's seconds / this way's "
        "(larger is better); loss diff = largest relative difference from the first way"
    )
    print(f"{'stage':>5} {'steps':>5} {'way':>15} {'seconds':>8} {'speed-up':>8} {'loss diff':>9}")
    for stage, ways in WAYS.items():
        steps = args.sft_steps if stage == "sft" else args.grpo_steps
        first = next(iter(ways))
        t0 = statistics.median(seconds[stage, first])
        for way in ways:
            t = statistics.median(seconds[stage, way])
            diff = max(
                abs(a - b) / max(abs(a), 1e-12)
                for a, b in zip(losses[stage, first], losses[stage, way], strict=True)
            )
            print(f"{stage:>5} {steps:>5} {way:>15} {t:>8.1f} {t0 / t:>8.2f} {diff:>9.1e}")


if __name__ == "__main__":
    main()

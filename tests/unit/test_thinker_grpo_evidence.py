"""The GRPO evidence window: one pass of TRL's sampler, so both windows score the same prompts."""

from __future__ import annotations

import math

import pytest
from trl.trainer.utils import RepeatSampler

from aesformer.config import GrpoConfig
from aesformer.thinker.grpo import evidence, evidence_window, paired_gain, steps_per_pass


def step_prompts(cfg: GrpoConfig, prompts: int, steps: int, processes: int = 1) -> list[set[int]]:
    """The prompts of each optimizer step, drawn as GRPOTrainer draws them (its sampler, its
    arguments, a new pass of the sampler whenever one ends)."""
    per_generation = cfg.steps_per_generation or 1
    reuse = per_generation * cfg.num_iterations  # optimizer steps fed by one rollout batch
    completions_per_step = processes * cfg.batch_size * cfg.grad_accum
    sampler = RepeatSampler(
        data_source=list(range(prompts)),
        mini_repeat_count=cfg.num_generations,
        batch_size=completions_per_step * per_generation // cfg.num_generations,
        repeat_count=reuse,
        shuffle=True,
        seed=cfg.seed,
    )
    order: list[int] = []
    while len(order) < steps * completions_per_step * per_generation:
        order.extend(sampler)  # one pass (TRL's dataloader re-iterates it every epoch)
    # a rollout batch is generated once, split into its optimizer steps, and re-used
    # num_iterations times
    out = []
    rollout = completions_per_step * per_generation
    for start in range(0, steps * completions_per_step, rollout * cfg.num_iterations):
        block = order[start * per_generation : start * per_generation + rollout * reuse]
        unique = list(dict.fromkeys(block))  # each prompt repeated `reuse` times
        flat = [i for i in unique for _ in range(cfg.num_generations)]
        for _ in range(cfg.num_iterations):
            for k in range(per_generation):
                out.append(set(flat[k * completions_per_step : (k + 1) * completions_per_step]))
    return out[:steps]


@pytest.mark.parametrize(
    ("overrides", "prompts", "expected"),
    [
        ({}, 20, 5),  # the embedded default: 16 completions = 4 prompts a step
        ({"batch_size": 8}, 20, 10),
        ({"num_generations": 5, "batch_size": 10, "grad_accum": 2}, 40, 10),
        ({"steps_per_generation": 2}, 20, 4),  # 8-prompt rollouts: 2 per pass, 4 prompts dropped
        # each 8-prompt rollout optimised on twice: 4 steps a rollout, 2 rollouts a pass
        ({"steps_per_generation": 2, "num_iterations": 2}, 20, 8),
        ({"num_iterations": 3}, 20, 15),
    ],
)
def test_a_pass_is_the_steps_that_see_every_prompt_once(overrides, prompts, expected):
    cfg = GrpoConfig(max_steps=4 * expected, **overrides)
    assert steps_per_pass(cfg, prompts) == expected
    steps = step_prompts(cfg, prompts, cfg.max_steps)
    first = set().union(*steps[:expected])
    last = set().union(*steps[-expected:])
    dropped = prompts % (len(steps[0]) * (cfg.steps_per_generation or 1))
    assert len(first) == len(last) == prompts - dropped
    if not dropped:
        assert first == last == set(range(prompts))


def test_processes_share_a_step():
    cfg = GrpoConfig(num_generations=4, batch_size=4)
    assert steps_per_pass(cfg, 20, processes=2) == 10  # 8 completions = 2 prompts a step
    assert steps_per_pass(cfg, 20, processes=1) == 20  # 1 prompt a step


def test_an_explicit_window_wins_and_a_too_long_one_is_halved():
    assert evidence_window(GrpoConfig(evidence_steps=3), 20) == 3
    assert evidence_window(GrpoConfig(), 20) == 5
    sft = grpo = {"reward": 0.5}
    history = [(s, 0.1 * s) for s in range(1, 7)]
    proof = evidence(history, 5, sft, grpo)
    assert proof["evidence_steps"] == 3  # at most half of the 6 logged steps: no overlap
    assert proof["reward_first_steps"] == pytest.approx(0.2)
    assert proof["reward_last_steps"] == pytest.approx(0.5)
    assert proof["reward_gain"] == pytest.approx(0.3)


def test_paired_gain_is_the_mean_and_standard_error_of_the_differences():
    mean, se = paired_gain([0.2, 0.4, 0.6, 0.8], [0.3, 0.4, 0.9, 0.8])
    assert mean == pytest.approx(0.1)
    # differences 0.1, 0, 0.3, 0: sample std 0.1414, / sqrt(4)
    assert se == pytest.approx(0.141421 / 2, rel=1e-4)
    assert math.isnan(paired_gain([0.5], [0.7])[1])
    with pytest.raises(ValueError, match="same non-empty prompts"):
        paired_gain([0.1, 0.2], [0.3])


def test_evidence_reports_the_paired_standard_error_and_keeps_the_means_clean():
    sft = {"reward": 0.4, "format": 0.5, "per_prompt": [0.3, 0.5]}
    grpo = {"reward": 0.5, "format": 0.5, "per_prompt": [0.45, 0.55]}
    proof = evidence([(1, 0.3), (2, 0.5)], 1, sft, grpo)
    assert proof["reward_gain_over_sft"] == pytest.approx(0.1)
    assert proof["reward_gain_over_sft_se"] == pytest.approx(0.05)  # diffs 0.15, 0.05
    assert "per_prompt" not in proof["sft"] and "per_prompt" not in proof["grpo"]
    assert proof["per_prompt_rewards"] == {"sft": [0.3, 0.5], "grpo": [0.45, 0.55]}
    assert sft["per_prompt"] == [0.3, 0.5]  # the inputs are not changed
    no_lists = evidence([(1, 0.3), (2, 0.5)], 1, {"reward": 0.4}, {"reward": 0.5})
    assert no_lists["reward_gain_over_sft_se"] is None


def test_reward_trend_is_the_least_squares_slope_per_100_steps_with_its_error():
    from aesformer.thinker.grpo import reward_trend

    line = [(s, 0.3 + 0.001 * s) for s in range(1, 11)]
    slope, se = reward_trend(line)
    assert slope == pytest.approx(0.1) and se == pytest.approx(0.0, abs=1e-9)
    noisy = [(s, 0.3 + (0.05 if s % 2 else -0.05)) for s in range(1, 21)]
    slope, se = reward_trend(noisy)
    # the alternation has a slight slope (-0.05 at the last, even step); scipy.stats.linregress
    # of the same points: slope -0.00075188, stderr 0.0020361 per step
    assert slope == pytest.approx(-0.075188, abs=1e-5) and se == pytest.approx(0.20361, abs=1e-4)
    assert reward_trend([(1, 0.2), (2, 0.4)]) == (None, None)
    proof = evidence(line, 3, {"reward": 0.3}, {"reward": 0.4})
    assert proof["reward_trend_per_100_steps"] == pytest.approx(0.1)


def test_the_evidence_profile_is_the_default_run_for_longer_in_its_own_store():
    from pathlib import Path

    from aesformer.config import load_params

    repo = Path(__file__).resolve().parents[2]
    base = load_params(repo / "params.yaml")
    long = load_params(repo / "params.yaml", profile="grpo-evidence")
    assert long.grpo.max_steps == 200 and base.grpo.max_steps < long.grpo.max_steps
    changed = {k for k, v in long.grpo.model_dump().items() if v != getattr(base.grpo, k)}
    # same policy, rewards, data: longer, with the paper's 4 optimizer steps per rollout
    assert changed == {"max_steps", "save_steps", "steps_per_generation"}
    assert long.grpo.steps_per_generation == 4
    assert long.rewards == base.rewards and long.sft == base.sft
    # its registered aesthinker must not become the @latest the eval stage benchmarks
    assert long.tracking.tracking_uri != base.tracking.tracking_uri
    # a 16-prompt rollout batch of 4 steps per pass over the 20 prompts (4 dropped each pass)
    assert evidence_window(long.grpo, 20) == 4


def test_steps_per_generation_counts_optimizer_steps_and_trl_gets_micro_batches(tmp_path):
    """TRL's ``steps_per_generation`` counts micro-batches (training_step calls); ours counts
    optimizer steps: with grad_accum 8, 4 optimizer steps per rollout are 32 micro-batches."""
    from aesformer.thinker.grpo import grpo_arguments

    full = GrpoConfig(num_generations=5, batch_size=10, grad_accum=8, steps_per_generation=4)
    args = grpo_arguments(full, [0.4, 0.5, 0.1], tmp_path)
    assert args.steps_per_generation == 32
    # one process here: a rollout batch is 4 optimizer steps of 10 x 8 completions = 64 prompts
    assert args.generation_batch_size == 4 * 10 * 8
    default = grpo_arguments(GrpoConfig(grad_accum=2, batch_size=8), [1.0, 1.0, 1.0], tmp_path)
    assert default.steps_per_generation == 2  # null: one optimizer step per rollout
    assert steps_per_pass(full, 128) == 8  # 64-prompt rollouts: 2 per pass of 128, 4 steps each
    assert default.num_iterations == 1  # on-policy unless asked
    reused = grpo_arguments(GrpoConfig(num_iterations=3), [1.0, 1.0, 1.0], tmp_path)
    assert reused.num_iterations == 3
    assert steps_per_pass(full.model_copy(update={"num_iterations": 2}), 128) == 16


def test_the_windows_are_steps_when_only_generating_steps_log_a_reward():
    # steps_per_generation 4: TRL logs the rollout's reward on steps 1, 5, 9, ...
    history = [(1, 0.1), (5, 0.2), (9, 0.3), (13, 0.4), (17, 0.5)]
    proof = evidence(history, 4, {"reward": 0.3}, {"reward": 0.4})
    assert proof["evidence_steps"] == 4
    assert proof["reward_first_steps"] == pytest.approx(0.1)  # steps 1..4: one rollout
    assert proof["reward_last_steps"] == pytest.approx(0.5)  # steps 14..17
    wide = evidence(history, 8, {"reward": 0.3}, {"reward": 0.4})
    assert wide["reward_first_steps"] == pytest.approx(0.15)  # steps 1..8: rollouts 1 and 5
    assert wide["reward_last_steps"] == pytest.approx(0.45)  # steps 10..17: 13 and 17
    capped = evidence(history, 100, {"reward": 0.3}, {"reward": 0.4})
    assert capped["evidence_steps"] == 8  # half of the 17 steps: the windows never overlap
    assert capped["reward_first_steps"] == pytest.approx(0.15)


def test_scoring_chunks_hold_whole_prompts_within_the_batch():
    from aesformer.thinker.grpo import scoring_chunks

    # null: num_generations samples, batch_size completions a call
    cfg = GrpoConfig(num_generations=4, batch_size=16, eval_samples=None, eval_batch_size=None)
    assert [list(c) for c in scoring_chunks(cfg, 10)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    wide = GrpoConfig(num_generations=4, batch_size=16, eval_samples=8, eval_batch_size=160)
    assert scoring_chunks(wide, 20) == [range(0, 20)]
    tiny = GrpoConfig(num_generations=4, batch_size=16, eval_samples=8, eval_batch_size=3)
    assert len(scoring_chunks(tiny, 5)) == 5  # fewer completions than samples: a prompt a call
    assert scoring_chunks(cfg, 0) == []

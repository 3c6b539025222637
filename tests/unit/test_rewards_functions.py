"""TRL reward functions in the exact call shape of ``GRPOTrainer._calculate_rewards`` (TRL 1.16)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from aesformer.config import JudgeEndpointConfig, RewardsConfig
from aesformer.plans import PLANNER_INSTRUCTION, Plan, parse
from aesformer.rewards import (
    EmbeddingJudge,
    LogitJudge,
    OpenAICompatibleTransport,
    RewardStats,
    RulesJudge,
    alignment_reward,
    build_rewards,
    creativity_reward,
    format_reward,
    group_ids,
)
from tests.unit.test_rewards_embedding import PARAPHRASE, REFERENCE
from tests.unit.test_rewards_rules import (
    ALL_NO_CHANGE,
    COLOUR_ONLY,
    GENERIC,
    GOOD,
    MALFORMED,
    NEW_OBJECT,
)

pytestmark = pytest.mark.unit

PHOTO = Image.fromarray((np.random.default_rng(0).random((48, 64, 3)) * 255).astype(np.uint8))


def trl_call(fn, completions, references, *, conversational=True, image=True, prompts=None):
    """Call ``fn`` like TRL does: one row per completion, columns repeated per generation."""
    n = len(completions)
    if prompts is None:
        prompt = (
            [{"role": "user", "content": [{"type": "image", "image": PHOTO},
                                          {"type": "text", "text": PLANNER_INSTRUCTION}]}]
            if conversational else PLANNER_INSTRUCTION
        )  # fmt: skip
        prompts = [prompt] * n
    if conversational:
        completions = [[{"role": "assistant", "content": c}] for c in completions]
    kwargs = {
        "completion_ids": [[1, 2, 3]] * n,
        "reference_plan": references,
        "trainer_state": None,
        "log_extra": lambda column, values: None,
        "log_metric": lambda name, value: None,
    }
    if image:
        kwargs["image"] = [PHOTO] * n
    return fn(prompts=prompts, completions=completions, **kwargs)


@pytest.fixture(scope="module")
def embedding() -> EmbeddingJudge:
    judge = EmbeddingJudge()
    judge.setup()
    return judge


def unreachable_judge() -> LogitJudge:
    cfg = JudgeEndpointConfig(base_url="http://127.0.0.1:9/v1", http_retries=0, timeout_s=2)
    return LogitJudge(OpenAICompatibleTransport(cfg))


# --------------------------------------------------------------------------- format
@pytest.mark.parametrize("conversational", [True, False])
def test_format_reward(conversational):
    texts = [GOOD, MALFORMED, GOOD.replace("(3) Camera", "(3) Kamera"), ALL_NO_CHANGE]
    values = trl_call(format_reward, texts, [REFERENCE] * 4, conversational=conversational)
    assert values == [1.0, 0.0, 0.0, 1.0]
    assert format_reward.__name__ == "format_reward"


# --------------------------------------------------------------------------- alignment
def test_alignment_reward_orders_and_records(embedding):
    stats = RewardStats()
    fn = alignment_reward(embedding, stats=stats, group_size=4)
    assert fn.__name__ == "alignment"
    reference_dict = parse(REFERENCE).plan.to_dict()  # a {dimension: action} column works too
    values = trl_call(fn, [REFERENCE, PARAPHRASE, GENERIC, MALFORMED], [reference_dict] * 4)
    assert values[0] == pytest.approx(1.0, abs=1e-5)
    assert values[0] > values[1] > values[2] > values[3] == 0.0
    assert stats.batches[0].values["alignment"] == values
    assert stats.batches[0].groups == [0, 0, 0, 0]
    assert stats.failures["alignment"] == 0


def test_a_failed_judge_gives_zero_and_is_counted(embedding):
    stats = RewardStats()
    values = trl_call(
        alignment_reward(unreachable_judge(), stats=stats), [GOOD, GOOD], [REFERENCE] * 2
    )
    assert values == [0.0, 0.0]
    assert stats.failures["alignment"] == 2 and stats.failure_kinds["alignment/judge_error"] == 2
    # a bad row (no reference column, or an unusable reference) fails alone
    stats = RewardStats()
    fn = alignment_reward(embedding, stats=stats)
    values = trl_call(fn, [REFERENCE, REFERENCE], [REFERENCE, {"pose": "only one key"}])
    assert values[0] == pytest.approx(1.0, abs=1e-5) and values[1] == 0.0
    assert stats.failures["alignment"] == 1
    missing = fn(prompts=["p"], completions=[GOOD])
    assert missing == [0.0] and stats.failures_total["alignment"] == 2


# --------------------------------------------------------------------------- creativity
def test_creativity_reward_orders_hand_built_plans():
    stats = RewardStats()
    fn = creativity_reward(RulesJudge(), stats=stats, use_group=False)
    texts = [GOOD, GENERIC, COLOUR_ONLY, ALL_NO_CHANGE, NEW_OBJECT]
    values = trl_call(fn, texts, [REFERENCE] * 5)
    assert values[0] > values[1] > values[2] > values[3] == 0.0
    assert values[4] == 0.0
    assert fn.__name__ == "creativity" and fn.judge.name == "rules"


def test_creativity_novelty_sees_the_group():
    fn = creativity_reward(RulesJudge(), group_size=2)
    prompts = [f"photo {i // 2}" for i in range(4)]  # two groups of two, plain-text prompts
    same = trl_call(fn, [GOOD, GOOD, GOOD, GENERIC], [REFERENCE] * 4, prompts=prompts,
                    conversational=False, image=False)  # fmt: skip
    assert same[0] == same[1] < same[2]  # a copy of its neighbour earns no novelty


def test_creativity_photo_comes_from_the_column_or_the_prompt():
    from aesformer.rewards.functions import sample_images

    prompt = [
        {
            "role": "user",
            "content": [{"type": "image", "image": PHOTO}, {"type": "text", "text": "x"}],
        }
    ]
    assert sample_images(0, [prompt], {}) == [PHOTO]
    assert sample_images(0, ["x"], {"images": [[PHOTO, PHOTO]]}) == [PHOTO, PHOTO]
    assert sample_images(0, ["x"], {"image": [PHOTO]}) == [PHOTO]
    assert sample_images(0, ["x"], {}) == []


# --------------------------------------------------------------------------- groups and stats
def test_group_ids_are_runs_of_one_prompt_cut_at_the_group_size():
    prompts = ["a", "a", "a", "a", "b", "b", "a", "a"]
    assert group_ids(prompts, {}, None, "reference_plan") == [0, 0, 0, 0, 1, 1, 2, 2]
    assert group_ids(prompts, {}, 2, "reference_plan") == [0, 0, 1, 1, 2, 2, 3, 3]
    refs = {"reference_plan": ["r1", "r1", "r2", "r2"]}
    assert group_ids(["p"] * 4, refs, None, "reference_plan") == [0, 0, 1, 1]


def test_stats_summary_rows_and_flush(embedding):
    stats = RewardStats()
    funcs, weights = build_rewards(
        RewardsConfig(), stats, group_size=2, judges={"alignment": embedding}
    )
    assert [f.__name__ for f in funcs] == ["format", "alignment", "creativity"]
    assert weights == [0.1, 0.5, 0.4] and stats.weights == {
        "format": 0.1,
        "alignment": 0.5,
        "creativity": 0.4,
    }
    texts = [GOOD, MALFORMED, REFERENCE, REFERENCE]
    prompts = ["photo 0", "photo 0", "photo 1", "photo 1"]
    per_func = [trl_call(f, texts, [REFERENCE] * 4, prompts=prompts) for f in funcs]
    metrics = stats.summary()
    assert metrics["reward/format/mean"] == pytest.approx(0.75)
    assert metrics["reward/format/group_std"] == pytest.approx((math.sqrt(0.5) + 0.0) / 2)
    assert metrics["reward/format/frac_zero_std_groups"] == pytest.approx(0.5)
    totals = [sum(w * v[i] for w, v in zip(weights, per_func, strict=True)) for i in range(4)]
    assert metrics["reward/total/mean"] == pytest.approx(sum(totals) / 4)
    assert metrics["reward/alignment/failures"] == 0.0
    rows = stats.rows()
    assert len(rows) == 4 and rows[0]["completion"] == GOOD and rows[2]["group"] == 1
    assert rows[1]["reward"] == pytest.approx(totals[1])
    assert {"prompt", "format", "alignment", "creativity"} <= set(rows[0])
    # a second TRL step opens a new batch; flush returns both and clears the step
    trl_call(funcs[0], texts[:2], [REFERENCE] * 2, prompts=prompts[:2])
    metrics, rows = stats.flush(limit=5)
    assert len(rows) == 5 and not stats.pending
    assert "reward/total/mean" in metrics  # from the complete first batch


def test_two_logit_judges_share_one_instance():
    cfg = RewardsConfig.model_validate(
        {"alignment_judge": "logit", "creativity_judge": "logit", "logit": {"transport": "openai"}}
    )
    funcs, _ = build_rewards(cfg, RewardStats())
    assert funcs[1].judge is funcs[2].judge and isinstance(funcs[1].judge, LogitJudge)


def test_plans_round_trip_through_reference_columns():
    from aesformer.rewards.functions import reference_text

    plan = parse(REFERENCE).plan
    assert reference_text(plan) == reference_text(plan.to_dict()) == REFERENCE
    assert isinstance(plan, Plan)

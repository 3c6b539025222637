"""GRPO-A rewards of AesThinker and their judges (docs/thinker.md#rewards-and-judges).

Public API::

    build_rewards(cfg.rewards, stats, group_size=G) -> (reward_funcs, reward_weights)
    format_reward, alignment_reward(judge), creativity_reward(judge)   # TRL reward functions
    RewardStats                                                        # per-step values, failures
    RewardLoggingCallback(stats), log_reward_step(stats, step)         # MLflow (reporting)
    Judge, JudgeError, LogitJudge, TransformersTransport, OpenAICompatibleTransport,
    EmbeddingJudge, RulesJudge, build_judge(cfg.rewards, component)
    expected_digit_score(values_by_token)                              # the logit judge's math
    AlignmentRequest, CreativityRequest                                # the rubric prompts
"""

from typing import Any

from aesformer.rewards.embedding import EmbeddingJudge
from aesformer.rewards.functions import (
    COMPONENTS,
    RewardStats,
    alignment_reward,
    build_judge,
    build_rewards,
    completion_text,
    creativity_reward,
    format_reward,
    group_ids,
    with_stats,
)
from aesformer.rewards.judges import (
    DIGITS,
    Judge,
    JudgeError,
    LogitJudge,
    OpenAICompatibleTransport,
    TransformersTransport,
    expected_digit_score,
)
from aesformer.rewards.rubrics import AlignmentRequest, CreativityRequest
from aesformer.rewards.rules import RulesJudge

_REPORTING = ("RewardLoggingCallback", "log_completions_table", "log_reward_step")


def __getattr__(name: str) -> Any:  # reporting imports mlflow + transformers: load on demand
    if name in _REPORTING:
        from aesformer.rewards import reporting

        return getattr(reporting, name)
    raise AttributeError(name)


__all__ = [
    "COMPONENTS",
    "DIGITS",
    "AlignmentRequest",
    "CreativityRequest",
    "EmbeddingJudge",
    "Judge",
    "JudgeError",
    "LogitJudge",
    "OpenAICompatibleTransport",
    "RewardLoggingCallback",
    "RewardStats",
    "RulesJudge",
    "TransformersTransport",
    "alignment_reward",
    "build_judge",
    "build_rewards",
    "completion_text",
    "creativity_reward",
    "expected_digit_score",
    "format_reward",
    "group_ids",
    "log_completions_table",
    "log_reward_step",
    "with_stats",
]

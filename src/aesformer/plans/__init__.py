"""The seven-dimension editing plan shared by every stage that writes or reads plans.

Public API::

    DIMENSIONS, TAGS, NO_CHANGE        # the schema (aesformer.plans.schema)
    Plan, render(plan) -> str          # structured plan -> tagged text
    parse(text) -> ParseResult         # tagged text -> Plan or problems (never raises)
    format_ok(text) -> bool            # the format reward's strict check
    PLANNER_PROMPT, PLANNER_INSTRUCTION  # the planner instruction (aesformer.plans.prompt)

The format is described in ``docs/annotate.md``.
"""

from aesformer.plans.prompt import PLANNER_INSTRUCTION, PLANNER_PROMPT, format_instructions
from aesformer.plans.schema import (
    BY_KEY,
    BY_TAG,
    DIMENSION_KEYS,
    DIMENSIONS,
    NO_CHANGE,
    TAGS,
    Dimension,
    ParseResult,
    Plan,
    Problem,
    ProblemCode,
    format_ok,
    invalid_action_reason,
    parse,
    plan_problem,
    render,
)

__all__ = [
    "BY_KEY",
    "BY_TAG",
    "DIMENSIONS",
    "DIMENSION_KEYS",
    "NO_CHANGE",
    "PLANNER_INSTRUCTION",
    "PLANNER_PROMPT",
    "TAGS",
    "Dimension",
    "ParseResult",
    "Plan",
    "Problem",
    "ProblemCode",
    "format_instructions",
    "format_ok",
    "invalid_action_reason",
    "parse",
    "plan_problem",
    "render",
]

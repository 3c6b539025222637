"""The planner instruction: the task and an output layout that is itself a valid plan."""

from __future__ import annotations

import re

import pytest

from aesformer.plans import DIMENSIONS, PLANNER_INSTRUCTION, PLANNER_PROMPT, format_ok, parse

pytestmark = pytest.mark.unit


def test_instruction_states_the_constraints():
    text = PLANNER_PROMPT.lower()
    assert "never add" in text and "identity" in text and "composition" in text


def test_layout_in_the_instruction_is_a_well_formed_plan_in_order():
    layout = PLANNER_INSTRUCTION.split("nothing else", 1)[1].split(":\n", 1)[1]
    assert format_ok(layout)
    assert parse(layout).plan.pose == "..."
    positions = [PLANNER_INSTRUCTION.index(d.header) for d in DIMENSIONS]
    assert positions == sorted(positions)
    assert len(re.findall(r"\(\d\) ", PLANNER_INSTRUCTION)) == 7

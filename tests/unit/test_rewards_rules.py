"""Judge ``rules`` (creativity): hand-built plans land in the expected order, with reasons."""

from __future__ import annotations

import pytest

from aesformer.config import RulesJudgeConfig
from aesformer.plans import NO_CHANGE, Plan, render
from aesformer.rewards.judges import JudgeError
from aesformer.rewards.rubrics import AlignmentRequest, CreativityRequest
from aesformer.rewards.rules import RulesJudge, action_features, new_object, novelty

pytestmark = pytest.mark.unit


def plan(**actions: str) -> str:
    """A rendered plan: the given actions, "No change needed" elsewhere."""
    keys = ("aspect_ratio", "composition", "camera", "position", "pose", "focus", "color")
    return render(Plan(**{k: actions.get(k, NO_CHANGE) for k in keys}))


#: Specific structural edits in five dimensions (the paper's example actions).
GOOD = plan(
    aspect_ratio="Use a vertical 3:4 portrait ratio",
    composition="Frame tighter, about 1.4x closer, and rotate 5° clockwise to level the horizon",
    camera="Simulate stepping back, with the camera around chest height",
    position="Shift the subject toward the lower-right third",
    pose="Raise the right arm straight up and turn the chin slightly left",
    focus="Keep the subject sharp, with only mild background softening",
    color="Slightly raise exposure, cool the overall tone",
)
#: Two specific structural edits, the rest unchanged (a typical ground-truth plan).
FOCUSED = plan(
    aspect_ratio="Use a vertical 3:4 portrait ratio",
    position="Shift the subject toward the lower-right third",
)
#: Every dimension "changed", none concretely.
GENERIC = plan(
    aspect_ratio="Use a better ratio",
    composition="Improve the composition",
    camera="Adjust the camera for a nicer view",
    position="Place the subject better",
    pose="Make the pose more natural",
    focus="Enhance the focus",
    color="Make the colors more appealing",
)
COLOUR_ONLY = plan(
    focus="Keep the subject sharp and blur the background",
    color="Raise exposure by 10%, warm the overall tone",
)
ALL_NO_CHANGE = plan()
NEW_OBJECT = plan(
    aspect_ratio="Use a vertical 3:4 portrait ratio",
    composition="Frame tighter, about 1.4x closer",
    position="Shift the subject toward the lower-right third",
    pose="Add a straw hat and raise the right arm",
)
MALFORMED = "Sure! Move the camera down and to the left, and ask her to raise her arm."


@pytest.fixture
def judge() -> RulesJudge:
    return RulesJudge()


def test_expected_order_of_hand_built_plans(judge):
    scores = {
        name: judge.assess(text).score
        for name, text in [
            ("good", GOOD),
            ("focused", FOCUSED),
            ("generic", GENERIC),
            ("colour_only", COLOUR_ONLY),
            ("no_change", ALL_NO_CHANGE),
        ]
    }
    assert scores["good"] > scores["focused"] > scores["generic"]
    assert scores["generic"] > scores["colour_only"] > scores["no_change"] == 0.0
    assert scores["good"] >= 0.8


def test_caps_name_their_reason(judge):
    assert judge.assess(GOOD).caps == ()
    assert judge.assess(GENERIC).caps == ("generic",)
    assert judge.assess(COLOUR_ONLY).caps == ("no_structural_edit",)
    assert judge.assess(ALL_NO_CHANGE).caps == ("no_structural_edit",)
    timid = plan(pose="Raise the right arm straight up, turn the chin 10 degrees left")
    assert judge.assess(timid).caps == ("timid",)
    assert all(judge.assess(t).score <= 0.4 for t in (GENERIC, COLOUR_ONLY, timid))


def test_cap_is_the_configured_ceiling():
    strict = RulesJudge(RulesJudgeConfig(cap=0.05))
    assert strict.assess(GENERIC).score == pytest.approx(0.05)
    assert strict.assess(GOOD).score == RulesJudge().assess(GOOD).score


def test_new_object_scores_zero_and_says_where(judge):
    result = judge.assess(NEW_OBJECT)
    assert result.score == 0.0 and result.caps == ("new_object",)
    assert result.new_object == "pose: add a straw hat"


@pytest.mark.parametrize(
    "action",
    [
        "Add a hat",
        "Place a lamp behind her",
        "Insert a bird into the sky",
        "Have her hold a bouquet of roses",
        "Add flowers to the foreground",
        "Add a gazebo on the right",  # an unknown noun after "add a": still a new element
        "Introduce another person beside her",
        "Put a pair of sunglasses on her",
    ],
)
def test_new_object_phrases(action):
    assert new_object(action)


@pytest.mark.parametrize(
    "action",
    [
        "Add a slight tilt",
        "Add some negative space on the left",
        "Add a gentle vignette",
        "Add more headroom above the head",
        "Add warmth",
        "Place the subject at the left third",
        "Put her hands in her pockets",
        "Include more of the background",
        "Hold the cup closer to the chin",
    ],
)
def test_photographic_additions_are_allowed(action):
    assert new_object(action) is None


def test_action_features():
    f = action_features("Rotate 5° clockwise to level the horizon")
    assert (f.quantity, f.direction, f.part, f.colour_only) == (True, True, True, False)
    assert f.specificity == pytest.approx(1.0)
    assert action_features("Improve the composition").specificity == pytest.approx(0.1)
    assert action_features("no change needed.").changed is False
    assert action_features("Make it brighter and warmer").colour_only
    assert not action_features("Raise the right arm").colour_only


def test_a_colour_action_in_a_structural_dimension_is_not_structural(judge):
    disguised = plan(composition="Make it brighter and warmer", camera="Cool the tone")
    assert judge.assess(disguised).caps == ("no_structural_edit",)


def test_novelty_is_a_small_bonus_against_the_group(judge):
    assert novelty({"pose": "Raise the right arm"}, []) == 0.0
    assert novelty({"pose": "Raise the right arm"}, [{"pose": "Raise the right arm"}]) == 0.0
    assert novelty({"pose": "Raise the right arm"}, [{"pose": "Lower the chin"}]) == 1.0
    same = judge.assess(GOOD, [GOOD]).score
    unlike = judge.assess(GOOD, [FOCUSED]).score
    assert same < unlike <= same + RulesJudgeConfig().novelty_bonus + 1e-9


def test_malformed_text_scores_from_what_parses(judge):
    assert judge.assess(MALFORMED).score == 0.0  # no tagged action at all
    partial = GOOD.split("\n(6)")[0]  # five well-formed dimensions, two missing
    assert judge.assess(partial).score > judge.assess(GENERIC).score


def test_score_reads_the_creativity_prompt(judge):
    prompt = CreativityRequest(GOOD, (FOCUSED,)).prompt()
    assert judge.score([], prompt) == judge.assess(GOOD, [FOCUSED]).score
    with pytest.raises(JudgeError):
        judge.score([], AlignmentRequest(GOOD, GOOD).prompt())


def test_weights_must_leave_room_for_structure():
    with pytest.raises(ValueError, match="below 1"):
        RulesJudgeConfig(refinement_weight=0.5, novelty_bonus=0.5)

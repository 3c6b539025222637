"""The plan schema: dimensions, render/parse round trip, every problem code, format_ok."""

from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from aesformer.plans import (
    DIMENSION_KEYS,
    DIMENSIONS,
    TAGS,
    Plan,
    ProblemCode,
    format_ok,
    parse,
    render,
)

pytestmark = pytest.mark.unit

HEADERS = [
    "(1) Aspect Ratio:",
    "(2) Framing and Composition:",
    "(3) Camera Position and Viewpoint:",
    "(4) Subject Position:",
    "(5) Subject Pose and Action Details:",
    "(6) Depth of Field and Focus Control:",
    "(7) Color and Lighting Adjustment:",
]
TAG_NAMES = ["Ratio", "Composition", "Camera", "Position", "Pose", "Focus", "Color"]
#: Characters random actions are drawn from: letters, digits, punctuation (including < > / :
#: and parentheses), accents, CJK, emoji, spaces and line breaks.
ALPHABET = "abcXYZ019 .,;:!?()[]{}<>/\\'\"-–—°%&*+=#@~^`|éüñßçøΩπ中文字日本語😀🎞️\n\t"


def example() -> Plan:
    return Plan(
        aspect_ratio="Use a vertical 3:4 portrait ratio",
        composition="Frame tighter, about 1.4x closer",
        camera="Simulate stepping back, with the camera around chest height",
        position="Shift the subject toward the lower-right third",
        pose="Raise the right arm straight up",
        focus="Keep the subject focused, with only mild background softening",
        color="Slightly raise exposure, cool the overall tone",
    )


def random_action(rng: random.Random) -> str:
    while True:
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 40))).strip()
        try:
            Plan(**dict.fromkeys(DIMENSION_KEYS, text))
        except ValidationError:
            continue  # empty, or a tag-like token such as "<b>" happened to be drawn
        return text


def test_dimensions_match_the_paper_headers_and_tags_in_order():
    assert [d.header for d in DIMENSIONS] == HEADERS
    assert [d.tag for d in DIMENSIONS] == TAG_NAMES
    assert [d.index for d in DIMENSIONS] == list(range(1, 8))
    assert tuple(t for n in TAG_NAMES for t in (f"<{n}>", f"</{n}>")) == TAGS


def test_tags_agree_with_the_tokenizer_special_tokens():
    from aesformer.zoo.tokenizer import PLAN_TAGS

    assert PLAN_TAGS == TAGS


def test_render_writes_one_tagged_line_per_dimension():
    text = render(example())
    lines = text.split("\n")
    assert lines[0] == "(1) Aspect Ratio: <Ratio>Use a vertical 3:4 portrait ratio</Ratio>"
    assert lines[6] == (
        "(7) Color and Lighting Adjustment: <Color>Slightly raise exposure, cool the overall"
        " tone</Color>"
    )
    assert len(lines) == 7 and not text.endswith("\n")


def test_round_trip_is_lossless_over_many_random_plans():
    rng = random.Random(7)
    for _ in range(400):
        plan = Plan(**{k: random_action(rng) for k in DIMENSION_KEYS})
        result = parse(render(plan))
        assert result.problems == ()
        assert result.plan == plan
        assert render(result.plan) == render(plan)


def test_parse_tolerates_surrounding_whitespace_and_spacing():
    text = "\n  " + render(example()).replace(": <", ":\n   <") + "\n\n"
    assert parse(text).plan == example()


def test_plan_rejects_empty_and_tag_like_actions_and_strips():
    with pytest.raises(ValidationError, match="empty action"):
        Plan(**{**example().to_dict(), "pose": "   "})
    with pytest.raises(ValidationError, match="tag-like token"):
        Plan(**{**example().to_dict(), "pose": "raise <b>both</b> arms"})
    assert Plan(**{**example().to_dict(), "pose": "  Raise the arm \n"}).pose == "Raise the arm"
    assert Plan.from_dict(example().to_dict()) == example()
    assert list(example().to_dict()) == list(DIMENSION_KEYS)


def codes(text: str) -> list[tuple[ProblemCode, str | None]]:
    result = parse(text)
    assert result.plan is None and not format_ok(text)
    return [(p.code, p.dimension) for p in result.problems]


def test_missing_dimension():
    lines = render(example()).split("\n")
    del lines[4]
    assert codes("\n".join(lines)) == [(ProblemCode.MISSING, "pose")]


def test_header_without_tags_is_missing_with_a_hint():
    text = render(example()).replace("<Pose>", "").replace("</Pose>", "")
    result = parse(text)
    assert (ProblemCode.MISSING, "pose") in [(p.code, p.dimension) for p in result.problems]
    assert "header present without tags" in result.describe()


def test_out_of_order_dimensions():
    lines = render(example()).split("\n")
    lines[1], lines[2] = lines[2], lines[1]
    assert codes("\n".join(lines)) == [(ProblemCode.OUT_OF_ORDER, "composition")]


def test_duplicate_dimension():
    lines = render(example()).split("\n")
    lines.insert(4, lines[3])
    assert codes("\n".join(lines)) == [(ProblemCode.DUPLICATE, "position")]


def test_empty_action():
    text = render(example()).replace(
        "<Focus>Keep the subject focused, with only mild background softening</Focus>",
        "<Focus>  </Focus>",
    )
    assert codes(text) == [(ProblemCode.EMPTY_ACTION, "focus")]


def test_unknown_tag_inside_an_action():
    text = render(example()).replace("Raise the right", "Raise the <b>right</b>")
    assert codes(text) == [(ProblemCode.UNKNOWN_TAG, "pose"), (ProblemCode.UNKNOWN_TAG, "pose")]


@pytest.mark.parametrize(
    ("old", "new", "dimension"),
    [
        ("</Camera>", "", "camera"),  # unclosed, next tag opens
        ("</Color>", "", "color"),  # unclosed at the end
        ("</Pose>", "</Focus>", "pose"),  # closed by the wrong tag
    ],
)
def test_unbalanced_tags(old, new, dimension):
    found = codes(render(example()).replace(old, new))
    assert (ProblemCode.UNBALANCED_TAG, dimension) in found


def test_closing_tag_without_opening():
    text = render(example()) + "\n</Ratio>"
    assert codes(text) == [(ProblemCode.UNBALANCED_TAG, "aspect_ratio")]


def test_wrong_header_and_stray_text():
    text = render(example()).replace("(4) Subject Position:", "(4) Subject Placement:")
    assert codes(text) == [(ProblemCode.BAD_HEADER, "position")]
    assert codes("Here is the plan:\n" + render(example())) == [
        (ProblemCode.BAD_HEADER, "aspect_ratio")
    ]
    assert codes(render(example()) + "\nHope this helps!") == [(ProblemCode.STRAY_TEXT, None)]


def test_format_ok_needs_all_seven_headers_in_order():
    assert format_ok(render(example()))
    assert not format_ok("")
    assert not format_ok("\n".join(f"{h} something" for h in HEADERS))  # headers, no tags
    assert not format_ok(render(example()).replace("(3) Camera", "(3)  Camera"))


def test_partial_actions_are_kept_when_there_are_problems():
    lines = render(example()).split("\n")
    result = parse("\n".join(lines[:3]))
    assert result.plan is None
    assert list(result.actions) == ["aspect_ratio", "composition", "camera"]


def test_parse_never_raises_on_mangled_text():
    rng = random.Random(3)
    base = render(example())
    pieces = [*TAGS, *HEADERS, "<", ">", "</", "\n", "<x>", "(9) Extra:", "", "é"]
    for _ in range(500):
        chars = list(base)
        for _ in range(rng.randint(1, 6)):
            i = rng.randrange(len(chars))
            op = rng.random()
            if op < 0.4:
                del chars[i : i + rng.randint(1, 20)]
            elif op < 0.8:
                chars.insert(i, rng.choice(pieces))
            else:
                chars[i] = rng.choice(ALPHABET)
        text = "".join(chars)
        result = parse(text)
        assert (result.plan is None) == bool(result.problems)
        if result.plan is not None:
            assert parse(render(result.plan)).plan == result.plan
    assert parse(None).plan is None  # type: ignore[arg-type]

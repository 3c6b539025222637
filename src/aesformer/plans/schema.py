"""The seven-dimension editing plan: its dimensions, the tagged text format, parser and renderer.

Every stage that writes or reads plans (``annotate``, the GRPO rewards, evaluation, inference)
goes through this module, so there is exactly one definition of the format.

Text format (what AesThinker emits and :func:`render` writes)::

    (1) Aspect Ratio: <Ratio>Use a vertical 3:4 portrait ratio</Ratio>
    (2) Framing and Composition: <Composition>Frame tighter ...</Composition>
    ...
    (7) Color and Lighting Adjustment: <Color>Slightly raise exposure</Color>

One line per dimension, in the order of :data:`DIMENSIONS`: the header, one space, the opening
tag, the action, the closing tag; lines joined by ``\\n`` with no trailing newline. The action
is free text (any Unicode, punctuation, even line breaks) with no surrounding whitespace and
no tag-like token ``<Name>`` / ``</Name>`` (the 14 plan tags are single special tokens of the
tokenizer, so they cannot occur inside an action).

:func:`parse` never raises on model text: it returns a :class:`ParseResult` holding either a
:class:`Plan` or the list of :class:`Problem` s found. :func:`format_ok` is the strict check of
the format reward: true exactly when :func:`parse` finds no problem.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, field_validator


@dataclass(frozen=True)
class Dimension:
    """One plan dimension: its position (1-based), field key, header, tag name and group."""

    index: int
    key: str
    header: str
    tag: str
    group: str

    @property
    def open_tag(self) -> str:
        return f"<{self.tag}>"

    @property
    def close_tag(self) -> str:
        return f"</{self.tag}>"


#: The seven dimensions in plan order (headers and tags exactly as in the paper's format reward).
DIMENSIONS: tuple[Dimension, ...] = (
    Dimension(1, "aspect_ratio", "(1) Aspect Ratio:", "Ratio", "scene layout"),
    Dimension(2, "composition", "(2) Framing and Composition:", "Composition", "scene layout"),
    Dimension(3, "camera", "(3) Camera Position and Viewpoint:", "Camera", "scene layout"),
    Dimension(4, "position", "(4) Subject Position:", "Position", "subject arrangement"),
    Dimension(5, "pose", "(5) Subject Pose and Action Details:", "Pose", "subject arrangement"),
    Dimension(6, "focus", "(6) Depth of Field and Focus Control:", "Focus", "photo refinement"),
    Dimension(7, "color", "(7) Color and Lighting Adjustment:", "Color", "photo refinement"),
)
DIMENSION_KEYS: tuple[str, ...] = tuple(d.key for d in DIMENSIONS)
BY_KEY: dict[str, Dimension] = {d.key: d for d in DIMENSIONS}
BY_TAG: dict[str, Dimension] = {d.tag: d for d in DIMENSIONS}
#: The 14 tags, opening then closing per dimension (added to the tokenizer as single tokens).
TAGS: tuple[str, ...] = tuple(t for d in DIMENSIONS for t in (d.open_tag, d.close_tag))
#: The action written where nothing changes in a dimension.
NO_CHANGE = "No change needed"

#: Any tag-like token: ``<Name>`` or ``</Name>`` (a letter, then letters, digits, ``_`` or ``-``).
TAG_RE = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9_-]*)>")


class ProblemCode(StrEnum):
    """What can be wrong with a plan text (``Problem.code``)."""

    MISSING = "missing"  # a dimension has no tagged action
    OUT_OF_ORDER = "out_of_order"  # a dimension comes after a later one
    DUPLICATE = "duplicate"  # a dimension's tagged action occurs twice
    EMPTY_ACTION = "empty_action"  # <Tag></Tag> with only whitespace inside
    UNKNOWN_TAG = "unknown_tag"  # a tag-like token that is not one of the 14 plan tags
    UNBALANCED_TAG = "unbalanced_tag"  # unclosed, unopened, nested or mismatched plan tags
    BAD_HEADER = "bad_header"  # the text before a tagged action is not that dimension's header
    STRAY_TEXT = "stray_text"  # text after the last closing tag


@dataclass(frozen=True)
class Problem:
    """One defect found by :func:`parse`; ``dimension`` is a dimension key or ``None``."""

    code: ProblemCode
    dimension: str | None
    detail: str

    def __str__(self) -> str:
        where = f"{self.dimension}: " if self.dimension else ""
        return f"{self.code.value}: {where}{self.detail}"


def invalid_action_reason(action: str) -> str | None:
    """Why ``action`` (already stripped) cannot be a plan action, or ``None`` when it can."""
    if not action:
        return "empty action"
    token = TAG_RE.search(action)
    if token:
        return f"tag-like token {token.group(0)!r} inside the action"
    return None


class Plan(BaseModel):
    """One action string per dimension (stripped, non-empty, free of tag-like tokens)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    aspect_ratio: str
    composition: str
    camera: str
    position: str
    pose: str
    focus: str
    color: str

    @field_validator("*", mode="before")
    @classmethod
    def _valid_action(cls, value: object) -> object:
        if not isinstance(value, str):
            return value  # pydantic reports the type error
        value = value.strip()
        reason = invalid_action_reason(value)
        if reason:
            raise ValueError(reason)
        return value

    def to_dict(self) -> dict[str, str]:
        """``{dimension key: action}`` in plan order (the ``plan`` field of a pair record)."""
        return {key: getattr(self, key) for key in DIMENSION_KEYS}

    @classmethod
    def from_dict(cls, actions: Mapping[str, str]) -> Plan:
        """Build from ``{dimension key: action}``; unknown or missing keys are errors."""
        return cls(**dict(actions))

    def action(self, dimension: Dimension | str) -> str:
        """The action of a dimension (a :class:`Dimension` or its key)."""
        return getattr(self, dimension.key if isinstance(dimension, Dimension) else dimension)


@dataclass(frozen=True)
class ParseResult:
    """Outcome of :func:`parse`: ``plan`` when the text is well formed, else ``problems``.

    ``actions`` holds the first non-empty tagged action found per dimension even when there are
    problems (what a reward or validator may still inspect).
    """

    plan: Plan | None
    problems: tuple[Problem, ...] = ()
    actions: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.plan is not None

    def describe(self) -> str:
        """The problems, one per ``; `` separated item (empty when ok)."""
        return "; ".join(str(p) for p in self.problems)


def render(plan: Plan) -> str:
    """The tagged text of ``plan`` (the format described in the module docstring)."""
    return "\n".join(f"{d.header} {d.open_tag}{plan.action(d)}{d.close_tag}" for d in DIMENSIONS)


def _entries(text: str, problems: list[Problem]) -> list[tuple[Dimension, str, str]]:
    """Tokenise ``text`` into ``(dimension, header_text, action)`` entries, noting problems."""
    entries: list[tuple[Dimension, str, str]] = []
    open_dim: Dimension | None = None
    open_end = 0  # where the open action starts
    outside_start = 0  # where the text outside any action starts
    for token in TAG_RE.finditer(text):
        closing, name = token.group(1) == "/", token.group(2)
        dim = BY_TAG.get(name)
        if dim is None:
            problems.append(
                Problem(
                    ProblemCode.UNKNOWN_TAG,
                    open_dim.key if open_dim else None,
                    f"{token.group(0)!r} is not a plan tag",
                )
            )
            continue
        if open_dim is None:
            if closing:
                problems.append(
                    Problem(
                        ProblemCode.UNBALANCED_TAG, dim.key, f"{token.group(0)} without opening"
                    )
                )
                outside_start = token.end()
                continue
            header = text[outside_start : token.start()]
            open_dim, open_end = dim, token.end()
            entries.append((dim, header, ""))  # action filled in on closing
            continue
        if closing and dim is open_dim:
            entries[-1] = (dim, entries[-1][1], text[open_end : token.start()])
            open_dim, outside_start = None, token.end()
            continue
        problems.append(
            Problem(
                ProblemCode.UNBALANCED_TAG,
                open_dim.key,
                f"{open_dim.open_tag} not closed before {token.group(0)}",
            )
        )
        entries.pop()  # the unclosed action is dropped
        if closing:
            open_dim, outside_start = None, token.end()
        else:  # a new action starts here
            entries.append((dim, text[open_end : token.start()], ""))
            open_dim, open_end = dim, token.end()
    if open_dim is not None:
        problems.append(Problem(ProblemCode.UNBALANCED_TAG, open_dim.key, "not closed"))
        entries.pop()
    elif text[outside_start:].strip():
        problems.append(
            Problem(ProblemCode.STRAY_TEXT, None, f"{_clip(text[outside_start:])!r} after the plan")
        )
    return entries


def _clip(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def parse(text: str) -> ParseResult:
    """Parse model text into a :class:`Plan`; malformed text gives problems, never an exception.

    The text is well formed when it consists of exactly the seven entries, in order, each
    ``<header> <Tag>action</Tag>`` with only whitespace between entries and around the
    whole text, every action non-empty and free of tag-like tokens.
    """
    if not isinstance(text, str):
        return ParseResult(None, (Problem(ProblemCode.MISSING, None, "no text"),))
    problems: list[Problem] = []
    actions: dict[str, str] = {}
    seen: set[str] = set()
    highest = 0
    for dim, header, raw in _entries(text, problems):
        action = raw.strip()
        if header.strip() != dim.header:
            problems.append(
                Problem(
                    ProblemCode.BAD_HEADER,
                    dim.key,
                    f"expected {dim.header!r} before {dim.open_tag}, found {_clip(header)!r}",
                )
            )
        if dim.key in seen:
            problems.append(Problem(ProblemCode.DUPLICATE, dim.key, f"{dim.open_tag} repeated"))
            continue
        seen.add(dim.key)
        if dim.index < highest:
            problems.append(
                Problem(
                    ProblemCode.OUT_OF_ORDER, dim.key, f"{dim.header!r} after dimension {highest}"
                )
            )
        highest = max(highest, dim.index)
        if not action:
            problems.append(Problem(ProblemCode.EMPTY_ACTION, dim.key, "empty action"))
            continue
        actions[dim.key] = action
    for dim in DIMENSIONS:
        if dim.key not in seen:
            hint = " (header present without tags)" if dim.header in text else ""
            problems.append(
                Problem(ProblemCode.MISSING, dim.key, f"no {dim.open_tag} action{hint}")
            )
    if problems:
        return ParseResult(None, tuple(problems), actions)
    return ParseResult(Plan(**actions), (), actions)


def plan_problem(plan: Mapping[str, str] | None, plan_text: str) -> str | None:
    """Why a pair's ``plan`` / ``plan_text`` cannot be trained on, or ``None``: the text must
    parse (seven tagged dimensions in order, no stray or injected tags) and ``plan`` (when
    given) must hold the same actions, keyed in plan order. Used by ``split`` (per-pair
    rejects), the data-quality gate and the release export."""
    parsed = parse(plan_text)
    if parsed.plan is None:
        return f"plan_text does not parse: {parsed.describe()}"
    if plan is None:
        return None
    if list(plan) != list(DIMENSION_KEYS):
        return f"plan keys {list(plan)} are not the dimensions in plan order {list(DIMENSION_KEYS)}"
    if parsed.plan.to_dict() != dict(plan):
        return "plan differs from the parsed plan_text"
    return None


def format_ok(text: str) -> bool:
    """The format reward's check (strict): the text parses with no problem at all.

    That is: all seven headers present, each exactly once and in order, each followed by its
    own tag pair around a non-empty action, no other tag-like tokens and no other text.
    """
    return parse(text).ok

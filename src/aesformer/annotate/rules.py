"""What a plan must say, given the measurements, and the validator that checks it.

:func:`expectations` turns :class:`~aesformer.annotate.measure.Measurements` into one
:class:`Expectation` per plan dimension: whether it changed (a measure beyond its tolerance in
``AnnotateConfig``) and the direction *cues* a correct action must not contradict. The
geometric teacher writes its actions from these; :func:`validate` checks any teacher's text
against them. The rules (documented in ``docs/annotate.md``):

1. ``format`` — the text parses (:func:`aesformer.plans.parse`) with no problem;
2. ``missed_change`` — a dimension that changed has a no-change action;
3. ``invented_change`` — a measured dimension that did not change has an action that is not a
   no-change action (not applied to the pose, which is not measured from pixels);
4. ``wrong_direction`` — an action of a changed dimension uses a word of the opposite direction
   of a cue and no word of the expected one (``counter-clockwise`` where the picture turns
   clockwise, ``wider`` where the framing got tighter, ``cool`` where it got warmer ...).

A no-change action starts with ``No change`` / ``No adjustment`` / ``None`` / ``Unchanged`` /
``Nothing to change``, ``Leave ... as is`` / ``unchanged``, ``Keep the current|original|existing
...`` or ``Keep ... as is`` / ``unchanged`` / ``the same``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from enum import StrEnum

from aesformer.annotate.measure import Measurements
from aesformer.config import AnnotateConfig
from aesformer.plans import DIMENSION_KEYS, Plan, parse

NO_CHANGE_RE = re.compile(
    r"^\s*(no (change|adjustment|edit)s?\b|none\b|unchanged\b|nothing to (change|adjust)\b"
    r"|leave\b.*\b(as is|unchanged)\b|keep (it |the )?(current|original|existing)\b"
    r"|keep\b.*\b(as is|unchanged|the same)\b)",
    re.IGNORECASE,
)


def _words(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


CLOCKWISE = _words(r"(?<!-)\bclockwise\b")
COUNTER_CLOCKWISE = _words(r"\b(counter-?clockwise|anti-?clockwise)\b")
RIGHT = _words(r"\bright\b")
LEFT = _words(r"\bleft\b")
DOWN = _words(r"\b(lower|low|down\w*|bottom|below|crouch\w*|squat\w*)\b")
UP = _words(r"\b(raise\w*|higher|high|upper|up|top|above|overhead)\b")
TIGHTER = _words(r"\b(tight\w*|closer|nearer|crop\w*|zoom(ing)? in|fill\w*|close-up)\b")
WIDER = _words(
    r"\b(wide\w*|step(ping)? back|back up|zoom(ing)? out|farther|further away|loose\w*"
    r"|more of the scene)\b"
)
SHALLOWER = _words(r"\b(blur\w*|soft\w*|shallow\w*|bokeh|defocus\w*|portrait mode)\b")
DEEPER = _words(r"\b(deep\w*|sharpen\w*|sharper|in focus|smaller aperture)\b")
BRIGHTER = _words(r"\b(raise|increase|brighten\w*|brighter|lift|boost|overexpos\w*)\b")
DARKER = _words(r"\b(lower|reduce|decrease|darken\w*|darker|dim\w*|underexpos\w*)\b")
WARMER = _words(r"\bwarm\w*\b")
COOLER = _words(r"\b(cool\w*|cold\w*|blu(e|er|ish))\b")
MAGENTA = _words(r"\b(magenta|pink\w*|purpl\w*)\b")
GREEN = _words(r"\bgreen\w*\b")
VERTICAL = _words(r"\b(vertical|portrait|upright|tall)\b")
HORIZONTAL = _words(r"\b(horizontal|landscape)\b")


class Rule(StrEnum):
    """Validation rule codes (``Issue.rule``)."""

    FORMAT = "format"
    MISSED_CHANGE = "missed_change"
    INVENTED_CHANGE = "invented_change"
    WRONG_DIRECTION = "wrong_direction"


@dataclass(frozen=True)
class Cue:
    """A direction the action must not contradict: ``expected`` words vs ``opposite`` ones."""

    name: str
    expected: str
    pattern: re.Pattern[str]
    opposite: re.Pattern[str]


@dataclass(frozen=True)
class Expectation:
    """What one dimension's action must express; ``measured`` false: unchanged not enforced."""

    changed: bool
    evidence: str = ""
    cues: tuple[Cue, ...] = ()
    measured: bool = True


@dataclass(frozen=True)
class Issue:
    """One failed rule for one dimension (``dimension`` None for the format rule)."""

    rule: Rule
    dimension: str | None
    detail: str

    def __str__(self) -> str:
        where = f"{self.dimension}: " if self.dimension else ""
        return f"{self.rule.value}: {where}{self.detail}"


@dataclass(frozen=True)
class Verdict:
    """Outcome of :func:`validate`: the plan when every rule holds, else the issues."""

    plan: Plan | None
    issues: tuple[Issue, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return self.plan is not None and not self.issues

    @property
    def reason(self) -> str:
        """Reject reason of a failed verdict: ``bad_format`` or ``inconsistent_plan``."""
        if any(i.rule is Rule.FORMAT for i in self.issues):
            return "bad_format"
        return "inconsistent_plan"

    def describe(self) -> str:
        return "; ".join(str(i) for i in self.issues)


def is_no_change(action: str) -> bool:
    """Whether an action states that nothing changes (see the module docstring)."""
    return bool(NO_CHANGE_RE.match(action))


def expectations(m: Measurements, cfg: AnnotateConfig) -> dict[str, Expectation]:
    """One :class:`Expectation` per dimension key, in plan order."""
    out: dict[str, Expectation] = {}

    ratio_cues: list[Cue] = []
    if m.good_orientation == "vertical" and m.poor_orientation != "vertical":
        ratio_cues.append(Cue("orientation", "vertical", VERTICAL, HORIZONTAL))
    elif m.good_orientation == "horizontal" and m.poor_orientation != "horizontal":
        ratio_cues.append(Cue("orientation", "horizontal", HORIZONTAL, VERTICAL))
    out["aspect_ratio"] = Expectation(
        abs(m.aspect_change) > cfg.aspect_tolerance,
        f"width/height {m.poor_size[0] / m.poor_size[1]:.3f}"
        f" -> {m.good_size[0] / m.good_size[1]:.3f}",
        tuple(ratio_cues),
    )

    comp: list[Cue] = []
    zoomed = abs(_ln(m.zoom)) > cfg.zoom_tolerance
    if zoomed:
        comp.append(
            Cue("zoom", "tighter", TIGHTER, WIDER)
            if m.zoom > 1
            else Cue("zoom", "wider", WIDER, TIGHTER)
        )
    rotated = abs(m.rotation_deg) > cfg.rotation_tolerance_deg
    if rotated:
        comp.append(
            Cue("rotation", "clockwise", CLOCKWISE, COUNTER_CLOCKWISE)
            if m.rotation_deg > 0
            else Cue("rotation", "counter-clockwise", COUNTER_CLOCKWISE, CLOCKWISE)
        )
    out["composition"] = Expectation(
        zoomed or rotated,
        f"zoom {m.zoom:.2f}x, picture rotation {m.rotation_deg:+.1f} deg (clockwise +)",
        tuple(comp),
    )

    cam: list[Cue] = []
    if abs(m.keystone_x) > cfg.perspective_tolerance:
        cam.append(
            Cue("viewpoint_x", "right", RIGHT, LEFT)
            if m.keystone_x > 0
            else Cue("viewpoint_x", "left", LEFT, RIGHT)
        )
    if abs(m.keystone_y) > cfg.perspective_tolerance:
        cam.append(
            Cue("viewpoint_y", "lower", DOWN, UP)
            if m.keystone_y > 0
            else Cue("viewpoint_y", "higher", UP, DOWN)
        )
    out["camera"] = Expectation(
        bool(cam),
        f"keystone right/left {m.keystone_x:+.3f}, bottom/top {m.keystone_y:+.3f} (ln)",
        tuple(cam),
    )

    dx = m.subject_good[0] - m.subject_poor[0]
    dy = m.subject_good[1] - m.subject_poor[1]
    pos: list[Cue] = []
    if abs(dx) > cfg.position_tolerance:
        pos.append(
            Cue("shift_x", "right", RIGHT, LEFT) if dx > 0 else Cue("shift_x", "left", LEFT, RIGHT)
        )
    if abs(dy) > cfg.position_tolerance:
        pos.append(
            Cue("shift_y", "lower", DOWN, UP) if dy > 0 else Cue("shift_y", "higher", UP, DOWN)
        )
    out["position"] = Expectation(
        bool(pos),
        f"subject at ({m.subject_poor[0]:.2f}, {m.subject_poor[1]:.2f}) ->"
        f" ({m.subject_good[0]:.2f}, {m.subject_good[1]:.2f}) of the frame",
        tuple(pos),
    )

    out["pose"] = Expectation(
        m.pose is not None, f"narration: {m.pose}" if m.pose else "", measured=False
    )

    focus: list[Cue] = []
    if abs(m.focus_change) > cfg.focus_tolerance:
        focus.append(
            Cue("depth_of_field", "shallower", SHALLOWER, DEEPER)
            if m.focus_change < 0
            else Cue("depth_of_field", "deeper", DEEPER, SHALLOWER)
        )
    out["focus"] = Expectation(
        bool(focus), f"background/subject sharpness ln change {m.focus_change:+.2f}", tuple(focus)
    )

    d_l, d_a, d_b = m.delta_lab
    color: list[Cue] = []
    if abs(d_l) > cfg.exposure_tolerance:
        color.append(
            Cue("exposure", "brighter", BRIGHTER, DARKER)
            if d_l > 0
            else Cue("exposure", "darker", DARKER, BRIGHTER)
        )
    if abs(d_b) > cfg.tint_tolerance:
        color.append(
            Cue("warmth", "warmer", WARMER, COOLER)
            if d_b > 0
            else Cue("warmth", "cooler", COOLER, WARMER)
        )
    if abs(d_a) > cfg.tint_tolerance:
        color.append(
            Cue("tint", "magenta", MAGENTA, GREEN)
            if d_a > 0
            else Cue("tint", "green", GREEN, MAGENTA)
        )
    out["color"] = Expectation(
        bool(color), f"mean L*a*b* change ({d_l:+.1f}, {d_a:+.1f}, {d_b:+.1f})", tuple(color)
    )
    assert tuple(out) == DIMENSION_KEYS
    return out


def _ln(x: float) -> float:
    return math.log(max(x, 1e-9))


def validate(text: str, expected: dict[str, Expectation]) -> Verdict:
    """Check a plan text against the format and the expectations (rules in the module doc)."""
    parsed = parse(text)
    if parsed.plan is None:
        return Verdict(
            None,
            tuple(
                Issue(Rule.FORMAT, p.dimension, f"{p.code.value}: {p.detail}")
                for p in parsed.problems
            ),
        )
    issues: list[Issue] = []
    for key, exp in expected.items():
        action = parsed.plan.action(key)
        unchanged = is_no_change(action)
        if exp.changed and unchanged:
            issues.append(Issue(Rule.MISSED_CHANGE, key, f"says no change but {exp.evidence}"))
        elif not exp.changed and exp.measured and not unchanged:
            issues.append(Issue(Rule.INVENTED_CHANGE, key, f"proposes a change but {exp.evidence}"))
        elif exp.changed:
            for cue in exp.cues:
                if cue.opposite.search(action) and not cue.pattern.search(action):
                    issues.append(
                        Issue(
                            Rule.WRONG_DIRECTION,
                            key,
                            f"{cue.name} should be {cue.expected} ({exp.evidence})",
                        )
                    )
    return Verdict(None if issues else parsed.plan, tuple(issues))


def hints(expected: dict[str, Expectation]) -> str:
    """The measured changes as short lines (for a VLM teacher's prompt)."""
    lines = []
    for key, exp in expected.items():
        if exp.changed:
            directions = ", ".join(f"{c.name}: {c.expected}" for c in exp.cues)
            lines.append(f"- {key}: changed ({directions or exp.evidence})")
        elif exp.measured:
            lines.append(f"- {key}: no change measured")
    return "\n".join(lines)

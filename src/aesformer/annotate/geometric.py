"""The offline teacher: each dimension's action written from the measured changes.

Deterministic and free: the default of the embedded pipeline and the fallback when no VLM is
served. Actions name the direction and amount of each change (``Use a vertical 3:4 portrait
ratio``, ``Rotate 4° clockwise to level the horizon``, ``Shift the subject toward the
lower-right third``); a dimension that did not change gets :data:`~aesformer.plans.NO_CHANGE`.
The pose comes from the narration only (it is not measured from pixels).
"""

from __future__ import annotations

import math
from fractions import Fraction

from aesformer.annotate.measure import Measurements
from aesformer.annotate.rules import Expectation
from aesformer.annotate.teacher import PlanRequest
from aesformer.plans import NO_CHANGE, Plan, render

#: Bumped whenever the wording rules change (``teacher_version`` on the records).
VERSION = "1"
#: Named ratios (width, height) an aspect ratio snaps to when within 3 %.
COMMON_RATIOS = ((1, 1), (4, 3), (3, 2), (16, 9), (5, 4), (2, 1), (21, 9))
RATIO_SNAP = 0.03
#: Subject positions below / above these shares of the frame are the left / right (upper /
#: lower) third.
THIRD_LOW, THIRD_HIGH = 0.42, 0.58


def ratio_name(width: int, height: int) -> str:
    """``3:4`` style name of a frame's ratio (snapped to a common ratio when close)."""
    r = width / height
    for a, b in COMMON_RATIOS:
        for w, h in ((a, b), (b, a)):
            if abs(math.log(r / (w / h))) <= RATIO_SNAP:
                return f"{w}:{h}"
    f = Fraction(r).limit_denominator(10)
    return f"{f.numerator}:{f.denominator}"


def aspect_action(m: Measurements, exp: Expectation) -> str:
    if not exp.changed:
        return NO_CHANGE
    name = ratio_name(*m.good_size)
    return {
        "vertical": f"Use a vertical {name} portrait ratio",
        "horizontal": f"Use a horizontal {name} landscape ratio",
        "square": "Use a square 1:1 ratio",
    }[m.good_orientation]


def composition_action(m: Measurements, exp: Expectation) -> str:
    parts = []
    for cue in exp.cues:
        if cue.name == "zoom" and cue.expected == "tighter":
            parts.append(
                f"frame tighter, about {m.zoom:.1f}x closer, so the subject fills more of the frame"
            )
        elif cue.name == "zoom":
            parts.append(f"widen the framing to show about {1 / m.zoom:.1f}x more of the scene")
        elif cue.name == "rotation":
            parts.append(f"rotate {abs(m.rotation_deg):.0f}° {cue.expected} to level the horizon")
    return _sentence(parts)


def camera_action(m: Measurements, exp: Expectation) -> str:
    parts = []
    for cue in exp.cues:
        if cue.name == "viewpoint_x":
            parts.append(
                f"move the camera a little to the {cue.expected},"
                " turning it back toward the subject"
            )
        elif cue.expected == "lower":
            parts.append("lower the camera and angle it slightly upward")
        else:
            parts.append("raise the camera and angle it slightly downward")
    return _sentence(parts)


def position_action(m: Measurements, exp: Expectation) -> str:
    names = {c.name: c.expected for c in exp.cues}
    if not names:
        return NO_CHANGE
    gx = m.subject_good[0]
    side = "left" if gx < THIRD_LOW else "right" if gx > THIRD_HIGH else "centre"
    if "shift_x" in names:
        direction = names["shift_x"]
        vertical = f"{names['shift_y']}-" if "shift_y" in names else ""
        if side == direction:
            return f"Shift the subject toward the {vertical}{side} third"
        if side == "centre":
            where = f"{vertical.rstrip('-')} centre" if vertical else "centre"
            return f"Shift the subject toward the {where}"
        return f"Shift the subject a little to the {vertical}{direction}"
    if names["shift_y"] == "lower":
        return "Move the subject lower in the frame, leaving more headroom"
    return "Move the subject higher in the frame, with less empty space above the head"


def focus_action(m: Measurements, exp: Expectation) -> str:
    if not exp.cues:
        return NO_CHANGE
    if exp.cues[0].expected == "shallower":
        return "Keep the subject sharp and blur the background for a shallow depth of field"
    return "Bring the background into sharper focus for a deeper depth of field"


def color_action(m: Measurements, exp: Expectation, tolerance: float) -> str:
    parts = []
    d_l = m.delta_lab[0]
    for cue in exp.cues:
        if cue.name == "exposure":
            amount = "slightly " if abs(d_l) < 2 * tolerance else ""
            verb = "raise" if cue.expected == "brighter" else "lower"
            parts.append(f"{amount}{verb} the exposure")
        elif cue.name == "warmth":
            parts.append(f"{'warm' if cue.expected == 'warmer' else 'cool'} the overall tone")
        else:
            parts.append(f"shift the tint toward {cue.expected}")
    return _sentence(parts, ", ")


def _sentence(parts: list[str], joiner: str = ", and ") -> str:
    if not parts:
        return NO_CHANGE
    text = joiner.join(parts)
    return text[:1].upper() + text[1:]


def geometric_plan(m: Measurements, expected: dict[str, Expectation], exposure_tol: float) -> Plan:
    """The plan the measurements call for."""
    return Plan(
        aspect_ratio=aspect_action(m, expected["aspect_ratio"]),
        composition=composition_action(m, expected["composition"]),
        camera=camera_action(m, expected["camera"]),
        position=position_action(m, expected["position"]),
        pose=m.pose if expected["pose"].changed and m.pose else NO_CHANGE,
        focus=focus_action(m, expected["focus"]),
        color=color_action(m, expected["color"], exposure_tol),
    )


class GeometricTeacher:
    """Teacher ``geometric``: rules over the measured changes (offline, deterministic)."""

    name = "geometric"

    def __init__(self, exposure_tolerance: float = 4.0) -> None:
        self.exposure_tolerance = exposure_tolerance

    @property
    def version(self) -> str:
        return VERSION

    def write_plan(self, request: PlanRequest) -> str:
        return render(
            geometric_plan(request.measurements, request.expected, self.exposure_tolerance)
        )

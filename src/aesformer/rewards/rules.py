"""Judge ``rules`` (the offline creativity judge): transparent scoring of a plan's edits.

Every number comes from word lists and a few regular expressions in this file; nothing is
learned. Per changed action (an action that is not "No change needed"):

    specificity = 0.1 + 0.3 [quantity] + 0.3 [direction] + 0.3 [named body or scene part]

(quantities: digits, ratios, degrees, percentages, "third", "half" ...; directions: left,
right, up, down, closer, back, clockwise ...). An action of a structural dimension (aspect
ratio, composition, camera, position, pose) that only speaks of colour and light counts as a
colour action. Then, with ``w_r`` = ``refinement_weight`` and ``w_n`` = ``novelty_bonus``:

    structural = min(1, Σ specificity of structural actions / saturation)
    refinement = mean specificity over focus and colour (0 where unchanged)
    novelty    = 1 - max word-set Jaccard similarity to the other plans of the group
    score      = (1 - w_r - w_n) · structural + w_r · refinement + w_n · novelty

Caps: a plan with no structural edit (colour-only or all "No change needed"), a generic plan
(no structural action names a quantity, direction or part) or a timid plan (fewer than two
structural edits) scores at most ``cap`` (the paper's 2 of 5). Any action that adds a new
object or person ("add a hat", "place a lamp", "insert a bird", "hold a bouquet", "another
person") makes the score 0. :meth:`RulesJudge.assess` returns the whole breakdown.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from aesformer.config import RulesJudgeConfig
from aesformer.plans import DIMENSIONS
from aesformer.rewards.embedding import is_no_change, plan_actions
from aesformer.rewards.judges import ImageLike, JudgeError
from aesformer.rewards.rubrics import CreativityRequest, RubricFormatError

STRUCTURAL: tuple[str, ...] = ("aspect_ratio", "composition", "camera", "position", "pose")
REFINEMENT: tuple[str, ...] = ("focus", "color")

QUANTITY_RE = re.compile(
    r"\d|°|%|\b(?:half|halves|third|thirds|quarter|quarters|double|twice|degrees?|percent|"
    r"one|two|three|four|five|several)\b"
)
DIRECTION_RE = re.compile(
    r"\b(?:left|right|up|upward|upwards|down|downward|downwards|closer|nearer|back|backward|"
    r"backwards|forward|forwards|toward|towards|away|lower|higher|raise|raised|lift|lifted|"
    r"drop|lean|tilt|tilted|turn|turned|rotate|rotated|clockwise|counterclockwise|"
    r"counter-clockwise|anticlockwise|above|below|center|centre|centered|centred|middle|top|"
    r"bottom|diagonal|diagonally|horizontal|vertical|level|sideways|inward|outward|tighter|"
    r"wider|in front|behind|eye-level|low-angle|high-angle|overhead)\b"
)
BODY_RE = re.compile(
    r"\b(?:head|chin|face|eyes?|gaze|shoulders?|arms?|hands?|elbows?|wrists?|legs?|knees?|"
    r"foot|feet|hips?|torso|waist|chest|neck|hair|fingers?|body|spine|posture|profile)\b"
)
SCENE_RE = re.compile(
    r"\b(?:horizon|background|foreground|sky|walls?|floor|ground|trees?|buildings?|windows?|"
    r"doors?|doorway|path|road|street|water|sea|lake|river|beach|railings?|bench|edges?|"
    r"corners?|stairs|steps|bridge|fence|columns?|pillars?|arch|skyline|lines|headroom|"
    r"negative space|frame)\b"
)
COLOUR_RE = re.compile(
    r"\b(?:bright|brighter|brighten|brightness|exposure|expose|warm|warmer|warmth|cool|cooler|"
    r"tone|tones|saturation|saturate|contrast|colou?rs?|hue|white balance|vibrance|tint|"
    r"shadows|highlights|grade|grading|filter|dark|darker|darken|light|lighting)\b"
)
STRUCTURE_WORD_RE = re.compile(
    r"\b(?:crop|ratio|frame|framing|compos\w*|zoom|camera|angle|viewpoint|perspective|height|"
    r"step|move|shift|place|position|stand|pose|turn|rotate|tilt|lean|thirds?)\b"
)


# --- the new-object ban
def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


OBJECT_NOUNS = _words(
    "hat cap scarf glasses sunglasses necklace earring jewelry jewellery bag handbag umbrella "
    "flower bouquet plant tree chair stool table bench sofa lamp lantern candle balloon book cup "
    "mug bottle phone dog cat pet bird animal horse car bike bicycle sign poster painting mirror "
    "prop object person people man woman child kid friend companion crowd building tower fence "
    "rock boat ball toy guitar instrument kite cloud moon element item accessory accessories "
    "decoration furniture petal confetti butterfly rainbow"
)
#: Things one may "add" that are photographic qualities, not objects.
PHOTO_TERMS = _words(
    "touch bit little slight tilt angle blur bokeh vignette warmth glow contrast exposure "
    "brightness saturation light lighting highlight shadow tone tint grain depth space headroom "
    "room margin breathing crop border lean twist turn smile expression gesture curve pose step "
    "distance perspective sense feeling balance symmetry diagonal line layer sharpness focus "
    "softness haze color colour hue pop texture detail clarity drama movement motion rim fill "
    "bounce flare negative gentle soft subtle more"
)
ADD_VERBS = _words(
    "add adds added adding insert inserts inserting introduce introduces introducing"
)
PLACE_VERBS = _words(
    "place places placing put puts putting include includes including hold holds holding wear "
    "wears wearing carry carries carrying"
)
DETERMINERS = _words("a an some another new extra additional several few one two three pair couple")
STOP_WORDS = _words(
    "to in on at of behind near beside next into onto for with by and or so that above below "
    "from over under around while the her his their its this"
)
NEW_PERSON_RE = re.compile(
    r"\b(?:new|another|second|extra|additional)\s+(?:person|people|subject|model|object|prop|"
    r"element|item|figure)s?\b"
)
TOKEN_RE = re.compile(r"[a-z]+(?:-[a-z]+)*|\d+(?:[.:]\d+)?|[,;.!?()]")
CONTENT_RE = re.compile(r"[a-z]+|\d+(?:[.:]\d+)?")
NOVELTY_STOP = _words(
    "the a an of to and or with in on at for by so that it its is be as from slightly more "
    "their her his them subject keep"
)


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def new_object(action: str) -> str | None:
    """The phrase by which ``action`` adds a new object or person, or ``None``."""
    text = action.casefold()
    hit = NEW_PERSON_RE.search(text)
    if hit:
        return hit.group(0)
    tokens = TOKEN_RE.findall(text)
    for i, verb in enumerate(tokens):
        is_add = verb in ADD_VERBS
        if not is_add and verb not in PLACE_VERBS:
            continue
        j, determined = i + 1, False
        while j < len(tokens) and (tokens[j] in DETERMINERS or (determined and tokens[j] == "of")):
            determined = True
            j += 1
        window: list[str] = []
        while (
            j < len(tokens)
            and len(window) < 3
            and tokens[j].isalpha()
            and tokens[j] not in STOP_WORDS
        ):
            window.append(tokens[j])
            j += 1
        if not window:
            continue
        phrase = " ".join(tokens[i:j])
        if any(w in OBJECT_NOUNS or _singular(w) in OBJECT_NOUNS for w in window):
            return phrase
        if (
            is_add
            and determined
            and not any(w in PHOTO_TERMS or _singular(w) in PHOTO_TERMS for w in window)
        ):
            return phrase  # "add a <something unknown>": a new element
    return None


@dataclass(frozen=True)
class ActionFeatures:
    """What the rules found in one action."""

    changed: bool
    quantity: bool = False
    direction: bool = False
    part: bool = False
    colour_only: bool = False

    @property
    def specificity(self) -> float:
        if not self.changed:
            return 0.0
        return 0.1 + 0.3 * self.quantity + 0.3 * self.direction + 0.3 * self.part

    @property
    def concrete(self) -> bool:
        return self.quantity or self.direction or self.part


def action_features(action: str | None) -> ActionFeatures:
    """The features of one action (``None`` or "No change needed": unchanged)."""
    if action is None or is_no_change(action):
        return ActionFeatures(changed=False)
    text = action.casefold()
    quantity = bool(QUANTITY_RE.search(text))
    direction = bool(DIRECTION_RE.search(text))
    part = bool(BODY_RE.search(text) or SCENE_RE.search(text))
    colour_only = bool(COLOUR_RE.search(text)) and not (
        STRUCTURE_WORD_RE.search(text) or BODY_RE.search(text)
    )
    return ActionFeatures(True, quantity, direction, part, colour_only)


def content_words(actions: dict[str, str]) -> frozenset[str]:
    """The content words of a plan's changed actions (for novelty)."""
    words: set[str] = set()
    for action in actions.values():
        if not is_no_change(action):
            words.update(w for w in CONTENT_RE.findall(action.casefold()) if w not in NOVELTY_STOP)
    return frozenset(words)


def novelty(candidate: dict[str, str], others: Sequence[dict[str, str]]) -> float:
    """1 - the largest Jaccard similarity of content words to another plan (0 without others)."""
    mine = content_words(candidate)
    if not mine or not others:
        return 0.0
    best = 0.0
    for other in others:
        theirs = content_words(other)
        union = mine | theirs
        best = max(best, len(mine & theirs) / len(union) if union else 1.0)
    return 1.0 - best


@dataclass(frozen=True)
class Assessment:
    """The rules judge's breakdown of one plan."""

    score: float
    structural: float
    refinement: float
    novelty: float
    caps: tuple[str, ...] = ()
    new_object: str | None = None
    features: dict[str, ActionFeatures] = field(default_factory=dict)


class RulesJudge:
    """Judge ``rules`` for the creativity rubric (see the module docstring)."""

    name = "rules"
    uses_group = True  # the reward passes the other completions of the group (novelty)

    def __init__(self, cfg: RulesJudgeConfig | None = None) -> None:
        self.cfg = cfg or RulesJudgeConfig()

    def setup(self) -> None:
        """Nothing to load (the rules are in this module)."""

    def assess(self, candidate: str, others: Sequence[str] = ()) -> Assessment:
        cfg = self.cfg
        actions = plan_actions(candidate)
        for key, action in actions.items():
            phrase = new_object(action)
            if phrase:
                return Assessment(0.0, 0.0, 0.0, 0.0, ("new_object",), f"{key}: {phrase}")
        feats = {d.key: action_features(actions.get(d.key)) for d in DIMENSIONS}
        structural_edits = [
            feats[k] for k in STRUCTURAL if feats[k].changed and not feats[k].colour_only
        ]
        structural = min(1.0, sum(f.specificity for f in structural_edits) / cfg.saturation)
        refinement_feats = [feats[k] for k in REFINEMENT] + [
            feats[k] for k in STRUCTURAL if feats[k].colour_only
        ]
        refinement = min(1.0, sum(f.specificity for f in refinement_feats) / len(REFINEMENT))
        nov = novelty(actions, [plan_actions(o) for o in others])
        w_s = 1.0 - cfg.refinement_weight - cfg.novelty_bonus
        score = w_s * structural + cfg.refinement_weight * refinement + cfg.novelty_bonus * nov
        caps = []
        if not structural_edits:
            caps.append("no_structural_edit")
        elif not any(f.concrete for f in structural_edits):
            caps.append("generic")
        elif len(structural_edits) < 2:
            caps.append("timid")
        if caps:
            score = min(score, cfg.cap)
        return Assessment(
            score=min(1.0, max(0.0, score)),
            structural=structural,
            refinement=refinement,
            novelty=nov,
            caps=tuple(caps),
            features=feats,
        )

    def score(self, images: Sequence[ImageLike], prompt: str) -> float:
        try:
            request = CreativityRequest.from_prompt(prompt)
        except RubricFormatError as exc:
            raise JudgeError(f"rules judge: {exc}") from None
        return self.assess(request.candidate, request.others).score

"""Measure what changed from the poor to the good image of an aligned pair.

Everything is derived from the two images and the poor -> good homography that ``align``
stored (``alignment.homography``, normalised coordinates):

- **aspect ratio**: the two images' width / height;
- **zoom and roll**: the homography's linear part at the poor image centre, in coordinates
  centred on each image and divided by its height (so ``zoom`` > 1 means the subject fills
  more of the frame height: tighter framing); the roll is the rotation of that part, positive
  when the picture turns clockwise on screen;
- **viewpoint**: the poor frame's outline mapped into the good frame; the log ratio of its
  right / left edge lengths (``keystone_x``) and bottom / top (``keystone_y``). A side that
  grows came nearer the camera, so the camera moved toward it;
- **subject position**: the subject found in the good image (:mod:`.subject`), its point mapped
  back into the poor image with the inverse homography, both normalised to their frame;
- **depth of field**: mean squared Laplacian in the subject's core (the face) and in the
  background (outside the subject region), in the good image and in the poor image warped
  into the good frame, over their overlap; ``focus_change`` is the change of
  ``ln(background / subject)`` (negative: the background got softer relative to the subject);
- **colour**: mean CIE L*, a*, b* of the good image and the warped poor image over the overlap.

The pose is not measured from pixels: :func:`pose_from_narration` takes the tutorial's spoken
pose instruction, if any, as the evidence.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import cv2
import numpy as np

from aesformer.annotate.subject import Subject, SubjectLocator
from aesformer.config import AnnotateConfig

#: Overlap / background shares below which the focus measure is not taken (0 = unknown).
MIN_REGION_SHARE = 0.1

_POSE_VERB = (
    r"raise|lift|put|rest|place|cross|bend|turn|tilt|lean|drop|lower|hold|relax|point|wave"
    r"|fold|tuck"
)
_BODY_PART = r"arms?|hands?|hips?|chin|legs?|knees?|shoulders?|elbows?|head|wrists?|fingers?|body"
_NOT_POSE = r"camera|phone|frame|exposure|horizon|headroom|space|white balance|lens|zoom|focus"
_POSE_RE = re.compile(rf"\b({_POSE_VERB})\b.*\b({_BODY_PART})\b", re.IGNORECASE)
_NOT_POSE_RE = re.compile(rf"\b({_NOT_POSE})\b", re.IGNORECASE)
_ASK_RE = re.compile(r"^(please\s+)?(ask|tell|have|get)\s+(him|her|them|the \w+)\s+to\s+", re.I)
_POSSESSIVE_RE = re.compile(r"\b(his|her|their|your)\b", re.IGNORECASE)
# OCR of a subtitle glues short words: "raise her leftarm" is "raise her left arm"
_GLUED_SIDE_RE = re.compile(
    r"\b(left|right)(?=(?:arm|hand|leg|knee|shoulder|elbow|wrist|hip|foot)s?\b)", re.IGNORECASE
)


@dataclass(frozen=True)
class Measurements:
    """What changed from poor to good (see the module docstring for each quantity)."""

    poor_size: tuple[int, int]  # (width, height) pixels
    good_size: tuple[int, int]
    aspect_change: float  # ln(good w/h) - ln(poor w/h)
    zoom: float  # linear; > 1 tighter
    rotation_deg: float  # picture rotation, clockwise positive
    keystone_x: float  # ln(right / left edge) of the poor frame mapped into good
    keystone_y: float  # ln(bottom / top edge)
    subject_poor: tuple[float, float]  # normalised subject point in the poor image
    subject_good: tuple[float, float]
    subject_source: str
    focus_change: float  # change of ln(background / subject sharpness); < 0 softer background
    delta_lab: tuple[float, float, float]  # mean (L*, a*, b*) good - poor over the overlap
    pose: str | None  # pose instruction from the narration, or None

    @property
    def good_orientation(self) -> str:
        return orientation(*self.good_size)

    @property
    def poor_orientation(self) -> str:
        return orientation(*self.poor_size)

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly values (rounded) for reports, rejects and prompts."""
        return {
            "poor_size": list(self.poor_size),
            "good_size": list(self.good_size),
            "aspect_change": round(self.aspect_change, 4),
            "zoom": round(self.zoom, 4),
            "rotation_deg": round(self.rotation_deg, 2),
            "keystone_x": round(self.keystone_x, 4),
            "keystone_y": round(self.keystone_y, 4),
            "subject_poor": [round(v, 4) for v in self.subject_poor],
            "subject_good": [round(v, 4) for v in self.subject_good],
            "subject_source": self.subject_source,
            "focus_change": round(self.focus_change, 3),
            "delta_lab": [round(v, 2) for v in self.delta_lab],
            "pose": self.pose,
        }


def orientation(width: int, height: int, tolerance: float = 0.02) -> str:
    """``vertical``, ``horizontal`` or ``square`` (within ``tolerance`` in log ratio)."""
    r = math.log(width / height)
    return "square" if abs(r) <= tolerance else ("horizontal" if r > 0 else "vertical")


def _centring(width: int, height: int) -> np.ndarray:
    """Normalised [0, 1] coordinates -> coordinates centred on the image, in image heights."""
    r = width / height
    return np.array([[r, 0.0, -0.5 * r], [0.0, 1.0, -0.5], [0.0, 0.0, 1.0]])


def centred_homography(
    h_norm: np.ndarray, poor_size: tuple[int, int], good_size: tuple[int, int]
) -> np.ndarray:
    """The normalised poor -> good homography in centred, height-unit coordinates."""
    h = _centring(*good_size) @ h_norm @ np.linalg.inv(_centring(*poor_size))
    return h / h[2, 2]


def linear_part(h: np.ndarray) -> np.ndarray:
    """Jacobian of the (centred) homography at the origin (the poor image centre)."""
    c, f = h[0, 2], h[1, 2]
    g, k = h[2, 0], h[2, 1]
    return np.array([[h[0, 0] - c * g, h[0, 1] - c * k], [h[1, 0] - f * g, h[1, 1] - f * k]])


def zoom_and_rotation(h: np.ndarray) -> tuple[float, float]:
    """Linear zoom and clockwise rotation (degrees) of a centred homography at the centre."""
    j = linear_part(h)
    zoom = math.sqrt(abs(float(np.linalg.det(j))))
    rotation = math.degrees(math.atan2(j[1, 0] - j[0, 1], j[0, 0] + j[1, 1]))
    return zoom, rotation


def keystone(h: np.ndarray, poor_size: tuple[int, int]) -> tuple[float, float]:
    """``(ln(right/left), ln(bottom/top))`` edge-length ratios of the poor frame's outline."""
    half_w = 0.5 * poor_size[0] / poor_size[1]
    corners = np.float64([[-half_w, -0.5], [half_w, -0.5], [half_w, 0.5], [-half_w, 0.5]])
    pts = cv2.perspectiveTransform(corners.reshape(-1, 1, 2), h).reshape(-1, 2)
    tl, tr, br, bl = pts
    left, right = np.linalg.norm(bl - tl), np.linalg.norm(br - tr)
    top, bottom = np.linalg.norm(tr - tl), np.linalg.norm(br - bl)
    return float(math.log(right / left)), float(math.log(bottom / top))


def map_point(h_norm: np.ndarray, point: tuple[float, float]) -> tuple[float, float]:
    """Apply a normalised homography to a normalised point."""
    x, y, w = h_norm @ np.array([point[0], point[1], 1.0])
    return float(x / w), float(y / w)


def _to_analysis(image: np.ndarray, long_side: int) -> np.ndarray:
    h, w = image.shape[:2]
    scale = long_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def _pixel_homography(
    h_norm: np.ndarray, poor_size: tuple[int, int], good_size: tuple[int, int]
) -> np.ndarray:
    to_norm = np.diag([1.0 / poor_size[0], 1.0 / poor_size[1], 1.0])
    to_px = np.diag([float(good_size[0]), float(good_size[1]), 1.0])
    return to_px @ h_norm @ to_norm


def _sharpness(gray: np.ndarray, mask: np.ndarray) -> float:
    lap = cv2.Laplacian(gray, cv2.CV_32F, ksize=3)
    return float((lap[mask] ** 2).mean()) + 1e-6


def _box_mask(box: tuple[float, float, float, float], shape: tuple[int, ...]) -> np.ndarray:
    h, w = shape[:2]
    x0, y0, x1, y1 = box
    mask = np.zeros((h, w), bool)
    mask[round(y0 * h) : round(y1 * h), round(x0 * w) : round(x1 * w)] = True
    return mask


def focus_change(
    poor_warped: np.ndarray, good: np.ndarray, valid: np.ndarray, subject: Subject
) -> float:
    """Change (good - poor) of ``ln(background / subject sharpness)`` over the overlap.

    Subject sharpness is taken in the subject's ``core`` (the face: in focus in both shots),
    background sharpness outside its (slightly grown) ``box``. Returns 0 when either region
    covers less than :data:`MIN_REGION_SHARE` of the frame (not measurable).
    """
    core = _box_mask(subject.core, good.shape) & valid
    grown = cv2.dilate(
        _box_mask(subject.box, good.shape).astype(np.uint8), np.ones((9, 9), np.uint8)
    )
    back = valid & (grown == 0)
    if core.mean() < MIN_REGION_SHARE / 5 or back.mean() < MIN_REGION_SHARE:
        return 0.0
    ratios = []
    for image in (poor_warped, good):
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
        ratios.append(math.log(_sharpness(gray, back) / _sharpness(gray, core)))
    return ratios[1] - ratios[0]


def mean_lab(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean CIE (L* 0..100, a*, b*) of a BGR uint8 image over ``mask``."""
    lab = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab)
    return lab[mask].mean(axis=0)


def pose_from_narration(narration: str) -> str | None:
    """The narration's pose instruction as an imperative (``Raise the right arm``), or None.

    A clause (split at ``.,;!?`` and ``and``) is a pose instruction when it has a pose verb
    and a body part and no camera / framing word (``raise the camera``, ``above her head``).
    A side glued to its body part by the subtitle OCR (``leftarm``) is split first.
    """
    for clause in re.split(r"[.;,!?]+|\band\b", narration):
        clause = " ".join(_GLUED_SIDE_RE.sub(r"\1 ", clause).split())
        if not clause or _NOT_POSE_RE.search(clause) or not _POSE_RE.search(clause):
            continue
        clause = _ASK_RE.sub("", clause)
        clause = _POSSESSIVE_RE.sub("the", clause)
        return clause[:1].upper() + clause[1:]
    return None


def measure_pair(
    poor: np.ndarray,
    good: np.ndarray,
    homography: list[list[float]],
    narration: str,
    cfg: AnnotateConfig,
    locator: SubjectLocator,
) -> Measurements:
    """Measure a pair of BGR images given the normalised poor -> good homography."""
    poor_size = (poor.shape[1], poor.shape[0])
    good_size = (good.shape[1], good.shape[0])
    h_norm = np.asarray(homography, dtype=np.float64)
    if h_norm.shape != (3, 3) or not np.isfinite(h_norm).all() or abs(h_norm[2, 2]) < 1e-12:
        raise ValueError("homography is not a finite 3x3 matrix")
    centred = centred_homography(h_norm, poor_size, good_size)
    zoom, rotation = zoom_and_rotation(centred)
    key_x, key_y = keystone(centred, poor_size)

    small_poor = _to_analysis(poor, cfg.analysis_long_side)
    small_good = _to_analysis(good, cfg.analysis_long_side)
    subject = locator.locate(small_good)
    gp = (small_good.shape[1], small_good.shape[0])
    h_px = _pixel_homography(h_norm, (small_poor.shape[1], small_poor.shape[0]), gp)
    warped = cv2.warpPerspective(small_poor, h_px, gp, flags=cv2.INTER_LINEAR)
    ones = np.full(small_poor.shape[:2], 255, np.uint8)
    valid = cv2.warpPerspective(ones, h_px, gp, flags=cv2.INTER_NEAREST)
    valid = cv2.erode(valid, np.ones((5, 5), np.uint8)) > 0
    if valid.mean() < MIN_REGION_SHARE / 2:
        raise ValueError("the warped poor image hardly overlaps the good image")
    px, py = map_point(np.linalg.inv(h_norm), subject.point)
    lab = mean_lab(small_good, valid) - mean_lab(warped, valid)
    return Measurements(
        poor_size=poor_size,
        good_size=good_size,
        aspect_change=math.log(good_size[0] / good_size[1]) - math.log(poor_size[0] / poor_size[1]),
        zoom=zoom,
        rotation_deg=rotation,
        keystone_x=key_x,
        keystone_y=key_y,
        subject_poor=(min(1.0, max(0.0, px)), min(1.0, max(0.0, py))),
        subject_good=subject.point,
        subject_source=subject.source,
        focus_change=focus_change(warped, small_good, valid, subject),
        delta_lab=(float(lab[0]), float(lab[1]), float(lab[2])),
        pose=pose_from_narration(narration),
    )

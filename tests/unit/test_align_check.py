"""align_pair on corpus positives and constructed negatives (scene, object, person)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from aesformer.align import FaceCascadeDetector, Reason, align_pair
from aesformer.config import AlignConfig
from aesformer.corpus import make_event
from aesformer.corpus.subject import POSES, draw_subject, render_sprite

CFG = AlignConfig()
DETECTOR = FaceCascadeDetector(CFG.face_min_size)
SIZE = (640, 360)


def paste_photo(good: np.ndarray, box, name: str = "coffee") -> np.ndarray:
    """A real photo patch (20 % of the height) beside the subject, on the roomier side."""
    h, w = good.shape[:2]
    patch = cv2.cvtColor(getattr(skdata, name)(), cv2.COLOR_RGB2BGR)
    ph = int(0.22 * h)
    patch = cv2.resize(patch, (ph, ph), interpolation=cv2.INTER_AREA)
    left = box[0] * w > (1 - box[2]) * w
    x = int(box[0] * w) - ph - 5 if left else int(box[2] * w) + 5
    y = int(0.55 * h)
    out = good.copy()
    out[y : y + ph, x : x + ph] = patch
    return out


def swap_person(good: np.ndarray, box, subject, seed: int) -> np.ndarray:
    """Inpaint the subject box and paint a different, randomly drawn person there."""
    h, w = good.shape[:2]
    x0, y0 = int(box[0] * w), int(box[1] * h)
    x1, y1 = int(np.ceil(box[2] * w)), int(np.ceil(box[3] * h))
    hole = np.zeros((h, w), np.uint8)
    hole[max(0, y0 - 2) : y1 + 2, max(0, x0 - 2) : x1 + 2] = 255
    out = cv2.inpaint(good, hole, 5, cv2.INPAINT_TELEA)
    rng = np.random.default_rng(seed)
    other = draw_subject(rng)
    while other == subject:
        other = draw_subject(rng)
    sprite = render_sprite(other, POSES["arms_down"] if other.look else None, y1 - y0)
    ax0, ay0, ax1, _ = sprite.anchor
    sprite.paste(out, (int((x0 + x1 - ax0 - ax1) / 2), int(y0 - ay0)))
    return out


# seeds cover pose changes (0, 2, 28), focus + exposure (3, 5), tilt/position (9), a cut-out (15)
@pytest.mark.parametrize("seed", [0, 2, 3, 5, 9, 15, 28])
def test_true_pairs_pass(seed):
    ev = make_event(seed=seed, size=SIZE)
    a = align_pair(ev.photos.poor, ev.photos.good, CFG, DETECTOR)
    assert a.passed, a
    assert a.reasons == [] and a.person_match and a.new_objects == 0
    assert a.homography is not None and len(a.homography) == 3


def test_homography_maps_the_subject_box():
    ev = make_event(seed=9, size=SIZE)  # tilt + position: no pose change, subject is rigid
    a = align_pair(ev.photos.poor, ev.photos.good, CFG, DETECTOR)
    h = np.array(a.homography)
    x0, y0, x1, y1 = ev.photos.box_poor
    centre = h @ np.array([(x0 + x1) / 2, (y0 + y1) / 2, 1.0])
    gx0, gy0, gx1, gy1 = ev.photos.box_good
    assert np.allclose(centre[:2] / centre[2], [(gx0 + gx1) / 2, (gy0 + gy1) / 2], atol=0.03)


@pytest.mark.parametrize(("a", "b"), [(0, 1), (3, 4), (15, 16)])
def test_other_scene_fails(a, b):
    poor = make_event(seed=a, size=SIZE).photos.poor
    good = make_event(seed=b, size=SIZE).photos.good
    result = align_pair(poor, good, CFG, DETECTOR)
    assert not result.passed
    assert result.reasons == [Reason.SCENE_MISMATCH.value]


@pytest.mark.parametrize(("seed", "name"), [(1, "coffee"), (15, "chelsea"), (24, "rocket")])
def test_added_object_fails(seed, name):
    ev = make_event(seed=seed, size=SIZE)
    good = paste_photo(ev.photos.good, ev.photos.box_good, name)
    result = align_pair(ev.photos.poor, good, CFG, DETECTOR)
    assert not result.passed
    assert Reason.NEW_OBJECT.value in result.reasons and result.new_objects >= 1


@pytest.mark.parametrize("seed", [0, 3, 9, 21])
def test_replaced_person_fails(seed):
    ev = make_event(seed=seed, size=SIZE)
    good = swap_person(ev.photos.good, ev.photos.box_good, ev.plan.subject, seed)
    result = align_pair(ev.photos.poor, good, CFG, DETECTOR)
    assert not result.passed
    # a large subject carries most features: replacing it can also break the scene match
    assert set(result.reasons) <= {r.value for r in Reason} and result.reasons


def test_recoloured_person_is_a_person_mismatch():
    ev = make_event(seed=3, size=SIZE)  # astronaut: the face backend finds her face
    good = ev.photos.good.copy()
    h, w = good.shape[:2]
    x0, y0, x1, y1 = (round(v * s) for v, s in zip(ev.photos.box_good, (w, h, w, h), strict=True))
    hsv = cv2.cvtColor(good[y0:y1, x0:x1], cv2.COLOR_BGR2HSV)
    hsv[..., 0] = (hsv[..., 0].astype(int) + 90) % 180  # same shape, other colours
    good[y0:y1, x0:x1] = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    result = align_pair(ev.photos.poor, good, CFG, DETECTOR)
    assert Reason.PERSON_MISMATCH.value in result.reasons and not result.person_match
    assert result.scores["person_verified"] == 1.0


def test_reconstructed_pixels_are_not_evidence_of_a_new_object():
    """A patch the miner inpainted (here: a bright blob where the good image has none) fails the
    pair as a new object unless the mask says those poor pixels were reconstructed."""
    ev = make_event(seed=0, size=SIZE)
    good = paste_photo(ev.photos.good, ev.photos.box_good)
    h, w = good.shape[:2]
    diff = cv2.absdiff(good, ev.photos.good).max(axis=2) > 0
    assert align_pair(ev.photos.poor, good, CFG, DETECTOR).reasons == [Reason.NEW_OBJECT.value]
    # the same pixels of the good image, seen through the homography, marked unobserved in poor
    a = align_pair(ev.photos.poor, ev.photos.good, CFG, DETECTOR)
    hmat = np.array(a.homography)
    ph, pw = ev.photos.poor.shape[:2]
    norm_poor = np.diag([1 / pw, 1 / ph, 1.0])
    den_good = np.diag([w, h, 1.0])
    to_good = den_good @ hmat @ norm_poor
    hole = cv2.warpPerspective(
        diff.astype(np.uint8) * 255, np.linalg.inv(to_good), (pw, ph), flags=cv2.INTER_NEAREST
    )
    hole = cv2.dilate(hole, np.ones((15, 15), np.uint8))
    masked = align_pair(ev.photos.poor, good, CFG, DETECTOR, hole)
    assert masked.passed, masked

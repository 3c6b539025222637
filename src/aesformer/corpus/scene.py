"""The world backdrop: sky, horizon, hills, buildings, trees, ground, drawn from a seeded spec.

A :class:`SceneSpec` is resolution independent (positions are fractions of the world width,
sizes and heights fractions of the world height), so the same spec renders the same scene at
any world size. Surfaces are filled with real photographic textures shipped with
scikit-image (grass, gravel, brick), tinted and mirror-tiled so that no seams show; the
ground is a textured plane seen in perspective.

The world is :data:`WORLD_ASPECT` times wider than high and :data:`WORLD_HEIGHT_FACTOR` times
higher than the video, so every photo is rendered by a virtual camera from a source of higher
resolution than its own.

With ``corpus.real_footage`` an event may instead be shot in front of a real photo
(:data:`BACKDROPS`): the photo is scaled to the world height, centred and mirror-extended to
the world width; the subject then stands on the photo's floor band and ``horizon`` is the
photo's (nominal) horizon line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np
from skimage import data as skdata

BGR = tuple[int, int, int]

WORLD_HEIGHT_FACTOR = 2.4
WORLD_ASPECT = 2.0
TEXTURE_PERIOD = 0.12
"""Tile size of surface textures, as a fraction of the world height."""

PALETTES: dict[str, tuple[BGR, BGR, BGR]] = {
    # name: (sky at the top, sky at the horizon, distant hills)
    "clear_day": ((196, 122, 44), (238, 214, 178), (150, 148, 120)),
    "golden_hour": ((150, 104, 92), (128, 196, 250), (96, 110, 140)),
    "overcast": ((172, 168, 162), (214, 212, 208), (140, 142, 136)),
    "dusk": ((112, 62, 52), (168, 150, 224), (92, 72, 84)),
}
GROUNDS: dict[str, BGR] = {
    "grass": (52, 128, 74),
    "dry_grass": (84, 150, 166),
    "gravel": (150, 170, 182),
}
BUILDING_COLOURS: tuple[BGR, ...] = (
    (64, 76, 150),
    (170, 188, 204),
    (138, 138, 142),
    (96, 120, 168),
)
FOLIAGE_COLOURS: tuple[BGR, ...] = ((40, 96, 46), (46, 112, 84), (36, 80, 60))


@dataclass(frozen=True)
class Building:
    """A block standing on the horizon: ``x`` left edge (of width), sizes of world height."""

    x: float
    width: float
    height: float
    colour: BGR
    windows: bool


@dataclass(frozen=True)
class Tree:
    """A tree: ``x`` of world width; ``base`` (trunk foot), ``height``, ``crown`` of height."""

    x: float
    base: float
    height: float
    crown: float
    colour: BGR


@dataclass(frozen=True)
class Cloud:
    """An elliptic cloud: centre ``x`` of world width, ``y`` and radii of world height."""

    x: float
    y: float
    rx: float
    ry: float


@dataclass(frozen=True)
class SceneSpec:
    """Everything needed to draw one backdrop."""

    palette: str
    horizon: float
    ground: str
    path: bool
    hill_phase: float
    buildings: tuple[Building, ...]
    trees: tuple[Tree, ...]
    clouds: tuple[Cloud, ...]
    backdrop: str = "drawn"
    """``drawn``, or the name of a real-photo backdrop in :data:`BACKDROPS`."""


@dataclass(frozen=True)
class Backdrop:
    """A real scikit-image photo used as the whole world.

    ``crop`` ``(x0, y0, x1, y1)`` is the part of the photo used (source pixels), ``horizon``
    the horizon line and ``floor`` the band the subject's feet may stand on, both as fractions
    of the crop height.
    """

    source: str
    crop: tuple[int, int, int, int]
    horizon: float
    floor: tuple[float, float]


BACKDROPS: dict[str, Backdrop] = {
    b.source: b
    for b in (
        Backdrop("camera", (300, 0, 512, 512), 0.43, (0.66, 0.8)),  # field, city skyline
        Backdrop("stereo_motorcycle", (0, 0, 741, 500), 0.62, (0.8, 0.9)),  # garage
        Backdrop("rocket", (0, 0, 640, 427), 0.86, (0.92, 0.96)),  # launch pad at dusk
    )
}


def world_size(video_height: int) -> tuple[int, int]:
    """``(width, height)`` of the world rendered for a video ``video_height`` pixels high."""
    h = round(video_height * WORLD_HEIGHT_FACTOR)
    return round(h * WORLD_ASPECT), h


def draw_scene(rng: np.random.Generator) -> SceneSpec:
    """Draw a random backdrop."""
    horizon = round(float(rng.uniform(0.42, 0.52)), 4)
    n_buildings = int(rng.integers(0, 5))
    buildings = tuple(
        Building(
            x=round(float(rng.uniform(0.0, 0.95)), 4),
            width=round(float(rng.uniform(0.08, 0.22)), 4),
            height=round(float(rng.uniform(0.06, 0.2)), 4),
            colour=BUILDING_COLOURS[int(rng.integers(len(BUILDING_COLOURS)))],
            windows=bool(rng.random() < 0.7),
        )
        for _ in range(n_buildings)
    )
    trees = tuple(
        Tree(
            x=round(float(rng.uniform(0.02, 0.98)), 4),
            base=round(horizon + float(rng.uniform(0.0, 0.12)), 4),
            height=round(float(rng.uniform(0.1, 0.3)), 4),
            crown=round(float(rng.uniform(0.04, 0.09)), 4),
            colour=FOLIAGE_COLOURS[int(rng.integers(len(FOLIAGE_COLOURS)))],
        )
        for _ in range(int(rng.integers(2, 9)))
    )
    clouds = tuple(
        Cloud(
            x=round(float(rng.uniform(0, 1)), 4),
            y=round(float(rng.uniform(0.05, horizon - 0.12)), 4),
            rx=round(float(rng.uniform(0.06, 0.2)), 4),
            ry=round(float(rng.uniform(0.02, 0.05)), 4),
        )
        for _ in range(int(rng.integers(0, 6)))
    )
    return SceneSpec(
        palette=str(rng.choice(list(PALETTES))),
        horizon=horizon,
        ground=str(rng.choice(list(GROUNDS))),
        path=bool(rng.random() < 0.5),
        hill_phase=round(float(rng.uniform(0, 2 * math.pi)), 4),
        buildings=buildings,
        trees=tuple(sorted(trees, key=lambda t: t.base)),
        clouds=clouds,
    )


# --------------------------------------------------------------------------- textures
@cache
def _texture_tile(name: str) -> np.ndarray:
    """Seamless zero-mean unit-range tile of a scikit-image texture (mirror-tiled 2x2)."""
    gray = getattr(skdata, name)().astype(np.float32) / 255.0
    gray -= gray.mean()
    top = np.hstack([gray, gray[:, ::-1]])
    return np.vstack([top, top[::-1, :]])


SURFACE_TEXTURE = {"grass": "grass", "dry_grass": "grass", "gravel": "gravel", "brick": "brick"}


def textured(
    surface: str,
    shape: tuple[int, int],
    colour: BGR,
    period_px: int,
    contrast: float = 0.9,
) -> np.ndarray:
    """A ``shape = (h, w)`` BGR ``uint8`` patch of ``colour`` modulated by a real texture."""
    h, w = shape
    tile = cv2.resize(
        _texture_tile(SURFACE_TEXTURE[surface]),
        (2 * period_px, 2 * period_px),
        interpolation=cv2.INTER_AREA,
    )
    reps = (math.ceil(h / tile.shape[0]), math.ceil(w / tile.shape[1]))
    return _tint(np.tile(tile, reps)[:h, :w] * np.float32(contrast) + np.float32(1.0), colour)


def _tint(modulation: np.ndarray, colour: BGR) -> np.ndarray:
    """``uint8`` BGR image ``colour * modulation`` (saturated, rounded)."""
    return cv2.convertScaleAbs(cv2.merge([modulation * np.float32(c) for c in colour]))


def _paint(image: np.ndarray, mask: np.ndarray, patch: np.ndarray, y0: int, x0: int) -> None:
    """Copy ``patch`` onto ``image`` at ``(y0, x0)`` where the (same-sized) ``mask`` is set."""
    h, w = mask.shape
    np.copyto(image[y0 : y0 + h, x0 : x0 + w], patch, where=mask[..., None] > 0)


# --------------------------------------------------------------------------- drawing
def vertical_gradient(width: int, height: int, top: BGR, bottom: BGR) -> np.ndarray:
    """A ``height x width`` BGR ``uint8`` image going linearly from ``top`` to ``bottom``."""
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    rows = (1 - ramp) * np.asarray(top, np.float32) + ramp * np.asarray(bottom, np.float32)
    return np.ascontiguousarray(
        np.broadcast_to(rows.astype(np.uint8)[:, None, :], (height, width, 3))
    )


def _sky(image: np.ndarray, spec: SceneSpec, hy: int) -> None:
    top, bottom, _ = PALETTES[spec.palette]
    image[:hy] = vertical_gradient(image.shape[1], hy, top, bottom)


def _clouds(image: np.ndarray, spec: SceneSpec, hy: int) -> None:
    if not spec.clouds:
        return
    h, w = image.shape[:2]
    layer = np.zeros((hy, w), np.uint8)
    for c in spec.clouds:
        centre = (round(c.x * w), round(c.y * h))
        cv2.ellipse(
            layer, centre, (round(c.rx * h), round(c.ry * h)), 0, 0, 360, 255, -1, cv2.LINE_AA
        )
    alpha = cv2.GaussianBlur(layer, (0, 0), h * 0.006).astype(np.float32) * np.float32(0.75 / 255)
    white = np.full_like(image[:hy], 250)
    image[:hy] = cv2.blendLinear(image[:hy], white, 1.0 - alpha, alpha)


def _hills(image: np.ndarray, spec: SceneSpec, hy: int) -> None:
    h, w = image.shape[:2]
    xs = np.linspace(0, 1, 64)
    wave = 0.6 * np.sin(2 * math.pi * 2.3 * xs + spec.hill_phase) + 0.4 * np.sin(
        2 * math.pi * 5.1 * xs + 2 * spec.hill_phase
    )
    ys = hy - h * (0.035 + 0.025 * wave)
    pts = np.column_stack([xs * (w - 1), ys]).round().astype(np.int32)
    poly = np.vstack([pts, [[w - 1, hy], [0, hy]]])
    cv2.fillPoly(image, [poly], PALETTES[spec.palette][2], cv2.LINE_AA)


def _buildings(image: np.ndarray, spec: SceneSpec, hy: int, period: int) -> None:
    h, w = image.shape[:2]
    for b in spec.buildings:
        x0, bw, bh = round(b.x * w), round(b.width * h), round(b.height * h)
        x1, y0 = min(w, x0 + bw), max(0, hy - bh)
        if x1 <= x0 or hy <= y0:
            continue
        image[y0:hy, x0:x1] = textured("brick", (hy - y0, x1 - x0), b.colour, period // 2, 0.6)
        if b.windows:
            step = max(4, round(0.025 * h))
            for wy in range(y0 + step // 2, hy - step, step):
                for wx in range(x0 + step // 2, x1 - step // 2, step):
                    cv2.rectangle(
                        image, (wx, wy), (wx + step // 3, wy + step // 2), (58, 52, 46), -1
                    )


def _ground_modulation(
    surface: str, gh: int, cols: tuple[int, int], cx: float, period_px: float, contrast: float
) -> np.ndarray:
    """Texture modulation (``1 + contrast * t``) of a flat ground plane seen in perspective.

    Covers ``gh`` rows below the horizon and the columns ``cols = (x0, x1)``. Image rows are
    back-projected onto the ground plane of a pinhole camera whose vanishing point is column
    ``cx`` on the horizon; the seamless tile repeats over the plane (``BORDER_WRAP``), one
    period spanning ``period_px`` pixels across the bottom row. Contrast fades towards the
    horizon, where the texture becomes too fine to show.
    """
    tile = _texture_tile(SURFACE_TEXTURE[surface])
    # computed at half resolution (then upsampled): the world is rendered well above output size
    hh, hw = max(1, gh // 2), max(1, (cols[1] - cols[0]) // 2)
    k = hh * (tile.shape[0] / 2) / (period_px / 2)  # texture px per half-res px at the bottom: k/hh
    focal = 2.0 * hh  # rows are foreshortened 2x at the bottom
    # half-res destination (x, y) -> plane (u, v) = (k (x - cx), k f) / (y + 1), in tile pixels
    x_off = (cols[0] - cx) / 2
    to_plane = np.array([[k, 0.0, k * x_off], [0.0, 0.0, k * focal], [0.0, 1.0, 1.0]])
    half = cv2.warpPerspective(
        tile,
        to_plane,
        (hw, hh),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_WRAP,
    )
    t = cv2.resize(half, (cols[1] - cols[0], gh), interpolation=cv2.INTER_LINEAR)
    fade = np.clip(np.linspace(0.0, 4.0, gh, dtype=np.float32), 0.0, 1.0)[:, None]
    return t * (fade * np.float32(contrast)) + np.float32(1.0)


def _ground(image: np.ndarray, spec: SceneSpec, hy: int, period: int) -> None:
    h, w = image.shape[:2]
    gh = h - hy
    shade = np.linspace(0.85, 1.08, gh, dtype=np.float32)[:, None]
    cx = (w - 1) / 2
    mod = _ground_modulation(spec.ground, gh, (0, w), cx, 2 * period, 0.9) * shade
    image[hy:] = _tint(mod, GROUNDS[spec.ground])
    if spec.path and spec.ground != "gravel":
        half = w // 5
        x0 = w // 2 - half
        mask = np.zeros((gh, 2 * half), np.uint8)
        cv2.fillPoly(
            mask, [np.array([[half, 0], [2 * half, gh], [0, gh]], np.int32)], 255, cv2.LINE_AA
        )
        path = _ground_modulation("gravel", gh, (x0, x0 + 2 * half), cx, 2 * period, 0.9) * shade
        _paint(image, mask, _tint(path, GROUNDS["gravel"]), hy, x0)


def _trees(image: np.ndarray, spec: SceneSpec, period: int) -> None:
    h, w = image.shape[:2]
    for t in spec.trees:
        x, base, th = round(t.x * w), round(t.base * h), round(t.height * h)
        trunk = max(2, round(0.012 * h))
        cv2.rectangle(image, (x - trunk // 2, base - th), (x + trunk // 2, base), (40, 58, 82), -1)
        r = round(t.crown * h)
        y0, x0 = max(0, base - th - r), max(0, x - r)
        y1, x1 = min(h, base - th + 2 * r), min(w, x + r)
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        for dx, dy, rr in ((0, 0, r), (-r // 2, r // 2, r * 2 // 3), (r // 2, r // 2, r * 2 // 3)):
            cv2.circle(mask, (x - x0 + dx, base - th - y0 + dy), rr, 255, -1, cv2.LINE_AA)
        _paint(image, mask, textured("grass", mask.shape, t.colour, period // 2), y0, x0)


@cache
def _photo_source(name: str) -> np.ndarray:
    """A scikit-image photo as BGR ``uint8`` (the left image of a stereo pair)."""
    image = getattr(skdata, name)()
    if isinstance(image, tuple):
        image = image[0]
    code = cv2.COLOR_GRAY2BGR if image.ndim == 2 else cv2.COLOR_RGB2BGR
    return cv2.cvtColor(image, code)


def render_photo_backdrop(name: str, size: tuple[int, int]) -> np.ndarray:
    """Real-photo world ``size = (w, h)``: the crop at full height, centred, mirror-extended."""
    w, h = size
    b = BACKDROPS[name]
    x0, y0, x1, y1 = b.crop
    crop = _photo_source(b.source)[y0:y1, x0:x1]
    pw = round((x1 - x0) * h / (y1 - y0))
    image = cv2.resize(crop, (pw, h), interpolation=cv2.INTER_CUBIC)
    if pw >= w:
        left = (pw - w) // 2
        return np.ascontiguousarray(image[:, left : left + w])
    left = (w - pw) // 2
    return cv2.copyMakeBorder(image, 0, 0, left, w - pw - left, cv2.BORDER_REFLECT_101)


def render_background(spec: SceneSpec, size: tuple[int, int]) -> np.ndarray:
    """The backdrop without subject, as a ``size = (w, h)`` BGR ``uint8`` image."""
    if spec.backdrop != "drawn":
        return render_photo_backdrop(spec.backdrop, size)
    w, h = size
    image = np.empty((h, w, 3), np.uint8)
    hy = round(spec.horizon * h)
    period = max(8, round(TEXTURE_PERIOD * h))
    _sky(image, spec, hy)
    _clouds(image, spec, hy)
    _hills(image, spec, hy)
    _buildings(image, spec, hy, period)
    _ground(image, spec, hy, period)
    _trees(image, spec, period)
    return image


def blur_background(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of standard deviation ``sigma`` (pixels) for the background defocus.

    Large kernels are applied on a downsampled copy and upsampled back, which is close to a
    full-resolution Gaussian for the sigmas used here (several pixels) and much faster.
    """
    if sigma <= 0:
        return image
    factor = 2 ** max(0, math.floor(math.log2(sigma / 2.0)))
    if factor == 1:
        return cv2.GaussianBlur(image, (0, 0), sigma)
    h, w = image.shape[:2]
    small = cv2.resize(
        image, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA
    )
    small = cv2.GaussianBlur(small, (0, 0), sigma / factor)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)

"""Overlay removal on a viewfinder frame: crop the UI chrome, remove subtitles and grid lines.

1. **Crop.** The camera UI (:func:`aesformer.mining.ui.detect_ui`) gives the preview area
   between the chrome bars; the photo is its non-black part (pillar/letter bars removed).
2. **Subtitles.** OCR on the preview area (subtitles may run over the pillar bars) finds the
   text lines over the photo. A subtitle is usually drawn on a darkened box: the box is found
   as the rectangle around the lines whose edges are sharp brightness steps by one common
   factor, and its pixels are brightened back by that factor. The text strokes (bright
   pixels, dilated over their dark outline) are masked.
3. **Grid lines.** Thin straight bright lines spanning the photo (a white top-hat response
   present along most of a column or row) are masked.
4. **Inpaint** the mask with the configured backend, then **QC**: OCR the cleaned photo; if
   text remains, retry with a wider mask, up to ``retries`` times, else reject
   ``text_residue``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from aesformer.mining.inpaint import Inpainter
from aesformer.mining.ocr import TextLine, TextReader, box_iou
from aesformer.mining.ui import Box, content_box, detect_ui


@dataclass
class CleanResult:
    """Outcome of :func:`clean_viewfinder`; ``reason`` is a reject code when it failed."""

    raw: np.ndarray | None = None
    clean: np.ndarray | None = None
    photo_box: Box | None = None
    lines: list[TextLine] = field(default_factory=list)  # subtitle lines, frame coordinates
    shade_gain: float = 1.0
    grid_lines: int = 0
    attempts: int = 0
    residue: int = 0
    reason: str | None = None


def clean_viewfinder(
    frame: np.ndarray,
    reader: TextReader,
    inpainter: Inpainter,
    retries: int,
    text_dilate: float,
    min_text_score: float,
    static_mask: np.ndarray | None = None,
    long_text_score: float = 0.6,
    long_text_chars: int = 12,
    qc_text_score: float = 0.5,
) -> CleanResult:
    """Crop ``frame`` (full resolution) to the photo and remove the overlays on it.

    ``static_mask`` (any size, resized to the frame) marks the overlays found by
    :func:`static_overlay_mask`; they are inpainted with the text and grid lines. A text line
    is removed when OCR scores it at least ``min_text_score``, or, when it reads at least
    ``long_text_chars`` characters (a subtitle sentence, not a stray glyph), at least
    ``long_text_score`` (a subtitle over a bright, busy background reads less surely).

    QC: the cleaned photo is read again. A text line left (as above) is residue: retry with the
    mask widened over it. Any other read scoring ``qc_text_score`` or more (a smear or a faint
    line read as a glyph; weak reads found at the same place on the raw photo are the scene's)
    makes a retry with a tighter text mask; if only such weak reads remain after ``retries``,
    the attempt with the fewest is kept. Only remaining text lines reject ``text_residue``.
    """

    def is_text(ln: TextLine) -> bool:
        n = len(ln.text.strip())
        if n >= long_text_chars:
            return ln.score >= min(long_text_score, min_text_score)
        return ln.score >= min_text_score and n >= 2

    ui = detect_ui(frame)
    if ui is None:
        return CleanResult(reason="no_camera_ui")
    preview = ui.preview.crop(frame)
    inner = content_box(preview)
    photo_box = Box(inner.x0, inner.y0 + ui.preview.y0, inner.x1, inner.y1 + ui.preview.y0)
    if photo_box.w < 16 or photo_box.h < 16:
        return CleanResult(reason="no_preview")
    raw = photo_box.crop(frame).copy()
    read = reader.read(preview)
    lines = [ln for ln in _shift(read, ui.preview.y0) if is_text(ln)]
    local = [_to_local(ln, photo_box) for ln in lines]
    local = [ln for ln in local if ln is not None]
    image, gain = raw, 1.0
    for cluster in line_clusters([ln.box for ln in local]):
        image, g = unshade_subtitle(image, cluster)
        gain = max(gain, g)
    boxes_mask = _box_mask(image.shape[:2], [ln.box for ln in local])
    grid = grid_mask(image, exclude=boxes_mask)
    n_grid = _count_lines(grid)
    if static_mask is not None:
        grid = grid | photo_box.crop(_to_frame(static_mask, frame.shape[:2]))
    result = CleanResult(raw=raw, photo_box=photo_box, lines=lines, shade_gain=gain)
    result.grid_lines = n_grid
    line_h = max([ln.box[3] - ln.box[1] for ln in local] or [frame.shape[0] * 0.05])
    # weak lines on the raw photo that were kept: the scene's own text-like content
    scene = [b for b in (_to_local(ln, photo_box) for ln in _shift(read, ui.preview.y0)) if b]
    scene = [ln.box for ln in scene if not is_text(ln) and ln.score >= qc_text_score]
    best: tuple[int, np.ndarray] | None = None
    factor = 1.0
    for attempt in range(retries + 1):
        radius = max(1, round(text_dilate * line_h * factor))
        mask = grid | text_mask(image, [ln.box for ln in local], radius)
        clean = inpainter(image, mask)
        found = [ln for ln in reader.read(clean) if ln.score >= qc_text_score]
        strong = [ln for ln in found if is_text(ln)]
        weak = [
            ln
            for ln in found
            if not is_text(ln) and all(box_iou(ln.box, b) <= SCENE_IOU for b in scene)
        ]
        if best is None or len(strong) + len(weak) < best[0]:
            best = (len(strong) + len(weak), clean)
        result.clean, result.attempts, result.residue = clean, attempt + 1, len(strong)
        if not strong and not weak:
            return result
        if strong:  # text left: widen the mask over it
            factor = max(factor, 1.0) + 1.0
            local = local + [ln for ln in strong if ln.box[3] - ln.box[1] <= 2 * line_h]
        else:  # only a weak read (a smear, a junk box): a tighter mask, less smear
            factor = min(factor, 1.0) * TIGHTEN
    if result.residue == 0 and best is not None:  # only weak reads left: the least of them
        result.clean = best[1]
        return result
    result.reason = "text_residue"
    return result


#: Text-mask dilation factor of a retry after only weak OCR reads (see :func:`clean_viewfinder`).
TIGHTEN = 0.4
#: A weak read on the cleaned photo overlapping a weak read on the raw photo by more than this
#: (IoU) is the scene's own text-like content, not residue.
SCENE_IOU = 0.3


def _shift(lines: list[TextLine], dy: int) -> list[TextLine]:
    """``lines`` moved down by ``dy`` (preview to frame coordinates)."""
    return [
        TextLine((ln.box[0], ln.box[1] + dy, ln.box[2], ln.box[3] + dy), ln.text, ln.score)
        for ln in lines
    ]


def _box_mask(shape: tuple[int, int], boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
    """``True`` inside ``boxes`` (padded by a sixth of their height)."""
    mask = np.zeros(shape, bool)
    for x0, y0, x1, y1 in boxes:
        pad = max(1, (y1 - y0) // 6)
        mask[max(0, y0 - pad) : y1 + pad, max(0, x0 - pad) : x1 + pad] = True
    return mask


def _to_frame(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``mask`` resized to ``shape`` and dilated by the resize factor (covers the rounding)."""
    h, w = shape
    up = cv2.resize(mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
    r = max(1, round(w / mask.shape[1]))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.dilate(up, kernel) > 0


def line_clusters(
    boxes: list[tuple[int, int, int, int]],
) -> list[list[tuple[int, int, int, int]]]:
    """Group text boxes into blocks: boxes whose vertical gap is under half a line height."""
    clusters: list[list[tuple[int, int, int, int]]] = []
    for box in sorted(boxes, key=lambda b: b[1]):
        if clusters:
            last = clusters[-1]
            bottom = max(b[3] for b in last)
            if box[1] - bottom < 0.5 * (box[3] - box[1]):
                last.append(box)
                continue
        clusters.append([box])
    return clusters


def _to_local(line: TextLine, box: Box) -> TextLine | None:
    """``line`` clipped to ``box`` in the box's coordinates, or ``None`` if outside it."""
    x0, y0 = max(line.box[0], box.x0) - box.x0, max(line.box[1], box.y0) - box.y0
    x1, y1 = min(line.box[2], box.x1) - box.x0, min(line.box[3], box.y1) - box.y0
    if x1 <= x0 or y1 <= y0:
        return None
    return TextLine((x0, y0, x1, y1), line.text, line.score)


def text_mask(image: np.ndarray, boxes: list[tuple[int, int, int, int]], radius: int) -> np.ndarray:
    """Bright text strokes inside ``boxes``, dilated by ``radius`` (covers the dark outline)."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    mask = np.zeros(gray.shape, bool)
    h, w = gray.shape
    for x0, y0, x1, y1 in boxes:
        pad = max(1, (y1 - y0) // 6)
        ys, xs = (
            slice(max(0, y0 - pad), min(h, y1 + pad)),
            slice(max(0, x0 - pad), min(w, x1 + pad)),
        )
        roi = gray[ys, xs]
        if roi.size == 0:
            continue
        level = max(150.0, float(np.percentile(roi, 90)) * 0.8)
        mask[ys, xs] |= roi >= level
    if not mask.any():
        return mask
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel) > 0


def unshade_subtitle(
    image: np.ndarray, boxes: list[tuple[int, int, int, int]], min_step: float = 1.4
) -> tuple[np.ndarray, float]:
    """Undo a darkened subtitle box around ``boxes``: returns the image and the factor found.

    Scanning outwards from the text lines, each edge of the box is the first row/column whose
    median brightness steps up by at least ``min_step`` (the image border for the bottom, left
    and right edges; the top edge must be found). The factor is the median ratio across the
    top and bottom edges; 1.0 (nothing changed) when no box is found.
    """
    if not boxes:
        return image, 1.0
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32) + 1.0
    h, w = gray.shape
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
    cols = slice(x0, x1)
    row_med = np.median(gray[:, cols], axis=1)
    reach = max(4, (y1 - y0))
    top = _edge(row_med, y0, -1, reach, min_step)
    bottom = _edge(row_med, y1 - 1, 1, reach, min_step)
    if top is None:
        return image, 1.0
    bottom = h if bottom is None else bottom
    band = slice(top, bottom)
    col_med = np.median(gray[band], axis=0)
    left = _edge(col_med, x0, -1, w, min_step)
    right = _edge(col_med, x1 - 1, 1, w, min_step)
    left = 0 if left is None else left
    right = w if right is None else right
    ratios = []
    for inside, outside in ((top, top - 2), (bottom - 1, bottom + 1)):
        if 0 <= outside < h and 0 <= inside < h:
            a = gray[outside, left:right]
            b = gray[inside, left:right]
            ratios.append(float(np.median(a / b)))
    if not ratios:
        return image, 1.0
    gain = float(np.median(ratios))
    if gain < min_step:
        return image, 1.0
    out = image.copy()
    roi = out[top:bottom, left:right].astype(np.float32) * gain
    out[top:bottom, left:right] = np.clip(roi, 0, 255).astype(np.uint8)
    return out, gain


def _edge(profile: np.ndarray, start: int, step: int, reach: int, min_step: float) -> int | None:
    """First index from ``start`` (moving by ``step``) where the next value jumps ``min_step``×.

    Returns the boundary as an exclusive end (``step=1``) or inclusive start (``step=-1``).
    """
    n = len(profile)
    i = start
    for _ in range(reach):
        j = i + step
        if not 0 <= j < n:
            return None
        if profile[j] >= min_step * profile[i]:
            return i + 1 if step > 0 else i
        i = j
    return None


def grid_mask(
    image: np.ndarray,
    min_cover: float = 0.5,
    min_response: float = 8.0,
    faint_cover: float = 0.1,
    min_peak: float = 0.08,
    exclude: np.ndarray | None = None,
) -> np.ndarray:
    """Thin bright straight lines spanning the image (rule-of-thirds guides), dilated by 1 px.

    A column (row) is a line when the white top-hat responds along ``min_cover`` of it, or,
    for a line washed out over part of the image (a grid over a bright sky), along
    ``faint_cover`` of it while standing out as a thin peak of the cover profile: at least
    ``min_peak`` above, and 3 times, the highest cover 3-8 px to either side (a broad run of
    responding rows is texture or text, not a line); a faint line is masked 2 px wide on each
    side (its antialiased edge responds below the threshold). ``exclude`` (e.g. the text lines) is left
    out of the cover: text strokes make their rows respond.
    """
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    h, w = gray.shape
    mask = np.zeros((h, w), np.uint8)
    keep = np.ones((h, w), bool) if exclude is None else ~exclude
    margin = 3
    # axis 0: vertical lines (a wide, flat kernel); axis 1: horizontal lines (a tall one)
    for axis, ksize, extent in ((0, (7, 1), w), (1, (1, 7), h)):
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, ksize)
        tophat = cv2.morphologyEx(gray, cv2.MORPH_TOPHAT, kernel)
        hits = ((tophat > min_response) & keep).sum(axis=axis)
        cover = hits / np.maximum(keep.sum(axis=axis), 1)
        for i in range(margin, extent - margin):
            if cover[i] >= min_cover:
                r = 1
            elif _faint_line(cover, i, faint_cover, min_peak):
                r = 2
            else:
                continue
            if axis == 0:
                mask[:, max(0, i - r) : i + r + 1] = 1
            else:
                mask[max(0, i - r) : i + r + 1, :] = 1
    return mask > 0


def _faint_line(cover: np.ndarray, i: int, faint_cover: float, min_peak: float) -> bool:
    """``cover[i]`` is a thin local peak of at least ``faint_cover`` (see :func:`grid_mask`)."""
    c = cover[i]
    if c < faint_cover or i < 8 or i + 9 > len(cover):
        return False
    if c < cover[i - 1] or c < cover[i + 1]:
        return False
    around = max(cover[i - 8 : i - 2].max(), cover[i + 3 : i + 9].max())
    return c - around >= min_peak and c >= 3 * around


def _count_lines(mask: np.ndarray) -> int:
    """Number of separate full-length lines in a grid mask."""
    cols = np.flatnonzero(mask.all(axis=0))
    rows = np.flatnonzero(mask.all(axis=1))
    return sum(int(len(x) > 0) + int(np.count_nonzero(np.diff(x) > 1)) for x in (cols, rows))


def static_overlay_mask(
    frames: list[np.ndarray],
    tol: float = 12.0,
    min_agree: float = 0.8,
    min_contrast: float = 20.0,
    window: float = 0.065,
    max_frames: int = 40,
) -> np.ndarray | None:
    """Overlays drawn over the preview: structures fixed in frame coordinates while the
    content under them changes (crosshair, focus brackets, level line, zoom chips, grid).

    ``frames`` are same-size gray (or BGR) viewfinder frames of one video, from all its
    viewfinder runs (the more runs, the less a subject that happens to stay put is mistaken for
    an overlay). A pixel is an overlay pixel when it is within ``tol`` of its temporal median in
    at least ``min_agree`` of the frames (static) and that median image differs there from its
    own spatial median over ``window`` of the frame width by more than ``min_contrast``
    (a thin line or small glyph, not the inside of a flat region). Chrome and letterbox bars
    are static too but lie outside the photo crop. ``None`` with fewer than 3 frames.
    """
    frames = [f for f in frames if f.shape[:2] == frames[0].shape[:2]] if frames else []
    if len(frames) < 3:
        return None
    if len(frames) > max_frames:
        frames = [frames[round(k)] for k in np.linspace(0, len(frames) - 1, max_frames)]
    stack = np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) if f.ndim == 3 else f for f in frames])
    med = np.median(stack, axis=0).astype(np.uint8)
    agree = (np.abs(stack.astype(np.int16) - med.astype(np.int16)) <= tol).mean(axis=0)
    k = max(5, int(window * med.shape[1]) | 1)
    contrast = np.abs(med.astype(np.int16) - cv2.medianBlur(med, k).astype(np.int16))
    mask = (agree >= min_agree) & (contrast > min_contrast)
    return mask

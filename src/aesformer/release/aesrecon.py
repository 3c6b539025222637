"""Import a downloaded AesRecon folder as a split folder that :func:`build_release` accepts.

Users with the real dataset skip mining: ``import_aesrecon(path, out)`` then
``build_release(out, data/release)``. The input is the AesRecon layout
(:mod:`aesformer.release.layout`); the reader is lenient about which JSON files exist:

- ``images/good_images/`` and ``images/poor_images/`` are required;
- train / val pairs come from ``jsons/<split>/Stage2/*.jsonl`` (musubi-tuner lines
  ``image_path`` = good, ``control_path`` = poor, ``caption`` = plan); a poor image named only
  in ``Stage1_a`` (LLaMA-Factory JSON) or ``Stage1_b`` (EasyR1 JSONL) is paired with the good
  image of the same file name; when the Stage2 caption is empty the plan is taken from those;
- test pairs come from a ``{good image name: poor image name}`` object in ``jsons/test/``
  (``test_mapping.json``, else any JSON object of that shape); their plans, when present, from
  a ``{poor image name: plan}`` object (``reference_plans.json`` or a planner-output file).

Image paths inside the JSON files are matched by file name only (the published files carry
the authors' absolute paths). Every plan is parsed with :func:`aesformer.plans.parse`.

Output ``out``: ``pairs.jsonl`` (:class:`PairRecord`, split set), ``rejects.jsonl``
(``stage="import"``: ``bad_line``, ``missing_image``, ``no_plan``, ``bad_plan``, ``duplicate``,
``bad_name``), ``report.json`` (the summary) and the images at
``images/{good,poor}_images/<name>`` (hard links where possible).

AesRecon does not carry the mining provenance, so imported records have: ``pair_id`` = the good
image's file stem, ``video_id`` = ``pair_id`` (each pair its own "video"), ``video_sha256`` =
SHA-256 of the good image, ``event_index`` 0, times 0, empty ``narration`` / ``scores`` /
``checks``, no ``alignment``, ``teacher`` = ``aesrecon``.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from aesformer.errors import InputError, OutputError
from aesformer.fileio import ensure_dir, place_files, sha256_file
from aesformer.plans import parse
from aesformer.records import PairRecord, RejectRecord, atomic_write_text, write_jsonl
from aesformer.release import layout

log = logging.getLogger("aesformer.release")
STAGE = "import"
TEACHER = "aesrecon"


class Reason(StrEnum):
    """Reject codes of :func:`import_aesrecon` (``RejectRecord.reason``)."""

    BAD_LINE = "bad_line"  # a JSON line / entry that is not valid or lacks the needed keys
    MISSING_IMAGE = "missing_image"  # a named image is not in images/{good,poor}_images
    NO_PLAN = "no_plan"  # a train/val pair without any plan
    BAD_PLAN = "bad_plan"  # the plan text does not parse (aesformer.plans.parse)
    DUPLICATE = "duplicate"  # the good image (pair id) is already used by another pair
    BAD_NAME = "bad_name"  # the good image's stem is not usable as a pair id


@dataclass
class Candidate:
    """One pair as named by the JSON files, before its images and plan are checked."""

    split: str
    good: str | None
    poor: str | None
    plan_text: str | None
    source: str


def import_aesrecon(path: Path, out: Path, link_images: bool = True) -> dict[str, Any]:
    """Turn the AesRecon folder ``path`` into a split folder ``out``; returns the summary:
    ``pairs_in``, ``pairs_out``, ``rejected``, ``rejected_<reason>``, ``pairs_<split>``,
    ``plans_test``, ``unlisted_images`` (images no JSON file names) and ``seconds``."""
    start = time.perf_counter()
    root, out = Path(path), Path(out)
    if out.resolve() == root.resolve():
        raise OutputError(f"{out}: the output folder must differ from the AesRecon folder")
    goods = _image_names(root / layout.GOOD_DIR)
    poors = _image_names(root / layout.POOR_DIR)
    rejects: list[RejectRecord] = []
    candidates: list[Candidate] = []
    for split in layout.TRAINING_SPLITS:
        candidates += _training_candidates(root, split, goods, rejects)
    candidates += _test_candidates(root, rejects)

    pairs: list[PairRecord] = []
    used: set[str] = set()
    for cand in candidates:
        made = _pair(cand, root, goods, poors, used)
        if isinstance(made, RejectRecord):
            rejects.append(made)
            continue
        used.add(made.pair_id)
        pairs.append(made)

    ensure_dir(out)
    place_files((f for p in pairs for f in (p.poor_image, p.good_image)), root, out, link_images)
    named = {p.good_image for p in pairs} | {p.poor_image for p in pairs}
    every = {layout.good_path(n) for n in goods} | {layout.poor_path(n) for n in poors}
    counts = Counter(r.reason for r in rejects)
    splits = Counter(p.split for p in pairs)
    summary: dict[str, Any] = {
        "pairs_in": len(candidates),
        "pairs_out": len(pairs),
        "rejected": len(rejects),
        **{f"rejected_{reason.value}": counts.get(reason.value, 0) for reason in Reason},
        **{f"pairs_{name}": splits.get(name, 0) for name in layout.SPLITS},
        "plans_test": sum(1 for p in pairs if p.split == "test" and p.plan_text),
        "unlisted_images": len(every - named),
        "seconds": round(time.perf_counter() - start, 3),
    }
    write_jsonl(out / "pairs.jsonl", pairs)
    write_jsonl(out / "rejects.jsonl", rejects)
    report = {**summary, "source": str(root.resolve())}
    atomic_write_text(out / "report.json", json.dumps(report, indent=2, sort_keys=True) + "\n")
    log.info(
        "import-aesrecon: %d pairs (%s), %d rejected -> %s",
        len(pairs),
        ", ".join(f"{n} {splits.get(n, 0)}" for n in layout.SPLITS),
        len(rejects),
        out,
    )
    return summary


# --------------------------------------------------------------------------- reading the JSONs
def _image_names(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise InputError(
            f"{folder}: not found (an AesRecon folder has images/good_images and "
            "images/poor_images)"
        )
    return {
        p.name: p for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(".")
    }


def _name(value: Any) -> str | None:
    """File name of a path written on any system (``/a/b.png``, ``C:\\a\\b.png``, ``b.png``)."""
    if isinstance(value, list):
        value = value[0] if value else None
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    return PureWindowsPath(value).name if "\\" in value else PurePosixPath(value).name


def _json_lines(path: Path, rejects: list[RejectRecord]) -> list[tuple[str, dict[str, Any]]]:
    """``(file:line, object)`` per line of a JSONL file; bad lines become rejects."""
    rows = []
    with path.open(encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                rejects.append(_reject(Reason.BAD_LINE, where, f"not JSON: {exc.msg}"))
                continue
            if not isinstance(row, dict):
                rejects.append(_reject(Reason.BAD_LINE, where, "not a JSON object"))
                continue
            rows.append((where, row))
    return rows


def _json_file(path: Path, rejects: list[RejectRecord]) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except json.JSONDecodeError as exc:
        rejects.append(_reject(Reason.BAD_LINE, str(path), f"not JSON: {exc.msg}"))
        return None


def _files(folder: Path, pattern: str) -> list[Path]:
    return sorted(p for p in folder.glob(pattern) if p.is_file()) if folder.is_dir() else []


def _stage1_plans(root: Path, split: str, rejects: list[RejectRecord]) -> dict[str, str]:
    """``{poor image name: plan text}`` from the split's Stage1_a and Stage1_b files."""
    plans: dict[str, str] = {}
    stage1 = root / layout.JSONS / split
    for path in _files(stage1 / "Stage1_a", "*.json"):
        if path.name == "dataset_info.json":
            continue
        data = _json_file(path, rejects)
        for k, example in enumerate(data if isinstance(data, list) else []):
            poor = _name(example.get("images")) if isinstance(example, dict) else None
            answers = (
                [
                    m.get("content")
                    for m in (example.get("messages") or example.get("conversations") or [])
                    if isinstance(m, dict) and m.get("role", m.get("from")) in ("assistant", "gpt")
                ]
                if isinstance(example, dict)
                else []
            )
            if poor is None or not answers or not isinstance(answers[-1], str):
                rejects.append(_reject(Reason.BAD_LINE, f"{path}[{k}]", "no image or answer"))
                continue
            plans.setdefault(poor, answers[-1])
    for path in _files(stage1 / "Stage1_b", "*.jsonl"):
        for where, row in _json_lines(path, rejects):
            poor = _name(row.get("images") or row.get("image"))
            answer = row.get("answer") or row.get("solution")
            if poor is None or not isinstance(answer, str):
                rejects.append(_reject(Reason.BAD_LINE, where, "no images or answer"))
                continue
            plans.setdefault(poor, answer)
    return plans


def _training_candidates(
    root: Path, split: str, goods: dict[str, Path], rejects: list[RejectRecord]
) -> list[Candidate]:
    plans = _stage1_plans(root, split, rejects)
    candidates: list[Candidate] = []
    named_poor: set[str] = set()
    for path in _files(root / layout.JSONS / split / "Stage2", "*.jsonl"):
        for where, row in _json_lines(path, rejects):
            good = _name(row.get("image_path"))
            poor = _name(row.get("control_path") or row.get("control_path_0"))
            if good is None or poor is None:
                rejects.append(_reject(Reason.BAD_LINE, where, "no image_path or control_path"))
                continue
            caption = row.get("caption")
            plan = caption if isinstance(caption, str) and caption.strip() else plans.get(poor)
            candidates.append(Candidate(split, good, poor, plan, where))
            named_poor.add(poor)
    for poor, plan in sorted(plans.items()):
        if poor not in named_poor:  # named only in Stage1: pair with the same-named good image
            good = poor if poor in goods else None
            source = f"{root / layout.JSONS / split}/Stage1: {poor}"
            candidates.append(Candidate(split, good, poor, plan, source))
    return candidates


def _test_candidates(root: Path, rejects: list[RejectRecord]) -> list[Candidate]:
    folder = root / layout.TEST_DIR
    objects: list[tuple[Path, dict[str, str]]] = []
    for path in _files(folder, "*.json"):
        data = _json_file(path, rejects)
        if isinstance(data, dict) and all(isinstance(v, str) for v in data.values()):
            objects.append((path, data))

    def is_plans(data: dict[str, str]) -> bool:  # plan texts have tags; file names never do
        return bool(data) and all("<" in v for v in data.values())

    mappings = [o for o in objects if not is_plans(o[1])]
    mappings = [o for o in mappings if o[0].name == "test_mapping.json"] or mappings
    plan_objects = [o for o in objects if is_plans(o[1])]
    plan_objects = [o for o in plan_objects if o[0].name == "reference_plans.json"] or plan_objects
    plans = plan_objects[0][1] if plan_objects else {}
    if not mappings:
        return []
    path, mapping = mappings[0]
    return [
        Candidate("test", _name(good), _name(poor), plans.get(_name(poor) or ""), f"{path}: {good}")
        for good, poor in sorted(mapping.items())
    ]


# --------------------------------------------------------------------------- pairs
def _pair(
    cand: Candidate,
    root: Path,
    goods: dict[str, Path],
    poors: dict[str, Path],
    used: set[str],
) -> PairRecord | RejectRecord:
    for role, name, names in (("good", cand.good, goods), ("poor", cand.poor, poors)):
        if name is None or name not in names:
            folder = layout.GOOD_DIR if role == "good" else layout.POOR_DIR
            missing = root / folder / (name or "?")
            return _reject(Reason.MISSING_IMAGE, cand.source, f"{role} image not found: {missing}")
    assert cand.good is not None and cand.poor is not None
    pid = Path(cand.good).stem
    if not layout.SAFE_NAME.match(pid):
        return _reject(Reason.BAD_NAME, cand.source, f"{cand.good!r}: stem unusable as pair id")
    if pid in used:
        return _reject(Reason.DUPLICATE, cand.source, f"pair id {pid} already imported", pid)
    plan, plan_text = None, None
    if cand.plan_text is not None:
        parsed = parse(cand.plan_text)
        if not parsed.ok:
            return _reject(Reason.BAD_PLAN, cand.source, parsed.describe(), pid)
        plan, plan_text = parsed.plan.to_dict(), cand.plan_text
    elif cand.split in layout.TRAINING_SPLITS:
        return _reject(Reason.NO_PLAN, cand.source, f"{cand.split} pair without a plan", pid)
    return PairRecord(
        pair_id=pid,
        video_id=pid,
        video_sha256=sha256_file(goods[cand.good]),
        event_index=0,
        poor_time_s=0.0,
        good_time_s=0.0,
        poor_image=layout.poor_path(cand.poor),
        good_image=layout.good_path(cand.good),
        plan=plan,
        plan_text=plan_text,
        teacher=TEACHER,
        split=cand.split,  # type: ignore[arg-type]
    )


def _reject(reason: Reason, source: str, detail: str, pair_id: str | None = None) -> RejectRecord:
    return RejectRecord(
        stage=STAGE, reason=reason.value, source=source, detail=detail, pair_id=pair_id
    )


__all__ = ["STAGE", "TEACHER", "Reason", "import_aesrecon"]

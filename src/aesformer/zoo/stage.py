"""Stage ``models``: build the tiny thinker and editor bases (``aesformer models build-tiny``).

Offline and deterministic: the same :class:`~aesformer.config.ModelsConfig` gives byte-identical
folders (weights seeded from each ``tiny.seed``; no timestamps in any file), so DVC sees no change
on a re-run. One BPE model, sized by ``models.thinker.tiny.vocab_size``, backs both tokenizers.
"""

from __future__ import annotations

import logging
from pathlib import Path
from time import perf_counter
from typing import Any

from aesformer.config import ModelsConfig
from aesformer.zoo.editor import build_editor
from aesformer.zoo.thinker import build_thinker
from aesformer.zoo.tokenizer import train_bpe

log = logging.getLogger(__name__)

THINKER_DIR = "thinker"
EDITOR_DIR = "editor"


def build_tiny(cfg: ModelsConfig, out: Path) -> dict[str, Any]:
    """Write ``out/thinker`` and ``out/editor``; return parameter counts, sizes and seconds."""
    started = perf_counter()
    bpe = train_bpe(cfg.thinker.tiny.vocab_size)
    tokenizer_seconds = perf_counter() - started
    log.info("trained a %d-token BPE model in %.1f s", bpe.size, tokenizer_seconds)

    mark = perf_counter()
    thinker = build_thinker(cfg.thinker.tiny, bpe, out / THINKER_DIR)
    thinker["seconds"] = perf_counter() - mark
    log.info("thinker: %d parameters -> %s", thinker["parameters"], out / THINKER_DIR)

    mark = perf_counter()
    editor = build_editor(cfg.editor.tiny, bpe, out / EDITOR_DIR)
    editor["seconds"] = perf_counter() - mark
    log.info("editor: %d parameters -> %s", editor["parameters"], out / EDITOR_DIR)

    return {
        "tokenizer": {"bpe_vocab_size": bpe.size, "seconds": tokenizer_seconds},
        "thinker": thinker,
        "editor": editor,
        "seconds": perf_counter() - started,
    }

"""The cache step: frozen VAE latents and text-encoder states of every pair, computed once.

For each Stage 2 pair the cache holds one safetensors shard ``<cache>/items/<key>.safetensors``:

| tensor | shape | what |
|---|---|---|
| ``target`` | (C, h, w) | the good image's VAE latent (mode, normalised per channel with the VAE's ``latents_mean``/``latents_std``), at the target bucket (``target_area``) |
| ``control`` | (C, hc, wc) | the poor image's latent at ``control_area`` (the condition) |
| ``prompt_embeds`` | (L, D) | the text encoder's last hidden states of the plan in the pipeline's prompt template with the poor image (at ``text_image_area``) as "Picture 1", the template's system prefix dropped |

and, as string metadata, the pair (``name``, ``good``, ``poor``, ``plan``), the sizes in pixels
and the key. Everything is computed with the pipeline's own helpers (``image_processor``,
``_encode_vae_image``, ``encode_prompt``), so training sees exactly what inference feeds the
transformer.

``key`` = SHA-256 of the two images' bytes, the plan, the model id (path or hub id + revision +
the tiny build's content hash), the three areas, the dtype and :data:`CACHE_VERSION`: a re-run
skips every pair whose shard exists; a changed image, plan, model or size makes a new shard
(old shards are left in place, as ``mine``'s cache). A pair whose image cannot be read is
reported (file and reason) and skipped; the others go on.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image, UnidentifiedImageError
from safetensors import safe_open
from safetensors.torch import save_file

from aesformer.config import EditorConfig
from aesformer.editor.data import EditPair, fit_area, load_pairs
from aesformer.errors import InputError
from aesformer.fileio import atomic_path, sha256_file, write_text

log = logging.getLogger(__name__)

#: Bump when what a shard holds (or how it is computed) changes.
CACHE_VERSION = "1"
ITEMS = "items"
INDEX = "index.json"


@dataclass(frozen=True)
class CachedPair:
    """One shard, loaded."""

    target: torch.Tensor
    control: torch.Tensor
    prompt_embeds: torch.Tensor
    meta: dict[str, Any]

    @property
    def bucket(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Batches hold pairs of one bucket: the same target and control latent sizes."""
        return (tuple(self.target.shape), tuple(self.control.shape))


@dataclass
class CacheResult:
    shards: dict[str, list[Path]] = field(default_factory=dict)  # split -> shard paths
    failed: list[dict[str, str]] = field(default_factory=list)  # {"where", "file", "reason"}
    hits: int = 0
    misses: int = 0
    shared: SharedCache | None = None

    def summary(self) -> dict[str, Any]:
        out = {
            "cache_hits": self.hits,
            "cache_misses": self.misses,
            "cache_failed": len(self.failed),
            **{f"{split}_pairs": len(paths) for split, paths in self.shards.items()},
        }
        if self.shared is not None:
            out |= {
                "cache_shared_hits": self.shared.fetched,
                "cache_shared_puts": self.shared.published,
                "cache_shared_errors": self.shared.errors,
            }
        return out


class SharedCache:
    """The shared store of shards (``cfg.cache_url``: ``s3://bucket/prefix`` or a folder),
    through fsspec (s3fs): a worker fetches a shard another one encoded before encoding it,
    and publishes each shard it encodes. Shards are named by their content key, so concurrent
    workers can only write identical bytes; a fetched shard whose ``key`` metadata differs is
    discarded. The store is an accelerator, never a dependency: an error reaching it is
    logged and counted (``errors``) and the worker goes on with its local cache. Credentials
    come from the environment (``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` or
    ``AWS_PROFILE``), never from params."""

    def __init__(self, url: str, endpoint_url: str | None = None) -> None:
        from fsspec.core import url_to_fs

        options: dict[str, Any] = {}
        if url.startswith("s3://") and endpoint_url:
            options["client_kwargs"] = {"endpoint_url": endpoint_url}
        self.fs, root = url_to_fs(url, **options)
        self.root = root.rstrip("/") + "/" + ITEMS
        self.url = url
        self.fetched = self.published = self.errors = 0
        self._damaged: set[str] = set()  # keys whose stored shard failed its check

    def _remote(self, key: str) -> str:
        return f"{self.root}/{key}.safetensors"

    def fetch(self, key: str, dest: Path) -> bool:
        """Copy the shard ``key`` into ``dest`` (atomically); ``False`` when it is not there."""
        remote = self._remote(key)
        try:
            if not self.fs.exists(remote):
                return False
            with atomic_path(dest) as tmp:
                self.fs.get_file(remote, str(tmp))
                try:
                    stored = _shard_key(tmp)
                except Exception as exc:  # noqa: BLE001 - safetensors' own error types
                    stored = f"unreadable ({exc})"
                if stored != key:
                    self._damaged.add(key)
                    raise ValueError(f"the stored shard is damaged: key {stored}")
        except Exception as exc:  # noqa: BLE001 - any store error: go on locally
            self._error("fetch", key, exc)
            return False
        self.fetched += 1
        return True

    def publish(self, key: str, path: Path) -> None:
        """Upload the local shard ``path`` unless the store has it already (a damaged one
        found by :meth:`fetch` is replaced)."""
        try:
            remote = self._remote(key)
            if key in self._damaged or not self.fs.exists(remote):
                self.fs.put_file(str(path), remote)
                self.published += 1
        except Exception as exc:  # noqa: BLE001 - any store error: go on locally
            self._error("publish", key, exc)

    def _error(self, action: str, key: str, exc: Exception) -> None:
        self.errors += 1
        log.warning("editor cache: %s of %s at %s failed: %s", action, key, self.url, exc)


def _shard_key(path: Path) -> str | None:
    with safe_open(str(path), framework="pt") as handle:
        return (handle.metadata() or {}).get("key")


def model_id(base_model: str | Path, revision: str | None) -> str:
    """What identifies the frozen encoders: the reference, the revision and, for a local
    folder, its build's content hash (``build_info.json``) so a rebuilt tiny base is a new id."""
    ident = f"{base_model}@{revision or ''}"
    info = Path(base_model) / "build_info.json"
    if info.is_file():
        try:
            ident += "#" + json.loads(info.read_text(encoding="utf-8"))["content_sha256"]
        except (OSError, ValueError, KeyError):
            raise InputError(f"{info}: unreadable build info (no content_sha256)") from None
    return ident


def pair_key(
    pair: EditPair, release_dir: Path, model: str, cfg: EditorConfig, dtype: torch.dtype
) -> str:
    """The shard key of ``pair`` (raises ``OSError`` when an image file cannot be read)."""
    digest = hashlib.sha256()
    for part in (
        CACHE_VERSION,
        sha256_file(release_dir / pair.good),
        sha256_file(release_dir / pair.poor),
        pair.plan,
        model,
        f"{cfg.target_area}:{cfg.control_area}:{cfg.text_image_area}",
        str(dtype),
    ):
        digest.update(part.encode("utf-8") + b"\0")
    return digest.hexdigest()


def open_rgb(path: Path) -> Image.Image:
    """The image at ``path`` in RGB; :class:`InputError` naming the file when it is unreadable."""
    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except FileNotFoundError:
        raise InputError(f"{path}: image not found") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(f"{path}: not a readable image ({exc})") from None


@torch.no_grad()
def vae_latent(pipe: Any, image: Image.Image, width: int, height: int) -> torch.Tensor:
    """The normalised VAE latent (C, h, w) of ``image`` at ``width`` x ``height`` px."""
    vae = pipe.vae
    pixels = pipe.image_processor.preprocess(image, height, width).unsqueeze(2)
    pixels = pixels.to(device=vae.device, dtype=vae.dtype)
    return pipe._encode_vae_image(pixels, generator=None)[0, :, 0]


@torch.no_grad()
def prompt_states(pipe: Any, plan: str, poor: Image.Image, cfg: EditorConfig) -> torch.Tensor:
    """The text encoder's states (L, D) of ``plan`` with ``poor`` as the condition picture."""
    width, height = fit_area(poor.width, poor.height, cfg.text_image_area)
    condition = pipe.image_processor.resize(poor, height, width)
    embeds, mask = pipe.encode_prompt(
        prompt=plan, image=[condition], device=pipe.text_encoder.device
    )
    if mask is not None:  # one prompt: no padding, but be exact if a mask comes back
        embeds = embeds[:, mask[0].bool()]
    return embeds[0]


def encode_pair(pipe: Any, pair: EditPair, release_dir: Path, cfg: EditorConfig) -> dict:
    """The tensors and metadata of one shard."""
    good = open_rgb(release_dir / pair.good)
    poor = open_rgb(release_dir / pair.poor)
    tw, th = fit_area(good.width, good.height, cfg.target_area)
    cw, ch = fit_area(poor.width, poor.height, cfg.control_area)
    tensors = {
        "target": vae_latent(pipe, good, tw, th),
        "control": vae_latent(pipe, poor, cw, ch),
        "prompt_embeds": prompt_states(pipe, pair.plan, poor, cfg),
    }
    meta = {
        "name": pair.name,
        "good": pair.good,
        "poor": pair.poor,
        "plan": pair.plan,
        "target_size": json.dumps([tw, th]),
        "control_size": json.dumps([cw, ch]),
        "source_size": json.dumps([good.width, good.height, poor.width, poor.height]),
    }
    return {"tensors": {k: v.detach().cpu().contiguous() for k, v in tensors.items()}, "meta": meta}


def build_cache(
    pipe: Any,
    cfg: EditorConfig,
    release_dir: Path,
    cache_dir: Path,
    model: str,
    splits: tuple[str, ...] = ("train", "val"),
) -> CacheResult:
    """Encode every pair of ``splits`` not yet in ``cache_dir``; return the shards per split.

    Raises :class:`InputError` when a split ends up with no usable pair.
    """
    release_dir, cache_dir = Path(release_dir), Path(cache_dir)
    items = cache_dir / ITEMS
    shared = SharedCache(cfg.cache_url, cfg.cache_endpoint_url) if cfg.cache_url else None
    result = CacheResult(shared=shared)
    dtype = pipe.transformer.dtype
    for split in splits:
        paths = []
        for pair in load_pairs(release_dir, split):
            try:
                key = pair_key(pair, release_dir, model, cfg, dtype)
            except OSError as exc:
                bad = exc.filename or pair.good
                result.failed.append(
                    {"where": pair.where, "file": str(bad), "reason": exc.strerror or str(exc)}
                )
                log.warning("editor cache: %s: %s (%s), skipped", pair.where, bad, exc.strerror)
                continue
            path = items / f"{key}.safetensors"
            if path.is_file() or (shared is not None and shared.fetch(key, path)):
                result.hits += 1
                paths.append(path)
                continue
            try:
                shard = encode_pair(pipe, pair, release_dir, cfg)
            except InputError as exc:
                file, _, reason = str(exc).partition(": ")
                result.failed.append({"where": pair.where, "file": file, "reason": reason})
                log.warning("editor cache: %s: %s, skipped", pair.where, exc)
                continue
            with atomic_path(path) as tmp:
                save_file(shard["tensors"], str(tmp), metadata={**shard["meta"], "key": key})
            if shared is not None:
                shared.publish(key, path)
            result.misses += 1
            paths.append(path)
        if not paths:
            raise InputError(
                f"{release_dir}: no usable {split} pair for the editor "
                f"({len(result.failed)} failed: {result.failed[:2]})"
            )
        result.shards[split] = paths
    index = {
        "version": CACHE_VERSION,
        "model": model,
        "areas": {
            "target": cfg.target_area,
            "control": cfg.control_area,
            "text_image": cfg.text_image_area,
        },
        "splits": {s: [p.name for p in ps] for s, ps in result.shards.items()},
        "failed": result.failed,
    }
    write_text(cache_dir / INDEX, json.dumps(index, indent=2, sort_keys=True) + "\n")
    return result


def load_shard(path: Path) -> CachedPair:
    """Read one shard; :class:`InputError` naming it when it is damaged."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = dict(handle.metadata() or {})
            tensors = {k: handle.get_tensor(k) for k in ("target", "control", "prompt_embeds")}
    except Exception as exc:  # safetensors raises its own error types
        raise InputError(
            f"{path}: unreadable cache shard ({exc}); delete it to re-encode"
        ) from None
    for key in ("target_size", "control_size", "source_size"):
        if key in meta:
            meta[key] = json.loads(meta[key])
    return CachedPair(meta=meta, **tensors)

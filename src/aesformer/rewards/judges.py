"""Judges of the GRPO rewards: one interface, ``score(images, prompt) -> float`` in [0, 1].

- :class:`LogitJudge` is the paper's method: a VLM is asked for a one-token answer "0".."5";
  the score is the expected value of the softmax over the six digit tokens' logits, divided
  by 5 (:func:`expected_digit_score`). Two transports read the digit logits:
  :class:`TransformersTransport` (a local VLM, one forward pass, the logits at the answer
  position) and :class:`OpenAICompatibleTransport` (a vLLM / OpenAI-compatible server asked
  for ``max_tokens=1`` with ``logprobs``/``top_logprobs``).
- :class:`~aesformer.rewards.embedding.EmbeddingJudge` and
  :class:`~aesformer.rewards.rules.RulesJudge` are the offline judges; they read the same
  rubric prompts (:mod:`aesformer.rewards.rubrics`) through the same interface.

Judges report failures by raising :class:`JudgeError`; the reward layer turns a failure into
reward 0 for that sample and counts it. Images are PIL images or ``H x W x 3`` uint8 arrays in
RGB order (convert OpenCV's BGR first).
"""

from __future__ import annotations

import base64
import io
import json
import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import httpx
import numpy as np
from PIL import Image

from aesformer.config import JudgeEndpointConfig

log = logging.getLogger("aesformer.rewards")

#: The answer tokens of the 0..5 scale (Qwen tokenizes numbers digit by digit: one token each).
DIGITS: tuple[str, ...] = ("0", "1", "2", "3", "4", "5")
#: The top of the scale: a score is E[digit] / MAX_DIGIT.
MAX_DIGIT = len(DIGITS) - 1
RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
JPEG_QUALITY = 90

ImageLike = Image.Image | np.ndarray


class JudgeError(RuntimeError):
    """A judge could not score a sample (transport failure, unusable answer, bad input)."""


@runtime_checkable
class Judge(Protocol):
    """Anything that scores a rubric prompt (with the photo when the rubric needs it)."""

    name: str

    def score(self, images: Sequence[ImageLike], prompt: str) -> float:
        """The score of ``prompt`` in [0, 1]; raises :class:`JudgeError` on failure."""
        ...


# --------------------------------------------------------------------------- the math
def expected_digit_score(values_by_token: Mapping[str, float]) -> float:
    """E[digit] / 5 under the softmax over the digit tokens "0".."5" only, in [0, 1].

    ``values_by_token`` maps tokens to logits or log-probabilities (a softmax of log-probabilities
    is the renormalised probability, so both give the same result). Tokens other than the six
    digits are ignored; a digit that is absent (not among a server's top logprobs) or ``-inf``
    gets zero mass. Raises :class:`JudgeError` when no digit has finite mass or a value is NaN.
    """
    digits = [(int(t), float(values_by_token[t])) for t in DIGITS if t in values_by_token]
    if any(math.isnan(v) for _, v in digits):
        raise JudgeError("a digit logit is NaN")
    finite = [(d, v) for d, v in digits if math.isfinite(v)]
    if not finite:
        raise JudgeError('none of the digits "0".."5" is among the judge\'s answer tokens')
    top = max(v for _, v in finite)
    weights = [(d, math.exp(v - top)) for d, v in finite]
    total = sum(w for _, w in weights)
    expected = sum(d * w for d, w in weights) / total
    return min(1.0, max(0.0, expected / MAX_DIGIT))


# --------------------------------------------------------------------------- images
def to_pil(image: ImageLike, max_side: int | None = None) -> Image.Image:
    """An RGB PIL image, its long side capped at ``max_side`` (aspect ratio kept)."""
    if isinstance(image, np.ndarray):
        if image.ndim == 2:
            image = np.stack([image] * 3, axis=-1)
        if image.ndim != 3 or image.shape[2] not in (3, 4):
            raise JudgeError(f"image array must be H x W x 3 (RGB), got shape {image.shape}")
        pil = Image.fromarray(np.ascontiguousarray(image[..., :3]).astype(np.uint8), "RGB")
    elif isinstance(image, Image.Image):
        pil = image.convert("RGB")
    else:
        raise JudgeError(f"not an image: {type(image).__name__}")
    if max_side and max(pil.size) > max_side:
        scale = max_side / max(pil.size)
        size = (max(1, round(pil.width * scale)), max(1, round(pil.height * scale)))
        pil = pil.resize(size, Image.Resampling.LANCZOS)
    return pil


def data_url(image: Image.Image) -> str:
    """A PIL image as a ``data:image/jpeg;base64,...`` URL."""
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=JPEG_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


# --------------------------------------------------------------------------- transports
class DigitTransport(Protocol):
    """Reads the judge's log-scale values of the digit tokens at the answer position."""

    def digit_values(self, images: Sequence[Image.Image], prompt: str) -> dict[str, float]: ...

    def digit_values_batch(
        self, items: Sequence[tuple[Sequence[Image.Image], str]]
    ) -> list[dict[str, float] | JudgeError]: ...


class TransformersTransport:
    """A local VLM: one forward pass over chat template + images, logits at the answer position.

    The model loads on first use (:meth:`setup`) with ``AutoModelForImageTextToText``,
    safetensors only and no remote code; the processor with ``AutoProcessor``, or the project's
    image-only processor class when the folder names one (the tiny base, see
    :mod:`aesformer.zoo.processors`). Batches are padded on the left, so the last position of
    every row is its answer position. The digit tokens must each be one token of the tokenizer.
    """

    def __init__(
        self,
        model_path: str | Path,
        *,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 4,
    ) -> None:
        self.model_path = str(model_path)
        self.device = device
        self.dtype = dtype
        self.batch_size = batch_size
        self._model: Any = None
        self._processor: Any = None
        self._digit_ids: list[int] = []

    def setup(self) -> None:
        """Load the model, the processor and the digit token ids (once)."""
        if self._model is not None:
            return
        import torch
        from transformers import AutoModelForImageTextToText

        device = self.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = self.dtype if self.dtype == "auto" else getattr(torch, self.dtype)
        model = AutoModelForImageTextToText.from_pretrained(
            self.model_path, dtype=dtype, use_safetensors=True, trust_remote_code=False
        )
        processor = _load_processor(self.model_path)
        tokenizer = processor.tokenizer
        ids = []
        for digit in DIGITS:
            encoded = tokenizer.encode(digit, add_special_tokens=False)
            if len(encoded) != 1:
                raise JudgeError(
                    f"{self.model_path}: digit {digit!r} is {len(encoded)} tokens, not one"
                )
            ids.append(encoded[0])
        tokenizer.padding_side = "left"
        self._model = model.to(device).eval()
        self._processor = processor
        self._digit_ids = ids

    def _chat_text(self, images: Sequence[Image.Image], prompt: str) -> str:
        content = [{"type": "image"} for _ in images] + [{"type": "text", "text": prompt}]
        messages = [{"role": "user", "content": content}]
        return self._processor.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )

    def _forward(
        self, items: Sequence[tuple[Sequence[Image.Image], str]]
    ) -> list[dict[str, float]]:
        import torch

        texts = [self._chat_text(imgs, prompt) for imgs, prompt in items]
        flat = [img for imgs, _ in items for img in imgs]
        kwargs: dict[str, Any] = {"text": texts, "padding": True, "return_tensors": "pt"}
        if flat:
            kwargs["images"] = flat
        inputs = self._processor(**kwargs).to(self._model.device)
        with torch.inference_mode():
            logits = self._model(**inputs, logits_to_keep=1).logits[:, -1, :]
        digit_logits = logits[:, self._digit_ids].float().cpu().tolist()
        return [dict(zip(DIGITS, row, strict=True)) for row in digit_logits]

    def digit_values(self, images: Sequence[Image.Image], prompt: str) -> dict[str, float]:
        self.setup()
        try:
            return self._forward([(images, prompt)])[0]
        except JudgeError:
            raise
        except (RuntimeError, ValueError, TypeError, IndexError) as exc:
            raise JudgeError(f"judge forward pass failed: {type(exc).__name__}: {exc}") from exc

    def digit_values_batch(
        self, items: Sequence[tuple[Sequence[Image.Image], str]]
    ) -> list[dict[str, float] | JudgeError]:
        """Score in left-padded batches of ``batch_size``; a failed batch is retried per item."""
        self.setup()
        out: list[dict[str, float] | JudgeError] = []
        for start in range(0, len(items), self.batch_size):
            chunk = items[start : start + self.batch_size]
            try:
                out.extend(self._forward(chunk))
            except (RuntimeError, ValueError, TypeError, IndexError) as exc:
                log.warning("rewards: judge batch failed (%s); scoring one by one", exc)
                for imgs, prompt in chunk:
                    try:
                        out.append(self.digit_values(imgs, prompt))
                    except JudgeError as err:
                        out.append(err)
        return out


def _load_processor(model_path: str) -> Any:
    """``AutoProcessor``, or the image-only processor class named in the folder's config.

    The tiny bases name :class:`~aesformer.zoo.processors.Qwen3VLImageOnlyProcessor` (the
    stock Qwen processors need torchvision); ``AutoProcessor`` does not know that class and
    would return only the tokenizer.
    """
    from transformers import AutoProcessor

    config = Path(model_path) / "processor_config.json"
    if config.is_file():
        name = json.loads(config.read_text(encoding="utf-8")).get("processor_class", "")
        from aesformer.zoo import processors as image_only

        cls = getattr(image_only, name, None) if name.endswith("ImageOnlyProcessor") else None
        if cls is not None:
            return cls.from_pretrained(model_path)
    processor = AutoProcessor.from_pretrained(model_path, trust_remote_code=False)
    if not hasattr(processor, "image_processor"):
        raise JudgeError(f"{model_path}: no image processor (AutoProcessor gave {type(processor)})")
    return processor


class OpenAICompatibleTransport:
    """A chat-completions server (vLLM) asked for one token with its top log-probabilities.

    Request: the rubric prompt with the images as JPEG ``data:`` URLs, ``max_tokens=1``,
    ``temperature=0``, ``logprobs=true``, ``top_logprobs=cfg.top_logprobs``. The digit values
    are the log-probabilities of "0".."5" among the returned alternatives of the first answer
    token (token text stripped of whitespace; variants of one digit are summed); absent digits
    get zero mass in :func:`expected_digit_score`. Connection errors, timeouts, 429 and 5xx
    are retried ``http_retries`` times; then, and on any other HTTP error or a response without
    logprobs, :class:`JudgeError`. The API key is read from the environment at call time.
    """

    def __init__(
        self,
        cfg: JudgeEndpointConfig,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.cfg = cfg
        self._transport = transport
        self._sleep = sleep
        self._client: httpx.Client | None = None
        self.requests = 0  # HTTP requests sent, retries included

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                base_url=self.cfg.base_url.rstrip("/") + "/",
                timeout=self.cfg.timeout_s,
                transport=self._transport,
            )
        return self._client

    def close(self) -> None:
        """Close the HTTP connection pool."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _headers(self) -> dict[str, str]:
        key = os.environ.get(self.cfg.api_key_env, "") if self.cfg.api_key_env else ""
        return {"Authorization": f"Bearer {key}"} if key else {}

    def payload(self, images: Sequence[Image.Image], prompt: str) -> dict[str, Any]:
        """The chat-completions request body of one judgement."""
        content: list[dict[str, Any]] = [
            {"type": "image_url", "image_url": {"url": data_url(img)}} for img in images
        ]
        content.append({"type": "text", "text": prompt})
        return {
            "model": self.cfg.model,
            "messages": [{"role": "user", "content": content}],
            "max_tokens": 1,
            "temperature": 0.0,
            "logprobs": True,
            "top_logprobs": self.cfg.top_logprobs,
        }

    def digit_values(self, images: Sequence[Image.Image], prompt: str) -> dict[str, float]:
        return digit_logprobs(self._post(self.payload(images, prompt)))

    def digit_values_batch(
        self, items: Sequence[tuple[Sequence[Image.Image], str]]
    ) -> list[dict[str, float] | JudgeError]:
        """Concurrent requests (at most ``max_concurrency`` in flight), results in input order."""

        def one(item: tuple[Sequence[Image.Image], str]) -> dict[str, float] | JudgeError:
            try:
                return self.digit_values(*item)
            except JudgeError as err:
                return err

        if len(items) <= 1 or self.cfg.max_concurrency == 1:
            return [one(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self.cfg.max_concurrency, len(items))) as pool:
            return list(pool.map(one, items))

    def _post(self, payload: dict[str, Any]) -> Any:
        last = ""
        for attempt in range(self.cfg.http_retries + 1):
            if attempt:
                delay = self.cfg.backoff_s * 2 ** (attempt - 1)
                log.warning("rewards judge: %s; retry %d in %.1fs", last, attempt, delay)
                self._sleep(delay)
            self.requests += 1
            try:
                resp = self.client.post("chat/completions", json=payload, headers=self._headers())
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__} from {self.cfg.base_url}"
                continue
            if resp.status_code in RETRY_STATUS:
                last = f"HTTP {resp.status_code} from {self.cfg.base_url}"
                continue
            if resp.status_code >= 400:
                raise JudgeError(
                    f"HTTP {resp.status_code} from {self.cfg.base_url}: {resp.text[:200]}"
                )
            try:
                return resp.json()
            except ValueError:
                raise JudgeError(f"non-JSON response from {self.cfg.base_url}") from None
        raise JudgeError(f"{last} (after {self.cfg.http_retries} retries)")


def digit_logprobs(body: Any) -> dict[str, float]:
    """The digit log-probabilities of the first answer token of a chat-completions response.

    Reads ``choices[0].logprobs.content[0]``: its ``top_logprobs`` list (``{"token", "logprob"}``)
    and the sampled token itself. Token texts are stripped of whitespace; several variants of one
    digit (``"5"``, ``" 5"``) are combined by summing their probabilities.
    """
    try:
        first = body["choices"][0]["logprobs"]["content"][0]
        alternatives = list(first.get("top_logprobs") or [])
        alternatives.append({"token": first["token"], "logprob": first["logprob"]})
    except (KeyError, IndexError, TypeError, AttributeError):
        raise JudgeError("response has no choices[0].logprobs.content[0] (logprobs off?)") from None
    seen: set[tuple[str, float]] = set()
    mass: dict[str, float] = {}
    for alt in alternatives:
        try:
            token, value = str(alt["token"]), float(alt["logprob"])
        except (KeyError, TypeError, ValueError):
            raise JudgeError(f"unusable top_logprobs entry {alt!r}") from None
        if (token, value) in seen:  # the sampled token is usually also in the list
            continue
        seen.add((token, value))
        digit = token.strip()
        if digit in DIGITS and math.isfinite(value):
            mass[digit] = mass.get(digit, 0.0) + math.exp(value)
    return {d: math.log(p) for d, p in mass.items() if p > 0}


# --------------------------------------------------------------------------- the judge
class LogitJudge:
    """The paper's judge: E[digit] / 5 over the digit logits read by ``transport``."""

    name = "logit"

    def __init__(self, transport: DigitTransport, *, max_image_side: int | None = 512) -> None:
        self.transport = transport
        self.max_image_side = max_image_side

    def setup(self) -> None:
        """Load the transport's model now (a local VLM); a server is not contacted."""
        setup = getattr(self.transport, "setup", None)
        if setup is not None:
            setup()

    def _prepare(self, images: Sequence[ImageLike]) -> list[Image.Image]:
        return [to_pil(img, self.max_image_side) for img in images]

    def score(self, images: Sequence[ImageLike], prompt: str) -> float:
        return expected_digit_score(self.transport.digit_values(self._prepare(images), prompt))

    def score_batch(
        self, items: Sequence[tuple[Sequence[ImageLike], str]]
    ) -> list[float | JudgeError]:
        """Scores of many ``(images, prompt)`` at once; a failed item is its :class:`JudgeError`."""
        prepared: list[tuple[Sequence[Image.Image], str]] = []
        failed: dict[int, JudgeError] = {}
        for i, (images, prompt) in enumerate(items):
            try:
                prepared.append((self._prepare(images), prompt))
            except JudgeError as err:
                failed[i] = err
                prepared.append(([], ""))
        todo = [i for i in range(len(items)) if i not in failed]
        values = self.transport.digit_values_batch([prepared[i] for i in todo])
        out: list[float | JudgeError] = [
            failed.get(i, JudgeError("not scored")) for i in range(len(items))
        ]
        for i, value in zip(todo, values, strict=True):
            if isinstance(value, JudgeError):
                out[i] = value
                continue
            try:
                out[i] = expected_digit_score(value)
            except JudgeError as err:
                out[i] = err
        return out

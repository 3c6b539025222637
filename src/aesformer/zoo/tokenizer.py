"""The byte-level BPE tokenizer of the tiny models, trained offline on an in-code corpus.

The real Qwen3-VL and Qwen2.5-VL tokenizers are byte-level BPE models (NFC normalizer, the Qwen
pre-tokenizer regex, byte-level alphabet) followed by added tokens: the special control tokens
(``<|im_start|>``, ``<|vision_start|>``, ``<|image_pad|>`` ...) and a few non-special ones
(``<tool_call>``, ``<think>`` ...). The tiny tokenizer keeps that exact structure with a small
vocabulary:

- :func:`train_bpe` trains the BPE model with the ``tokenizers`` library on :func:`training_corpus`
  (photography editing plans over the seven plan dimensions, plus generic English); it is fully
  deterministic, so the same ``vocab_size`` always gives the same merges;
- :func:`build_tokenizer` wraps it as a :class:`~transformers.Qwen2Tokenizer` (the class the hub
  checkpoints name) and appends the added tokens of the requested model family after the BPE
  vocabulary, in Qwen's order, so the id layout mirrors the real one (BPE ids first, then
  ``<|endoftext|>``, ``<|im_start|>`` ...);
- the thinker flavour also gets the 14 plan tags (:data:`PLAN_TAGS`) as single-id added tokens via
  :func:`add_plan_tags`, which works on the real hub tokenizer too.

Plan tags are added as *non-special* tokens (like Qwen's ``<think>``): each is one id and is never
split, and ``decode(..., skip_special_tokens=True)`` keeps them, which the reward functions that
parse decoded plans rely on.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, trainers
from tokenizers.models import BPE
from transformers import PreTrainedTokenizerBase, Qwen2Tokenizer
from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

from aesformer.errors import ConfigError

Flavour = Literal["qwen3_vl", "qwen2_5_vl"]

#: The seven dimensions of an AesThinker editing plan, in plan order.
PLAN_DIMENSIONS: tuple[str, ...] = (
    "Ratio",
    "Composition",
    "Camera",
    "Position",
    "Pose",
    "Focus",
    "Color",
)
#: ``<Ratio>``, ``</Ratio>``, ``<Composition>`` ... one opening and one closing tag per dimension.
PLAN_TAGS: tuple[str, ...] = tuple(t for d in PLAN_DIMENSIONS for t in (f"<{d}>", f"</{d}>"))

ENDOFTEXT = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
VISION_START = "<|vision_start|>"
VISION_END = "<|vision_end|>"
IMAGE_PAD = "<|image_pad|>"
VIDEO_PAD = "<|video_pad|>"
#: The tokens whose ids the model configs reference.
CONFIG_TOKENS = (IMAGE_PAD, VIDEO_PAD, VISION_START, VISION_END, IM_END, ENDOFTEXT)

#: Special control tokens shared by Qwen2.5-VL and Qwen3-VL, in their id order (151643...).
QWEN_SPECIAL_TOKENS: tuple[str, ...] = (
    ENDOFTEXT,
    IM_START,
    IM_END,
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    VISION_START,
    VISION_END,
    "<|vision_pad|>",
    IMAGE_PAD,
    VIDEO_PAD,
)
#: Non-special added tokens that follow, per model family (Qwen3 adds tool responses and thinking).
QWEN_ADDED_TOKENS: dict[Flavour, tuple[str, ...]] = {
    "qwen2_5_vl": (
        "<tool_call>",
        "</tool_call>",
        "<|fim_prefix|>",
        "<|fim_middle|>",
        "<|fim_suffix|>",
        "<|fim_pad|>",
        "<|repo_name|>",
        "<|file_sep|>",
    ),
    "qwen3_vl": (
        "<tool_call>",
        "</tool_call>",
        "<|fim_prefix|>",
        "<|fim_middle|>",
        "<|fim_suffix|>",
        "<|fim_pad|>",
        "<|repo_name|>",
        "<|file_sep|>",
        "<tool_response>",
        "</tool_response>",
        "<think>",
        "</think>",
    ),
}

#: Context length written to the tokenizer config (the tiny models' ``max_position_embeddings``).
MODEL_MAX_LENGTH = 8192
#: Embedding rows are the token count rounded up to a multiple of this: like Qwen's matrices
#: (151669 tokens, 151936 rows), the model has spare rows beyond ``len(tokenizer)``.
EMBEDDING_MULTIPLE = 128
#: Seed of the corpus generator; fixed so the tokenizer only depends on ``vocab_size``.
CORPUS_SEED = 20260101
#: Sampled plans in the corpus (each a full seven-tag plan, plus one free-text paraphrase).
CORPUS_PLANS = 1500
#: Leading corpus entries repeated in upper and title case (tutorial titles and captions).
CASED_SAMPLES = 400


# --------------------------------------------------------------------------- chat templates
def chat_template(default_system: str | None) -> str:
    """Qwen's ChatML template with image/video content items.

    ``default_system=None`` gives the Qwen3-VL Instruct behaviour (no system turn unless the
    conversation has one); a string gives the Qwen2-VL/Qwen2.5-VL behaviour (that system prompt
    is inserted when the first message is not a system message). Content may be a string or a
    list of items; an item with type ``image`` (or an ``image``/``image_url`` key) renders as
    ``<|vision_start|><|image_pad|><|vision_end|>``, ``add_vision_id=True`` prefixes
    ``Picture N: ``. Roles other than system/user/assistant are rejected.
    """
    default_turn = (
        ""
        if default_system is None
        else "{%- if loop.first and message.role != 'system' -%}"
        "{{- '<|im_start|>system\\n" + default_system + "<|im_end|>\\n' -}}{%- endif -%}"
    )
    return (
        "{%- set image_count = namespace(value=0) -%}"
        "{%- set video_count = namespace(value=0) -%}"
        "{%- for message in messages -%}"
        + default_turn
        + "{%- if message.role not in ['system', 'user', 'assistant'] -%}"
        "{{- raise_exception('unsupported role: ' + message.role) -}}{%- endif -%}"
        "{{- '<|im_start|>' + message.role + '\\n' -}}"
        "{%- if message.content is string -%}{{- message.content -}}"
        "{%- else -%}{%- for item in message.content -%}"
        "{%- if item.type == 'image' or 'image' in item or 'image_url' in item -%}"
        "{%- set image_count.value = image_count.value + 1 -%}"
        "{%- if add_vision_id -%}{{- 'Picture ' + image_count.value|string + ': ' -}}{%- endif -%}"
        "{{- '<|vision_start|><|image_pad|><|vision_end|>' -}}"
        "{%- elif item.type == 'video' or 'video' in item -%}"
        "{%- set video_count.value = video_count.value + 1 -%}"
        "{%- if add_vision_id -%}{{- 'Video ' + video_count.value|string + ': ' -}}{%- endif -%}"
        "{{- '<|vision_start|><|video_pad|><|vision_end|>' -}}"
        "{%- elif 'text' in item -%}{{- item.text -}}{%- endif -%}"
        "{%- endfor -%}{%- endif -%}"
        "{{- '<|im_end|>\\n' -}}"
        "{%- endfor -%}"
        "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
    )


#: Qwen3-VL-8B-Instruct: no default system turn.
QWEN3_VL_CHAT_TEMPLATE = chat_template(None)
#: Qwen2.5-VL (the Qwen-Image text encoder): "You are a helpful assistant." by default.
QWEN2_5_VL_CHAT_TEMPLATE = chat_template("You are a helpful assistant.")


# --------------------------------------------------------------------------- corpus
_RATIO = (
    "1:1", "4:3", "3:4", "3:2", "2:3", "16:9", "9:16", "4:5", "5:4", "21:9", "2:1", "1:2",
)  # fmt: skip
_RATIO_REASONS = (
    "to give the horizon room", "so the subject fills the frame", "to suit a portrait",
    "to remove the distracting edge", "to emphasise the vertical lines", "for a cinematic feel",
    "to keep the reflection", "to balance sky and ground", "for a tighter, calmer frame",
    "to echo the shape of the building", "so the leading line runs corner to corner",
)  # fmt: skip
_COMPOSITION = (
    "rule of thirds", "centered symmetry", "leading lines", "diagonal composition",
    "frame within a frame", "negative space", "golden spiral", "triangular grouping",
    "foreground interest", "layered depth", "S-curve", "radial balance", "minimalist layout",
    "repetition and pattern", "high horizon", "low horizon",
)  # fmt: skip
_COMPOSITION_HOW = (
    "align the subject with the upper left intersection", "let the road lead toward the subject",
    "keep the horizon straight and level", "use the doorway as a natural frame",
    "leave open sky above the figure", "place the tree trunk along the right vertical line",
    "balance the bright window with the dark sofa", "remove clutter from the lower edge",
    "let the fence converge into the distance", "repeat the arches across the frame",
)  # fmt: skip
_CAMERA = (
    "eye level", "a low angle", "a high angle", "a bird's-eye view", "a worm's-eye view",
    "chest height", "waist height", "knee height", "an overhead position", "a slight Dutch tilt",
)  # fmt: skip
_CAMERA_MOVES = (
    "step two paces back", "move one metre closer", "shift slightly to the left",
    "shift slightly to the right", "crouch down", "raise the tripod", "tilt up by ten degrees",
    "tilt down by fifteen degrees", "pan toward the light", "zoom out to a wider field of view",
    "switch to a 35 mm lens", "switch to an 85 mm lens", "use a 24 mm wide angle lens",
)  # fmt: skip
_POSITION = (
    "left third", "right third", "upper third", "lower third", "centre", "lower left corner",
    "upper right corner", "middle ground", "foreground", "background edge",
)  # fmt: skip
_POSITION_WHY = (
    "with space in front of the gaze", "away from the bright lamp post", "so the head is not cut",
    "leaving breathing room at the top", "against the plain wall", "clear of the busy crowd",
    "where the light falls softly", "so the feet stay inside the frame",
)  # fmt: skip
_POSE = (
    "turn the shoulders slightly away from the camera", "lift the chin a little",
    "look past the lens toward the window", "relax both hands", "shift the weight onto one leg",
    "lean gently against the railing", "tuck the elbow away from the body",
    "walk slowly toward the camera", "sit upright on the edge of the bench",
    "look back over the shoulder", "hold the cup with both hands", "soften the smile",
)  # fmt: skip
_FOCUS = (
    "the nearest eye", "the face", "the flower in the foreground", "the hands", "the sign",
    "the middle of the bridge", "the dog's nose", "the texture of the bark", "the cup",
)  # fmt: skip
_FOCUS_HOW = (
    "with a wide aperture of f/1.8", "at f/2.8 for a shallow depth of field",
    "at f/8 so the background stays sharp", "with a soft, creamy bokeh",
    "with the background gently blurred", "keeping the whole scene in focus",
    "using single point autofocus", "with a slightly longer focal length",
)  # fmt: skip
_COLOR = (
    "warm the white balance", "cool the shadows", "lower the saturation of the greens",
    "raise the contrast", "lift the shadows", "recover the highlights",
    "add a gentle teal and orange grade", "brighten the exposure by half a stop",
    "reduce the magenta cast", "deepen the blue of the sky", "mute the bright red jacket",
    "keep the skin tones natural", "add a soft golden hour glow", "convert to black and white",
)  # fmt: skip
_COLOR_MOOD = (
    "for a calm, quiet mood", "for a nostalgic film look", "to make the subject stand out",
    "for a clean and airy feel", "to match the evening light", "for a dramatic atmosphere",
)  # fmt: skip
_SUBJECTS = (
    "woman", "man", "child", "couple", "dog", "cyclist", "musician", "dancer", "chef",
    "old fisherman", "street vendor", "student", "runner", "family", "bride", "skateboarder",
)  # fmt: skip
_SCENES = (
    "on a busy street", "in a quiet park", "by the sea", "in a small kitchen", "under a bridge",
    "at a train station", "in a snowy forest", "on a rooftop at dusk", "in a sunlit cafe",
    "beside a lake", "in a narrow alley", "in front of a brick wall", "in a flower market",
)  # fmt: skip
_GENERIC_ENGLISH = (
    "The quick brown fox jumps over the lazy dog while the children watch from the window.",
    "Please describe the picture in detail, including the people, objects and background.",
    "A photograph records light, but a good photograph also records a feeling.",
    "We walked along the river in the morning and stopped for coffee near the old mill.",
    "The weather changed quickly; by noon the clouds had gathered and the wind was cold.",
    "Every picture tells a story, and the photographer decides which part to show.",
    "She opened the book, read the first page twice, and smiled at the familiar words.",
    "The museum was crowded, so they visited the garden and the library instead.",
    "Explain how the instruction should change the image while keeping it consistent.",
    "Light from the left side creates long shadows that reveal the shape of the face.",
    "He carefully cleaned the lens, checked the battery and packed a spare memory card.",
    "In the evening the city lights reflect on the wet pavement like scattered stars.",
    "Thank you for your question; here is a short answer followed by a longer explanation.",
    "Good editing is invisible: the viewer notices the subject, not the adjustments.",
    "The train was late, but the view of the mountains made the wait worthwhile.",
    "Numbers such as 1, 2, 3, 10, 50, 100 and 2026 appear in dates, prices and settings.",
    "What is the main subject of this image, and where is it located in the frame?",
    "They painted the fence white, planted tomatoes and built a small wooden shed.",
    "Children were playing football on the beach as the sun slowly went down.",
    "The report summarises the results, discusses the limitations and suggests next steps.",
    "Before you start, read the instructions, gather your tools and clear the table.",
    "A gentle breeze moved the curtains and carried the smell of fresh bread inside.",
    "Is the photo too dark, too bright, or balanced? Answer yes or no and explain why.",
    "Our team reviewed hundreds of images and selected the ones with the strongest mood.",
    "The model reads the image, thinks about the problem and writes a clear plan.",
    "Colours look different at sunrise, at midday and under the artificial light of a shop.",
    "If the horizon is tilted, rotate the image until the sea looks level again.",
    "Portraits feel more natural when the person is relaxed and the light is soft.",
    "The cat slept on the warm windowsill while rain tapped against the glass.",
    "Write the answer in English, keep it short and use the requested format.",
    "Scientists measured the temperature of the glacier every month for twelve years.",
    "Mix the flour, sugar and butter, then bake the cake for forty minutes.",
    "The orchestra rehearsed the symphony until the conductor was finally satisfied.",
    "Our flight departs at seven, so we should leave for the airport before five.",
    "The committee approved the budget after a long debate about salaries and taxes.",
    "Bees collect nectar from clover, lavender and apple blossoms throughout the summer.",
    "The goalkeeper jumped high, stretched his gloves and pushed the ball over the bar.",
    "A volcano erupted near the island, sending ash and smoke into the atmosphere.",
    "Developers fixed the bug, wrote new tests and released an updated version today.",
    "The village market sells cheese, honey, olives, eggs and freshly baked pastries.",
    "Astronomers discovered a distant planet orbiting a small, cool, reddish star.",
    "The lawyer argued that the contract was invalid because nobody had signed it.",
    "Farmers harvested wheat and barley before the heavy autumn storms arrived.",
    "The hospital hired more nurses to reduce waiting times in the emergency department.",
    "Tourists queued outside the cathedral to admire the stained glass and ancient tombs.",
    "Her grandmother knitted scarves, gloves and sweaters for the whole neighbourhood.",
    "Engineers designed a lighter bicycle frame using carbon fibre and aluminium alloys.",
    "The teacher explained fractions with pizza slices, which delighted every pupil.",
    "Whales migrate thousands of kilometres between feeding grounds and warm lagoons.",
    "The journalist interviewed witnesses, verified sources and published the article.",
    "Mountaineers climbed through fog and ice, reaching the summit just after dawn.",
    "The factory produces furniture, cabinets and shelves from recycled timber.",
    "Voters will choose a new mayor, several councillors and a regional governor.",
    "The pharmacist recommended drinking water, resting and taking vitamins daily.",
    "Owls hunt at night, gliding silently above meadows in search of mice and voles.",
    "The startup raised funding from investors to expand into European markets.",
    "Ancient merchants traded silk, spices, silver and porcelain along caravan routes.",
    "The plumber replaced the leaking pipe and adjusted the pressure of the boiler.",
    "Penguins huddle together to survive freezing winds on the Antarctic coast.",
    "The novel follows three siblings who inherit a mysterious lighthouse in Cornwall.",
    "Researchers analysed genetic data to understand how the virus spreads.",
    "Carpenters sanded the oak table, applied varnish and polished the brass handles.",
    "The festival featured jazz bands, puppet shows, acrobats and fireworks at midnight.",
    "Economists predict that inflation will decline gradually during the next quarter.",
    "The gardener pruned the roses, watered the hedges and raked the fallen leaves.",
    "Firefighters rescued a kitten trapped on the balcony of the burning apartment.",
    "Chemistry students mixed acids and bases carefully while wearing protective goggles.",
    "The marathon route passes parks, bridges, monuments and a famous stadium.",
    "A thunderstorm knocked out electricity, so we lit candles and played chess.",
    "The architect proposed a glass pavilion surrounded by fountains and terraces.",
)  # fmt: skip


def _plan(rng: random.Random) -> str:
    """One full editing plan: the seven tagged dimensions in plan order."""
    subject = rng.choice(_SUBJECTS)
    parts = {
        "Ratio": f"Crop to {rng.choice(_RATIO)} {rng.choice(_RATIO_REASONS)}.",
        "Composition": f"Use {rng.choice(_COMPOSITION)}; {rng.choice(_COMPOSITION_HOW)}.",
        "Camera": f"Shoot from {rng.choice(_CAMERA)} and {rng.choice(_CAMERA_MOVES)}.",
        "Position": f"Place the {subject} in the {rng.choice(_POSITION)} {rng.choice(_POSITION_WHY)}.",
        "Pose": f"Ask the {subject} to {rng.choice(_POSE)}.",
        "Focus": f"Focus on {rng.choice(_FOCUS)} {rng.choice(_FOCUS_HOW)}.",
        "Color": f"{rng.choice(_COLOR).capitalize()} {rng.choice(_COLOR_MOOD)}.",
    }
    return "".join(f"<{d}>{parts[d]}</{d}>" for d in PLAN_DIMENSIONS)


def _paraphrase(rng: random.Random) -> str:
    """The same vocabulary as free text, as it appears in tutorial narration and critiques."""
    subject = rng.choice(_SUBJECTS)
    return (
        f"This photo of a {subject} {rng.choice(_SCENES)} would look better if you "
        f"{rng.choice(_CAMERA_MOVES)}, {rng.choice(_COMPOSITION_HOW)} and {rng.choice(_COLOR)} "
        f"{rng.choice(_COLOR_MOOD)}."
    )


def training_corpus() -> list[str]:
    """The deterministic corpus the tiny BPE model is trained on (plans, narration, English)."""
    rng = random.Random(CORPUS_SEED)
    corpus: list[str] = []
    for _ in range(CORPUS_PLANS):
        corpus.append(_plan(rng))
        corpus.append(_paraphrase(rng))
    corpus.extend(_GENERIC_ENGLISH * 8)
    # Titles and subtitles: the same sentences in upper and title case.
    corpus.extend(text.upper() for text in corpus[:CASED_SAMPLES])
    corpus.extend(text.title() for text in corpus[:CASED_SAMPLES])
    corpus.extend(text.upper() for text in _GENERIC_ENGLISH)
    return corpus


# --------------------------------------------------------------------------- BPE
@dataclass(frozen=True)
class BpeModel:
    """A trained byte-level BPE model: vocabulary (token → id) and ordered merges."""

    vocab: dict[str, int]
    merges: list[tuple[str, str]]

    @property
    def size(self) -> int:
        return len(self.vocab)


def _qwen_pipeline(tokenizer: Tokenizer) -> Tokenizer:
    """Install Qwen2's normalizer, pre-tokenizer and decoder (as ``Qwen2Tokenizer`` builds them)."""
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer


def train_bpe(vocab_size: int) -> BpeModel:
    """Train a byte-level BPE model of exactly ``vocab_size`` tokens (256 bytes + merges).

    Raises :class:`ConfigError` when the corpus cannot support that many tokens (about 4500).
    """
    # Added tokens are cut out of the text before the BPE model sees it, at inference as well as
    # here: train on the pieces between plan tags so that "<Ratio>Crop" learns "Crop".
    tag_pattern = re.compile("|".join(re.escape(tag) for tag in PLAN_TAGS))
    texts = [piece for text in training_corpus() for piece in tag_pattern.split(text) if piece]
    tokenizer = _qwen_pipeline(
        Tokenizer(
            BPE(
                unk_token=None,
                continuing_subword_prefix="",
                end_of_word_suffix="",
                fuse_unk=False,
                byte_fallback=False,
            )
        )
    )
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=1,
        show_progress=False,
        special_tokens=[],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(texts, trainer=trainer, length=len(texts))
    model = json.loads(tokenizer.to_str())["model"]
    vocab: dict[str, int] = model["vocab"]
    if len(vocab) != vocab_size:
        raise ConfigError(
            f"models.thinker.tiny.vocab_size: {vocab_size} tokens requested but the built-in corpus "
            f"supports at most {len(vocab)}"
        )
    return BpeModel(vocab=vocab, merges=[(a, b) for a, b in model["merges"]])


# --------------------------------------------------------------------------- wrapping
def add_plan_tags(tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """Add the 14 plan tags as single-id, non-special added tokens; return their ids in order.

    Tags already present are left alone, so this is safe on any Qwen tokenizer (the real one has
    spare embedding rows: 151669 tokens for 151936 rows, so no resize is needed there either).
    """
    tokenizer.add_tokens([AddedToken(tag, special=False, normalized=False) for tag in PLAN_TAGS])
    return tokenizer.convert_tokens_to_ids(list(PLAN_TAGS))


def build_tokenizer(bpe: BpeModel, flavour: Flavour) -> Qwen2Tokenizer:
    """A ``Qwen2Tokenizer`` over ``bpe`` with the added tokens of ``flavour`` in Qwen's id order.

    ``qwen3_vl`` (thinker): Qwen3-VL tokens, the plan tags, the Qwen3-VL chat template.
    ``qwen2_5_vl`` (editor text encoder): Qwen2.5-VL tokens and chat template, no plan tags.
    ``<|im_end|>`` is the end-of-sequence token and ``<|endoftext|>`` the padding token, as in
    the instruct checkpoints.
    """
    # Qwen2Tokenizer adds its eos/pad tokens on construction: start with <|endoftext|> only so
    # that it gets the first id after the BPE vocabulary, as in Qwen, then add the rest in order.
    tokenizer = Qwen2Tokenizer(
        vocab=dict(bpe.vocab),
        merges=list(bpe.merges),
        unk_token=None,
        eos_token=ENDOFTEXT,
        pad_token=ENDOFTEXT,
        model_max_length=MODEL_MAX_LENGTH,
    )
    tokenizer.add_special_tokens(
        {
            "extra_special_tokens": [
                AddedToken(t, special=True, normalized=False) for t in QWEN_SPECIAL_TOKENS[1:]
            ]
        }
    )
    tokenizer.eos_token = IM_END
    tokenizer.add_tokens(
        [AddedToken(t, special=False, normalized=False) for t in QWEN_ADDED_TOKENS[flavour]]
    )
    if flavour == "qwen3_vl":
        add_plan_tags(tokenizer)
        tokenizer.chat_template = QWEN3_VL_CHAT_TEMPLATE
    else:
        tokenizer.chat_template = QWEN2_5_VL_CHAT_TEMPLATE
    expected = list(range(bpe.size, bpe.size + len(QWEN_SPECIAL_TOKENS)))
    got = tokenizer.convert_tokens_to_ids(list(QWEN_SPECIAL_TOKENS))
    if got != expected:
        raise RuntimeError(f"special token ids {got} do not follow the BPE vocabulary {expected}")
    return tokenizer


def token_ids(tokenizer: PreTrainedTokenizerBase, tokens: Sequence[str]) -> dict[str, int]:
    """Ids of added tokens; raises ``KeyError`` for a token the tokenizer does not have."""
    ids = tokenizer.convert_tokens_to_ids(list(tokens))
    missing = [
        t
        for t, i in zip(tokens, ids, strict=True)
        if i is None or tokenizer.convert_ids_to_tokens(i) != t
    ]
    if missing:
        raise KeyError(f"not tokens of this tokenizer: {missing}")
    return dict(zip(tokens, ids, strict=True))


def embedding_rows(tokenizer_size: int) -> int:
    """Rows of the embedding matrix for ``tokenizer_size`` tokens (see :data:`EMBEDDING_MULTIPLE`)."""
    return -(-tokenizer_size // EMBEDDING_MULTIPLE) * EMBEDDING_MULTIPLE

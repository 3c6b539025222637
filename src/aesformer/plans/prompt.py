"""The planner instruction: what AesThinker (and an annotating teacher) is asked to write."""

from __future__ import annotations

from aesformer.plans.schema import DIMENSIONS, NO_CHANGE

#: The task, in this project's words (the paper's planner instruction, paraphrased).
PLANNER_PROMPT = (
    "You are a photography coach. Look at this real-world portrait photo and write step-by-step "
    "instructions that an image-editing model can carry out to turn it into a more beautiful "
    "photo. Improve it only through photographic choices: aspect ratio, framing and "
    "composition, camera position and viewpoint, where the subject stands, the subject's pose, "
    "focus and depth of field, colour and light. Keep the person's identity and appearance and "
    "keep the scene the same place. Work only with the people and things already in the "
    "photo: never add a new object or person."
)


def format_instructions() -> str:
    """How the answer must be laid out: the seven headers in order, each action in its tag."""
    lines = "\n".join(f"{d.header} {d.open_tag}...{d.close_tag}" for d in DIMENSIONS)
    return (
        "Answer with exactly these seven lines, in this order, and nothing else; put one short, "
        "concrete action inside each pair of tags, or "
        f'"{NO_CHANGE}" where that aspect should stay as it is:\n{lines}'
    )


#: The full planner instruction: the task plus the required output format.
PLANNER_INSTRUCTION = f"{PLANNER_PROMPT}\n\n{format_instructions()}"

"""The rubric prompts the judges score: one text format, read by a VLM and by the offline judges.

A rubric prompt is the rubric (what a 0..5 answer means, "answer with one digit") followed by
the plans in fenced blocks. A VLM judge reads it as text; the offline judges
(:class:`~aesformer.rewards.embedding.EmbeddingJudge`,
:class:`~aesformer.rewards.rules.RulesJudge`) read the plans back with
:meth:`AlignmentRequest.from_prompt` / :meth:`CreativityRequest.from_prompt`, so every judge
sees exactly the same request through the one ``score(images, prompt)`` interface.

The candidate block comes last and runs to the final end fence, so a candidate may contain
any text (even a fence line of another block) without confusing the reader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aesformer.plans import NO_CHANGE

REFERENCE_OPEN = "=== reference plan ==="
CANDIDATE_OPEN = "=== candidate plan ==="
CANDIDATE_CLOSE = "=== end of candidate plan ==="
OTHER_OPEN_RE = re.compile(r"^=== other plan \d+ ===$", re.MULTILINE)
OTHERS_CLOSE = "=== end of other plans ==="

ALIGNMENT_RUBRIC = (
    "You grade an editing plan for a portrait photo against the reference plan a photographer "
    "wrote for the same photo. Each plan has seven dimensions: aspect ratio, framing and "
    "composition, camera position and viewpoint, subject position, subject pose, depth of field "
    "and focus, colour and lighting; "
    f'"{NO_CHANGE}" means that dimension stays as it is.\n'
    "Score from 0 to 5 how well the candidate plan matches the reference plan's editing intent "
    "and key operations, dimension by dimension, ignoring wording:\n"
    "5 = the same operations in every dimension; 4 = the same intent with small differences; "
    "3 = most key operations agree; 2 = some agree, others are missing or different; "
    "1 = little agreement; 0 = unrelated, contradictory or not a plan.\n"
    "Answer with a single digit from 0 to 5 and nothing else."
)

CREATIVITY_RUBRIC = (
    "The image is an ordinary portrait photo. The candidate plan below tells an image-editing "
    "model how to retake it as a more beautiful photo of the same person in the same place.\n"
    "Score from 0 to 5 how specific and executable the plan's edits are for this photo. "
    "Structural edits (crop and aspect ratio, camera viewpoint, subject placement, pose) with "
    "concrete amounts, directions and body or scene parts score high. A generic plan, a "
    "colour-only plan or a timid plan (hardly any structural change) scores at most 2. "
    "A plan that adds any new object or person scores 0.\n"
    "Answer with a single digit from 0 to 5 and nothing else."
)


class RubricFormatError(ValueError):
    """The prompt is not a rubric prompt of the expected kind."""


def _candidate_block(candidate: str) -> str:
    return f"{CANDIDATE_OPEN}\n{candidate}\n{CANDIDATE_CLOSE}"


def _read_candidate(prompt: str) -> tuple[str, str]:
    """``(text before the candidate block, candidate)``."""
    head, sep, rest = prompt.partition(f"\n{CANDIDATE_OPEN}\n")
    if not sep:
        raise RubricFormatError("no candidate plan block")
    candidate, sep, _ = rest.rpartition(f"\n{CANDIDATE_CLOSE}")
    if not sep:
        raise RubricFormatError("candidate plan block is not closed")
    return head, candidate


@dataclass(frozen=True)
class AlignmentRequest:
    """The alignment rubric: a candidate plan text vs the reference plan text."""

    candidate: str
    reference: str

    def prompt(self) -> str:
        return (
            f"{ALIGNMENT_RUBRIC}\n\n{REFERENCE_OPEN}\n{self.reference}\n"
            f"{_candidate_block(self.candidate)}"
        )

    @classmethod
    def from_prompt(cls, prompt: str) -> AlignmentRequest:
        head, candidate = _read_candidate(prompt)
        _, sep, reference = head.partition(f"\n{REFERENCE_OPEN}\n")
        if not sep:
            raise RubricFormatError("no reference plan block (not an alignment prompt)")
        return cls(candidate=candidate, reference=reference)


@dataclass(frozen=True)
class CreativityRequest:
    """The creativity rubric: a candidate plan, optionally with the other plans of its group."""

    candidate: str
    others: tuple[str, ...] = ()

    def prompt(self) -> str:
        parts = [CREATIVITY_RUBRIC, ""]
        if self.others:
            parts.append("Other plans written for the same photo (a plan unlike them is novel):")
            for i, other in enumerate(self.others, 1):
                parts.append(f"=== other plan {i} ===\n{other}")
            parts.append(OTHERS_CLOSE)
        parts.append(_candidate_block(self.candidate))
        return "\n".join(parts)

    @classmethod
    def from_prompt(cls, prompt: str) -> CreativityRequest:
        head, candidate = _read_candidate(prompt)
        if not head.startswith(CREATIVITY_RUBRIC):
            raise RubricFormatError("not a creativity prompt")
        others: tuple[str, ...] = ()
        if f"\n{OTHERS_CLOSE}" in head:
            block = head.rpartition(f"\n{OTHERS_CLOSE}")[0]
            pieces = OTHER_OPEN_RE.split(block)[1:]
            others = tuple(p.strip("\n") for p in pieces)
        return cls(candidate=candidate, others=others)

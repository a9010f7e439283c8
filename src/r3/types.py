"""Shared types that flow through r3: verdicts, sampling settings, completions and episodes.

Everything here is a frozen dataclass or a Protocol, so the data a stage hands to the next cannot be changed behind
its back. Stages: a `Task` builds prompts and gives `Verdict`s; a `Generator` turns prompts into `Completion`s; the
episode engine assembles `Episode`s; mining, training and evaluation consume them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, Sequence

Message = dict[str, str]
"""One chat message: {"role": "system" | "user" | "assistant", "content": str}."""


@dataclass(frozen=True)
class Verdict:
    """A verifier's answer: binary correctness and a short human-readable reason.

    `error` marks a verdict the verifier could not reach (it raised or ran out of time): such a verdict is always
    incorrect, and callers count them apart ("verifier errors: N") so that a broken reward is seen, not learned.
    It defaults to False so that records written before it existed still load.
    """

    correct: bool
    reason: str
    error: bool = False


@dataclass(frozen=True)
class PromptTemplates:
    """A user's wording for a task's turns; None keeps the task's own.

    Each is a template in which `{field}` stands for the example's field of that name (only the task's known fields
    are substituted, so JSON braces survive). In the reflection and retry instructions `{reason}` is the verifier's
    reason for the failure, filled in when the conversation is built (`r3.conversation`).
    """

    system_prompt: str | None = None
    prompt_template: str | None = None
    reflection_instruction: str | None = None
    retry_instruction: str | None = None


@dataclass(frozen=True)
class SamplingParams:
    """How to sample. `top_k=0` means no top-k filter (TRL's default; transformers' own default would be 50)."""

    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    max_new_tokens: int = 256
    seed: int | None = None


@dataclass(frozen=True)
class Completion:
    """One sampled continuation. `finish_reason` is "stop" (end of turn) or "length" (token budget spent).

    `token_ids` are the generated ids without the end-of-turn token (empty from generators that give text only):
    r3.conversation puts them, not re-encoded text, into the next prompt."""

    text: str
    num_tokens: int
    finish_reason: str = "stop"
    token_ids: tuple[int, ...] = ()


class Generator(Protocol):
    """A generation backend: chat prompts in, `params.n` completions per prompt out, in prompt order."""

    def generate(self, prompts: Sequence[Sequence[Message]], params: SamplingParams) -> list[list[Completion]]: ...


@dataclass(frozen=True)
class Attempt:
    """One attempt at the task and its verdict."""

    text: str
    num_tokens: int
    verdict: Verdict


@dataclass(frozen=True)
class Episode:
    """Attempt, verify; on failure reflect and retry, up to `max_attempts` attempts.

    `reflections[i]` was written after `attempts[i]` failed and precedes `attempts[i + 1]`, so a finished episode has
    `len(reflections) == len(attempts) - 1`.
    """

    index: int
    problem_id: str
    example: dict[str, Any]
    prompt: tuple[Message, ...]
    attempts: tuple[Attempt, ...] = ()
    reflections: tuple[Completion, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def solved_at(self) -> int | None:
        """1-based number of the first correct attempt, or None if no attempt was correct."""
        for number, attempt in enumerate(self.attempts, start=1):
            if attempt.verdict.correct:
                return number
        return None

    def solved_within(self, k: int) -> bool:
        solved = self.solved_at
        return solved is not None and solved <= k

    def to_dict(self) -> dict[str, Any]:
        record = asdict(self)
        record["prompt"] = list(self.prompt)
        record["solved_at"] = self.solved_at
        return record

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Episode:
        return cls(
            index=record["index"],
            problem_id=record["problem_id"],
            example=record["example"],
            prompt=tuple(record["prompt"]),
            attempts=tuple(
                Attempt(a["text"], a["num_tokens"], Verdict(**a["verdict"])) for a in record["attempts"]
            ),
            reflections=tuple(Completion(**{**r, "token_ids": tuple(r.get("token_ids", ()))})
                              for r in record["reflections"]),
            extra=record.get("extra", {}),
        )

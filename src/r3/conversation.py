"""The one place that lays out the reflect-retry conversation.

Evaluation, mining and training must show the model exactly the same messages, so they all build them here:

    [*prompt, assistant: attempt 1, user: reflection instruction]                     -> the model reflects
    [*prompt, assistant: attempt 1, user: reflection instruction,
     assistant: reflection 1, user: retry instruction]                                -> the model retries
    ... and so on for later rounds.

An instruction may contain the placeholder `{reason}`, replaced by the verifier's reason for the failure.
"""

from __future__ import annotations

from typing import Sequence

from r3.types import Message


def _fill(instruction: str, reason: str) -> str:
    return instruction.replace("{reason}", reason)


def reflection_messages(
    prompt: Sequence[Message],
    attempts: Sequence[str],
    reflections: Sequence[str],
    reasons: Sequence[str],
    reflection_instruction: str,
    retry_instruction: str,
) -> list[Message]:
    """Messages that ask for a reflection on the last of `attempts` (which failed for `reasons[-1]`)."""
    if len(reflections) != len(attempts) - 1 or len(reasons) != len(attempts):
        raise ValueError("need one reason per attempt and one reflection fewer than attempts")
    messages = [dict(m) for m in prompt]
    for i, attempt in enumerate(attempts):
        messages.append({"role": "assistant", "content": attempt})
        messages.append({"role": "user", "content": _fill(reflection_instruction, reasons[i])})
        if i < len(reflections):
            messages.append({"role": "assistant", "content": reflections[i]})
            messages.append({"role": "user", "content": _fill(retry_instruction, reasons[i])})
    return messages


def retry_messages(
    prompt: Sequence[Message],
    attempts: Sequence[str],
    reflections: Sequence[str],
    reasons: Sequence[str],
    reflection_instruction: str,
    retry_instruction: str,
) -> list[Message]:
    """Messages that ask for a new attempt after the last of `reflections`."""
    if len(reflections) != len(attempts) or len(reasons) != len(attempts):
        raise ValueError("need one reason and one reflection per failed attempt")
    messages = reflection_messages(
        prompt, attempts, reflections[:-1], reasons, reflection_instruction, retry_instruction
    )
    messages.append({"role": "assistant", "content": reflections[-1]})
    messages.append({"role": "user", "content": _fill(retry_instruction, reasons[-1])})
    return messages

"""The one place that lays out the reflect-retry conversation.

Evaluation, mining and training must show the model exactly the same thing, so they all build it here:

    [*prompt, assistant: attempt 1, user: reflection instruction]                     -> the model reflects
    [*prompt, assistant: attempt 1, user: reflection instruction,
     assistant: reflection 1, user: retry instruction]                                -> the model retries
    ... and so on for later rounds.

Two forms of the same layout:
- token ids (`reflection_prompt_ids`, `retry_prompt_ids`, `continue_ids`): what the model is given. The first
  prompt is rendered by the chat template; each earlier turn is the token ids the model generated (its end-of-turn
  token cut), and the template renders only the joints between turns (`ChatTemplate.next_turn_ids`). So a template
  that rewrites earlier assistant turns (Qwen3 drops their `<think>` part) cannot hide the attempt's reasoning, and
  the retry is conditioned on exactly the reflection ids that GRPO trains (never decoded and re-encoded).
- messages (`reflection_messages`, `retry_messages`): the same conversation as text, for logs, TRL's prompt column,
  and generators that take messages only.

`strip_reasoning=True` shows only the part of each earlier turn after its reasoning (`</think>`), in both forms.
An instruction may contain the placeholder `{reason}`, replaced by the verifier's reason for the failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from r3.types import Message

THINK_END = "</think>"


def _fill(instruction: str, reason: str) -> str:
    return instruction.replace("{reason}", reason)


def answer_text(text: str) -> str:
    """The text after the reasoning of a turn (`...</think>`), as Qwen3's template would show it."""
    return text.split(THINK_END)[-1].lstrip("\n") if THINK_END in text else text


def _shown(strip_reasoning: bool):
    """How an earlier turn's text is shown: whole, or only what follows its reasoning."""
    return answer_text if strip_reasoning else (lambda text: text)


def fold_system_prompt(messages: Sequence[Message]) -> list[Message]:
    """For templates without a system role: the system prompt becomes the head of the first user turn."""
    messages = [dict(m) for m in messages]
    if not messages or messages[0]["role"] != "system":
        return messages
    system, rest = messages[0]["content"], messages[1:]
    if rest and rest[0]["role"] == "user":
        rest[0]["content"] = f"{system}\n\n{rest[0]['content']}"
        return rest
    return [{"role": "user", "content": system}, *rest]


def _check_rounds(attempts: Sequence, reflections: Sequence, reasons: Sequence, retry: bool) -> None:
    fewer = 0 if retry else 1
    if len(reflections) != len(attempts) - fewer or len(reasons) != len(attempts):
        raise ValueError("need one reason per attempt and one reflection per failed attempt before the next turn")


def reflection_messages(
    prompt: Sequence[Message],
    attempts: Sequence[str],
    reflections: Sequence[str],
    reasons: Sequence[str],
    reflection_instruction: str,
    retry_instruction: str,
    *,
    strip_reasoning: bool = False,
) -> list[Message]:
    """Messages that ask for a reflection on the last of `attempts` (which failed for `reasons[-1]`)."""
    _check_rounds(attempts, reflections, reasons, retry=False)
    shown = _shown(strip_reasoning)
    messages = [dict(m) for m in prompt]
    for i, attempt in enumerate(attempts):
        messages.append({"role": "assistant", "content": shown(attempt)})
        messages.append({"role": "user", "content": _fill(reflection_instruction, reasons[i])})
        if i < len(reflections):
            messages.append({"role": "assistant", "content": shown(reflections[i])})
            messages.append({"role": "user", "content": _fill(retry_instruction, reasons[i])})
    return messages


def retry_messages(
    prompt: Sequence[Message],
    attempts: Sequence[str],
    reflections: Sequence[str],
    reasons: Sequence[str],
    reflection_instruction: str,
    retry_instruction: str,
    *,
    strip_reasoning: bool = False,
) -> list[Message]:
    """Messages that ask for a new attempt after the last of `reflections`."""
    _check_rounds(attempts, reflections, reasons, retry=True)
    messages = reflection_messages(prompt, attempts, reflections[:-1], reasons, reflection_instruction,
                                   retry_instruction, strip_reasoning=strip_reasoning)
    messages.append({"role": "assistant", "content": _shown(strip_reasoning)(reflections[-1])})
    messages.append({"role": "user", "content": _fill(retry_instruction, reasons[-1])})
    return messages


def continue_ids(template: Any, prompt: Sequence[Message], prefix_ids: Sequence[int], turn_ids: Sequence[int],
                 instruction: str, *, strip_reasoning: bool = False) -> list[int]:
    """`prefix_ids` (the prompt a turn was generated from), the generated `turn_ids`, then the user turn
    `instruction` and the next generation prompt. `template` is a `r3.generation.templates.ChatTemplate`."""
    turn = template.answer_ids(turn_ids) if strip_reasoning else template.turn_ids(turn_ids)
    return [*prefix_ids, *turn, *template.next_turn_ids(prompt, instruction)]


def reflection_prompt_ids(
    template: Any,
    prompt: Sequence[Message],
    attempts: Sequence[Sequence[int]],
    reflections: Sequence[Sequence[int]],
    reasons: Sequence[str],
    reflection_instruction: str,
    retry_instruction: str,
    *,
    strip_reasoning: bool = False,
) -> list[int]:
    """Token ids that ask for a reflection on the last of `attempts` (each a list of generated token ids)."""
    _check_rounds(attempts, reflections, reasons, retry=False)
    ids = template.encode(prompt)
    for i, attempt in enumerate(attempts):
        ids = continue_ids(template, prompt, ids, attempt, _fill(reflection_instruction, reasons[i]),
                           strip_reasoning=strip_reasoning)
        if i < len(reflections):
            ids = continue_ids(template, prompt, ids, reflections[i], _fill(retry_instruction, reasons[i]),
                               strip_reasoning=strip_reasoning)
    return ids


def retry_prompt_ids(
    template: Any,
    prompt: Sequence[Message],
    attempts: Sequence[Sequence[int]],
    reflections: Sequence[Sequence[int]],
    reasons: Sequence[str],
    reflection_instruction: str,
    retry_instruction: str,
    *,
    strip_reasoning: bool = False,
) -> list[int]:
    """Token ids that ask for a new attempt after the last of `reflections`."""
    _check_rounds(attempts, reflections, reasons, retry=True)
    ids = reflection_prompt_ids(template, prompt, attempts, reflections[:-1], reasons, reflection_instruction,
                                retry_instruction, strip_reasoning=strip_reasoning)
    return retry_after_reflection_ids(template, prompt, ids, reflections[-1], reasons[-1], retry_instruction,
                                      strip_reasoning=strip_reasoning)


def retry_after_reflection_ids(
    template: Any,
    prompt: Sequence[Message],
    reflection_prompt: Sequence[int],
    reflection: Sequence[int],
    reason: str,
    retry_instruction: str,
    *,
    strip_reasoning: bool = False,
) -> list[int]:
    """The retry prompt from a reflection prompt's ids and the reflection's generated ids (training's reward: the
    same ids as `retry_prompt_ids`, without rebuilding the reflection prompt)."""
    return continue_ids(template, prompt, reflection_prompt, reflection, _fill(retry_instruction, reason),
                        strip_reasoning=strip_reasoning)

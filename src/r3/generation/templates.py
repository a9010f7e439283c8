"""Chat templates as r3 applies them: one `ChatTemplate` per tokenizer and options, shared by every stage.

    template = ChatTemplate(tokenizer, {"enable_thinking": False})
    ids = template.encode([{"role": "user", "content": "2 + 2?"}])     # the first attempt's prompt ids
    ids += attempt_ids + template.next_turn_ids(prompt, "Reflect ...")   # what r3.conversation does with them

Why this module exists (see docs/generation.md, "Chat templates"):
- Template options (`chat_template_kwargs`) must be the same in eval, mining and training, so every stage renders
  through this class instead of calling `apply_chat_template` itself.
- Llama 3.x templates print "Today Date: <today>" unless given `date_string`: a run resumed on another day, or mined
  and trained on different days, would see other prompts. `date_string` is pinned to `DEFAULT_DATE_STRING` (the
  template's own fallback) unless the options set it; the fingerprint records it.
- A template without a system role (Gemma's raises "System role not supported") gets the system prompt folded into
  the first user turn (`r3.conversation.fold_system_prompt`), logged once.
- Earlier assistant turns are NOT rendered by the template: some templates rewrite them (Qwen3 drops their
  `<think>` part). `next_turn_ids` gives only the tokens that close an assistant turn and open the next user turn;
  `r3.conversation` puts the generated token ids themselves in between.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from typing import Any

from r3.conversation import fold_system_prompt
from r3.errors import R3Error
from r3.types import Message

logger = logging.getLogger(__name__)

DEFAULT_DATE_STRING = "26 Jul 2024"
"""The date Llama 3.x templates print when none is given to them; r3 pins it so prompts do not follow the clock."""
END_OF_TURN_TOKENS = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>")
THINK_END = "</think>"
_SENTINEL = "R3TURNSENTINEL"  # no whitespace or markup: templates that trim or split content keep it intact
_SYSTEM_PROBE = "R3SYSTEMPROBE"


def template_source(tokenizer: Any) -> str:
    """The tokenizer's chat template as one string (a dict of named templates becomes sorted JSON)."""
    template = getattr(tokenizer, "chat_template", None)
    if template is None:
        raise R3Error("the tokenizer has no chat template: use an instruct/chat model")
    return template if isinstance(template, str) else json.dumps(template, sort_keys=True)


def resolve_template_kwargs(tokenizer: Any, chat_template_kwargs: dict[str, Any] | None) -> dict[str, Any]:
    """The options r3 renders with: the user's, plus `date_string` pinned where the template reads one."""
    kwargs = dict(chat_template_kwargs or {})
    if "date_string" in template_source(tokenizer) and "date_string" not in kwargs:
        kwargs["date_string"] = DEFAULT_DATE_STRING
    return kwargs


def end_of_turn_ids(tokenizer: Any, extra: Sequence[int | None] = ()) -> list[int]:
    """Token ids that end an assistant turn: the tokenizer's eos, `extra` (e.g. the generation config's eos ids) and
    any known end-of-turn token the vocabulary holds (Phi-3.5's `<|end|>` is not its tokenizer's eos)."""
    vocab = tokenizer.get_vocab()
    candidates = [tokenizer.eos_token_id, *extra, *(vocab.get(token) for token in END_OF_TURN_TOKENS)]
    ids: list[int] = []
    for token_id in candidates:
        if token_id is not None and int(token_id) not in ids:
            ids.append(int(token_id))
    return ids


class ChatTemplate:
    """A tokenizer's chat template with fixed options: renders prompts and the joints between turns as token ids.

    Args:
        tokenizer: a transformers tokenizer with a chat template (a fast tokenizer for exact turn joints).
        chat_template_kwargs: template options, e.g. {"enable_thinking": False}; `date_string` is pinned by default.
        stop_ids: ids that end a turn (default: `end_of_turn_ids(tokenizer)`); trailing ones are cut from turns.
    """

    def __init__(self, tokenizer: Any, chat_template_kwargs: dict[str, Any] | None = None, *,
                 stop_ids: Sequence[int] | None = None):
        self.tokenizer = tokenizer
        self.kwargs = resolve_template_kwargs(tokenizer, chat_template_kwargs)
        self.stop_ids = list(stop_ids) if stop_ids is not None else end_of_turn_ids(tokenizer)
        self.supports_system = self._probe_system()
        self._folded_logged = False
        think_end = tokenizer.convert_tokens_to_ids(THINK_END) if THINK_END in tokenizer.get_vocab() else None
        self._think_end_id = think_end

    def _probe_system(self) -> bool:
        from jinja2.exceptions import TemplateError

        probe = [{"role": "system", "content": _SYSTEM_PROBE}, {"role": "user", "content": "hi"}]
        try:
            return _SYSTEM_PROBE in self._apply(probe, True)
        except TemplateError:
            return False

    def _apply(self, messages: Sequence[Message], add_generation_prompt: bool) -> str:
        return self.tokenizer.apply_chat_template([dict(m) for m in messages], tokenize=False,
                                                  add_generation_prompt=add_generation_prompt, **self.kwargs)

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
        """The template's text of `messages` (a system prompt folded into the first user turn where unsupported)."""
        if messages and messages[0]["role"] == "system" and not self.supports_system:
            if not self._folded_logged:
                logger.info("the chat template has no system role: the system prompt goes into the first user turn")
                self._folded_logged = True
            messages = fold_system_prompt(messages)
        return self._apply(messages, add_generation_prompt)

    def encode(self, messages: Sequence[Message]) -> list[int]:
        """Token ids of a prompt with the generation prompt (the template holds any special tokens: none added)."""
        return self.encode_text(self.render(messages))

    def encode_text(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)

    def turn_ids(self, ids: Sequence[int]) -> list[int]:
        """A generated turn without its trailing end-of-turn token(s): the template's own joint closes it."""
        ids = list(ids)
        stops = set(self.stop_ids)
        while ids and ids[-1] in stops:
            ids.pop()
        return ids

    def answer_ids(self, ids: Sequence[int]) -> list[int]:
        """The part of a generated turn after its reasoning (`... </think>` and the blank lines after it).

        Where `</think>` is one token the ids after it are kept as generated; otherwise the text after it is
        re-encoded. A turn without `</think>` is returned unchanged."""
        ids = self.turn_ids(ids)
        if self._think_end_id is not None:
            if self._think_end_id not in ids:
                return ids
            tail = ids[len(ids) - ids[::-1].index(self._think_end_id):]
            while tail and not self.tokenizer.decode(tail[:1]).strip():
                tail = tail[1:]
            return tail
        text = self.tokenizer.decode(ids, skip_special_tokens=False)
        if THINK_END not in text:
            return ids
        return self.encode_text(text.split(THINK_END)[-1].lstrip())

    def next_turn_ids(self, context: Sequence[Message], instruction: str) -> list[int]:
        """Ids that close an assistant turn, add the user turn `instruction` and open the next assistant turn.

        Rendered in context (`[*context, assistant: X, user: instruction]`) and cut after X at a token boundary,
        so the joint is tokenized exactly as inside a whole rendered conversation."""
        messages = [*context, {"role": "assistant", "content": _SENTINEL}, {"role": "user", "content": instruction}]
        text = self.render(messages)
        start = text.rfind(_SENTINEL)
        if start < 0:
            raise R3Error("the chat template dropped an assistant turn; r3 cannot lay out reflect/retry turns with it")
        start += len(_SENTINEL)
        if not getattr(self.tokenizer, "is_fast", True):  # slow tokenizers give no offsets
            return self.encode_text(text[start:])
        encoded = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        for index, (begin, _end) in enumerate(encoded["offset_mapping"]):
            if begin == start:
                return list(encoded["input_ids"][index:])
            if begin > start:
                break
        return self.encode_text(text[start:])  # no token boundary there (slow tokenizers): encode the joint alone

    def fingerprint(self, first_prompt: Sequence[Message]) -> dict[str, Any]:
        """What decides the prompts: the template, the options and the first prompt as rendered (hashes)."""
        ids = self.encode(first_prompt)
        return {
            "template_sha256": _sha256(template_source(self.tokenizer)),
            "chat_template_kwargs": json.loads(json.dumps(self.kwargs, sort_keys=True, default=str)),
            "first_prompt_sha256": _sha256(json.dumps(ids)),
            "first_prompt_tokens": len(ids),
        }


def template_fingerprint(tokenizer: Any, chat_template_kwargs: dict[str, Any] | None,
                         first_prompt: Sequence[Message]) -> dict[str, Any]:
    """A run's prompt identity: template hash, resolved options (the pinned date included), first prompt hash.

    Eval, mining and training record it; a resume with any of it changed should be refused."""
    return ChatTemplate(tokenizer, chat_template_kwargs).fingerprint(first_prompt)


def load_template_fingerprint(model: str, chat_template_kwargs: dict[str, Any] | None,
                              first_prompt: Sequence[Message], *, trust_remote_code: bool = False,
                              revision: str | None = None) -> dict[str, Any]:
    """`template_fingerprint` of a model given by name: loads only its tokenizer (seconds), so a run's identity can
    be checked before the model loads. Record it as e.g. `identity_extra={"chat_template": ...}`."""
    from transformers import AutoTokenizer

    from r3.models import resolve_model

    try:
        tokenizer = AutoTokenizer.from_pretrained(resolve_model(model), trust_remote_code=trust_remote_code,
                                                  revision=revision)
    except (OSError, ValueError) as error:
        raise R3Error(f"cannot load the tokenizer of model '{model}': {str(error).splitlines()[0][:200]}") from None
    return template_fingerprint(tokenizer, chat_template_kwargs, first_prompt)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def show_prompts(tokenizer: Any, prompt: Sequence[Message], *, reflection_instruction: str, retry_instruction: str,
                 attempt: str = "(the first attempt)", reflection: str = "(the reflection)",
                 reason: str = "(the verifier's reason)", chat_template_kwargs: dict[str, Any] | None = None,
                 strip_reasoning: bool = False) -> dict[str, dict[str, Any]]:
    """What the model is given at each step of one example, for `r3 prompt` / `--show-prompts`.

    Returns {"attempt" | "reflection" | "retry": {"text": ..., "ids": [...]}}; `text` is the decoded ids, special
    tokens included, exactly what the model reads. `attempt` and `reflection` stand in for generated turns."""
    from r3.conversation import reflection_prompt_ids, retry_prompt_ids

    template = ChatTemplate(tokenizer, chat_template_kwargs)
    attempt_ids, reflection_ids = template.encode_text(attempt), template.encode_text(reflection)
    ids = {
        "attempt": template.encode(prompt),
        "reflection": reflection_prompt_ids(template, prompt, [attempt_ids], [], [reason], reflection_instruction,
                                            retry_instruction, strip_reasoning=strip_reasoning),
        "retry": retry_prompt_ids(template, prompt, [attempt_ids], [reflection_ids], [reason],
                                  reflection_instruction, retry_instruction, strip_reasoning=strip_reasoning),
    }
    return {step: {"text": tokenizer.decode(step_ids, skip_special_tokens=False), "ids": step_ids}
            for step, step_ids in ids.items()}


def show_task_prompts(model: str, task: Any, example: dict[str, Any], *,
                      chat_template_kwargs: dict[str, Any] | None = None, strip_reasoning: bool = False,
                      reflection_instruction: str | None = None, retry_instruction: str | None = None,
                      attempt: str = "(the first attempt)", reflection: str = "(the reflection)",
                      trust_remote_code: bool = False) -> dict[str, dict[str, Any]]:
    """`show_prompts` for a model given by name (only its tokenizer is loaded) and one normalized task example; the
    instructions default to the task's, the reason to what the task's verifier says about `attempt`."""
    from transformers import AutoTokenizer

    from r3.models import resolve_model

    try:
        tokenizer = AutoTokenizer.from_pretrained(resolve_model(model), trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as error:
        raise R3Error(f"cannot load the tokenizer of model '{model}': {str(error).splitlines()[0][:200]}") from None
    return show_prompts(tokenizer, task.prompt(example), attempt=attempt, reflection=reflection,
                        reason=task.verify(example, attempt).reason,
                        reflection_instruction=reflection_instruction or task.reflection_instruction,
                        retry_instruction=retry_instruction or task.retry_instruction,
                        chat_template_kwargs=chat_template_kwargs, strip_reasoning=strip_reasoning)

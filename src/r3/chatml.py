"""ChatML, the chat format of the two models r3 builds itself (`r3.tiny_model` and the demo model): one template.

Both models are made from scratch, so they carry a chat template of their own. ChatML (Qwen's format) is the one of
most models the paper trained, so prompts laid out for the small models look like those of the real ones. Everything
that writes ChatML (the templates saved with the models, the tiny tokenizer's training text, the demo's loss mask)
takes it from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from r3.types import Message

IM_START, IM_END, END_OF_TEXT = "<|im_start|>", "<|im_end|>", "<|endoftext|>"
SPECIAL_TOKENS = (END_OF_TEXT, IM_START, IM_END)
ASSISTANT_HEADER = f"{IM_START}assistant\n"
"""What opens an assistant turn: the generation prompt, and where a training label mask starts."""

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def render(messages: Sequence[Message], *, add_generation_prompt: bool = False) -> str:
    """`messages` laid out by `CHAT_TEMPLATE` itself (jinja2, as transformers renders it), without a tokenizer."""
    return _template().render(messages=list(messages), add_generation_prompt=add_generation_prompt)


@cache
def _template():
    import jinja2

    return jinja2.Environment(autoescape=False).from_string(CHAT_TEMPLATE)

"""The reply a model commits to: what follows its reasoning, for every task's verdict.

Reasoning models write `<think> ... </think>` before their reply. A box, an `<answer>` tag or a tool call inside the
reasoning is a draft, not an answer: rewarding it would teach the policy to hide answers there and say something
else (or refuse) in the reply. So every verdict reads only the committed reply:

- with a `</think>`, the reply is what follows the last one (a chat template that opens `<think>` in the prompt
  leaves only the closing tag in the completion, which is the same case);
- with a `<think>` that is never closed after it (the model ran out of tokens, or started thinking again and never
  finished), there is no committed reply: the verdict is incorrect, whatever the reasoning holds;
- without think tags, the whole completion is the reply.

One or a few `str.rfind` scans at C speed; never raises.
"""

from __future__ import annotations

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
UNCLOSED = f"reasoning never closed ({THINK_OPEN} without {THINK_CLOSE}): no committed reply"


def committed_reply(completion: str) -> str | None:
    """The text after the last `</think>` (the whole text without one); None when a `<think>` is left open.

    One backward scan for `think>` decides the common cases (no tags; the last tag a closing one; the last tag an
    opening one); `str.rfind` is several times faster than `str.find` on long texts."""
    last = completion.rfind(_TAIL)
    if last < 0:
        return completion
    if completion.startswith(THINK_CLOSE, last - 2):
        return completion[last + len(_TAIL):]
    if completion.startswith(THINK_OPEN, last - 1):
        return None
    close = completion.rfind(THINK_CLOSE, 0, last)  # "think>" was part of other text: look for the tags themselves
    start = close + len(THINK_CLOSE) if close >= 0 else 0
    if completion.rfind(THINK_OPEN, start) >= 0:
        return None
    return completion[start:] if start else completion


_TAIL = "think>"

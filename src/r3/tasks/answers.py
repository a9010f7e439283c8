"""Finding a model's final answer in free text: the last `\\boxed{}` or a final "The answer is X" line.

Shared by the `math` and `gsm8k` verifiers. The rules are deliberately narrow, because in RL a lenient extractor is
a reward that can be gamed: only the *last* box counts (no falling back to an earlier box or to a bare number in
the text), the whole completion is searched however long, and a box that is empty, unclosed or too long is a
failure with a reason that says so. Scans are linear in the length of the text and never raise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

BOX_COMMANDS = ("\\boxed", "\\fbox")
MAX_ANSWER_CHARS = 1_000  # a final answer longer than this is not an answer (and would be slow to parse)

_FINAL_LINE = re.compile(r"(?:\bthe\s+(?:final\s+)?answer\s+is\b|^\s*(?:\*\*)?final\s+answer(?:\*\*)?\s*:|^\s*####)"
                         r"\s*:?\s*(.*?)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Found:
    """What the extractor found: the answer text, or None and the reason there is none."""

    text: str | None
    reason: str
    where: str = "\\boxed{}"


def last_boxed(text: str) -> Found:
    """The content of the last `\\boxed{...}` / `\\fbox{...}` of `text`, braces matched (escaped `\\{` skipped)."""
    start, command = max((text.rfind(name), name) for name in BOX_COMMANDS)
    if start < 0:
        return Found(None, "no \\boxed{} answer")
    position = start + len(command)
    while position < len(text) and text[position] in " \t":
        position += 1
    if position >= len(text) or text[position] != "{":
        return Found(None, f"last {command} has no {{...}} argument")
    depth, index = 0, position
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                content = text[position + 1:index].strip()
                if not content:
                    return Found(None, f"last {command}{{}} is empty")
                if len(content) > MAX_ANSWER_CHARS:
                    return Found(None, f"last {command}{{}} holds over {MAX_ANSWER_CHARS} characters")
                return Found(content, "boxed")
        index += 1
    return Found(None, f"last {command}{{ is not closed")


def final_line(text: str) -> Found:
    """The answer of a last non-empty line such as "The answer is 42.", "Final answer: 42" or "#### 42"."""
    stripped = text.rstrip()
    line = stripped[stripped.rfind("\n") + 1:]
    match = _FINAL_LINE.search(line[-(MAX_ANSWER_CHARS + 200):])
    if not match:
        return Found(None, "no \\boxed{} answer and no final 'The answer is ...' line", "final line")
    answer = match.group(1).strip().rstrip(".").strip().strip("*").strip()
    if answer.startswith("$") and answer.endswith("$"):
        answer = answer.strip("$").strip()
    if any(command in answer for command in BOX_COMMANDS):  # "The answer is \boxed{5}."
        boxed = last_boxed(answer)
        return Found(boxed.text, boxed.reason, "final line")
    if not answer:
        return Found(None, "final answer line is empty", "final line")
    return Found(answer, "final line", "final line")


def find_answer(text: object, answer_format: str) -> Found:
    """The final answer under `answer_format`: "boxed" (last box only) or "boxed_or_final" (a final answer line
    wins when the completion ends with one, else the last box)."""
    if not isinstance(text, str):
        return Found(None, "completion is not a string")
    if answer_format == "boxed_or_final":
        line = final_line(text)
        if line.text is not None:
            return line
        boxed = last_boxed(text)
        return boxed if boxed.text is not None or "no \\boxed{}" not in boxed.reason else line
    return last_boxed(text)


_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|[-+]?\.\d+")
_FRACTION = re.compile(r"([-+]?)\\[dt]?frac\{\s*(\d+)\s*\}\{\s*(\d+)\s*\}|([-+]?\d+)\s*/\s*(\d+)")
_UNIT = re.compile(r"(?:\\(?:text|mbox|mathrm)\{\s*([A-Za-z][A-Za-z .]*)\}|([A-Za-z][A-Za-z .]*))")
_HEDGES = {"or", "and", "not", "maybe", "perhaps", "either", "nor", "plus", "minus", "times", "to"}
_DECORATION = ("\\$", "$", "\\%", "%", "\\!", "\\,", "\\;", "\\ ", "{,}")


def parse_number(text: str) -> Fraction | None:
    """An exact rational from a final answer such as `1,000`, `\\$18.50`, `0.5`, `\\frac{1}{2}`, `-3/4`, `25\\%`,
    `18 \\text{ dollars}`; None for anything else (two numbers, an expression, words alone)."""
    body = text.strip()
    for token in _DECORATION:
        body = body.replace(token, "" if token not in ("\\ ",) else " ")
    body = body.strip()
    if len(body) > 100:
        return None
    match = _FRACTION.fullmatch(body) or _FRACTION.match(body)
    if match and _only_unit(body[match.end():]):
        if match.group(2) is not None:
            sign, numerator, denominator = match.group(1), int(match.group(2)), int(match.group(3))
            value = Fraction(numerator, denominator) if denominator else None
            return -value if value is not None and sign == "-" else value
        return Fraction(int(match.group(4)), int(match.group(5))) if int(match.group(5)) else None
    match = _NUMBER.match(body)
    if match and _only_unit(body[match.end():]):
        return Fraction(match.group(0).replace(",", "").rstrip("."))
    return None


def _only_unit(rest: str) -> bool:
    """True when what follows a number is nothing, or a unit word (`dollars`, `\\text{ cm}`), not another number."""
    rest = rest.strip()
    if not rest:
        return True
    match = _UNIT.fullmatch(rest)
    if match is None:
        return False
    words = (match.group(1) or match.group(2)).replace(".", " ").lower().split()
    return len(words) <= 3 and not _HEDGES.intersection(words)

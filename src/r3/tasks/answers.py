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

# "The answer is X" anywhere in the last line; "Final answer: X", "Answer: X", "#### X" at its start (Minerva's
# "Final Answer: The final answer is X. I hope it is correct." included)
_FINAL_LINE = re.compile(r"^(?P<before>.*?)\bthe\s+(?:final\s+)?answer\s+is\b|^\s*(?:\*\*)?(?:final\s+)?answer"
                         r"(?:\*\*)?\s*:(?:\*\*)?(?:\s*the\s+final\s+answer\s+is\b)?|^\s*####", re.IGNORECASE)
# words before "the answer is" that deny, doubt or condition it: "It is not true that the answer is 18"
_DENIED = re.compile(r"\b(?:not|no|never|isn't|wasn't|cannot|can't|maybe|perhaps|possibly|probably|if|unless|whether|"
                     r"wrong|incorrect|false|suppose|assuming|might|could|would)\b|n't\b", re.IGNORECASE)
_HOPE = re.compile(r"[.\s]*\bI\s+hope\s+it\s+is\s+correct\W*$", re.IGNORECASE)


@dataclass(frozen=True)
class Found:
    """What the extractor found: the answer text, or None and the reason there is none."""

    text: str | None
    reason: str
    where: str = "\\boxed{}"


def last_boxed(text: str) -> Found:
    """The content of the last `\\boxed{...}` / `\\fbox{...}` of `text`, braces matched (escaped `\\{` skipped).

    A later mention of the command without an argument ("I put the answer in \\boxed as asked") is prose, not an
    answer, and is skipped; a later box that is empty or unclosed still counts (and fails)."""
    found = {name: text.rfind(name) for name in BOX_COMMANDS}  # each scan resumes where it stopped: linear
    skipped = False
    while True:
        command = max(found, key=found.__getitem__)
        start = found[command]
        if start < 0:
            return Found(None, "last \\boxed has no {...} argument" if skipped else "no \\boxed{} answer")
        position = start + len(command)
        while position < len(text) and text[position] in " \t":
            position += 1
        if position < len(text) and text[position] == "{":
            break
        found[command] = text.rfind(command, 0, start)
        skipped = True
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
    if match.group("before") and _DENIED.search(match.group("before")):
        return Found(None, f"the final line denies or doubts its answer: {match.group(0)[:60]!r}", "final line")
    answer = _HOPE.sub("", match.string[match.end():]).strip().lstrip(":").strip()
    answer = answer.rstrip(".").strip().strip("*").strip()
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
_RATIO = re.compile(r"([-+]?\d+)\s*/\s*(\d+)")
_LATEX_FRACTION = re.compile(r"\\[dt]?frac\s*\{\s*(\d+)\s*\}\s*\{\s*(\d+)\s*\}")
_TEXT_COMMAND = re.compile(r"\\(?:text|textrm|textbf|textit|textnormal|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")
_DIGIT_GROUP = re.compile(r"(?<=\d)(?:\{,\}|,\\!|\\[,!;: ]|~)\s*(?=\d{3}(?!\d))")  # 10\,080, 10{,}080, 10,\!080
_SPACING = re.compile(r"\\(?:[,!;: ]|quad|qquad)|~")
_POWER_OF_TEN = re.compile(r"\s*(?:\\times|\\cdot|×|\*|x)\s*10\s*\^\s*([-+]?\d{1,2})|[eE]([-+]?\d{1,2})(?![A-Za-z])")
_GLUED = re.compile(r"[A-Za-z]+")
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 10**6, "billion": 10**9, "trillion": 10**12, "dozen": 12}
_GLUED_SCALES = {"k": 1_000, "K": 1_000}
_GLUED_UNITS = {"st", "nd", "rd", "th", "mm", "cm", "m", "km", "mg", "g", "kg", "lb", "lbs", "oz", "ml", "mL", "l",
                "L", "h", "hr", "hrs", "min", "mins", "s", "sec", "secs", "ft", "in", "yd", "mi", "mph", "am", "pm",
                "AM", "PM"}
# words after a number that change its value or hedge it: "18 squared", "18 tenths", "18ish", "18 or 19"
_CHANGES_VALUE = {"squared", "cubed", "ish", "half", "halves", "third", "thirds", "quarter", "quarters", "fourth",
                  "fourths", "fifth", "fifths", "sixth", "sixths", "seventh", "sevenths", "eighth", "eighths", "ninth",
                  "ninths", "tenth", "tenths", "hundredth", "hundredths", "thousandth", "thousandths", "millionth",
                  "millionths", "power", "root", "factorial"}
_HEDGES = {"or", "and", "not", "no", "maybe", "perhaps", "either", "nor", "plus", "minus", "times", "to", "over",
           "under", "less", "more", "than", "least", "most", "about", "around", "approximately", "roughly",
           "nearly", "almost", "except", "but"}
_DECORATION = ("\\$", "$", "\\%", "%")
_WORD = re.compile(r"[A-Za-z]+(?:/[A-Za-z]+)?")


def parse_number(text: str, question: str | None = None) -> Fraction | None:
    """An exact rational from a final answer such as `1,000`, `10\\,080`, `\\$18.50`, `0.5`, `\\frac{1}{2}`,
    `-3/4`, `25\\%`, `\\text{18}`, `18~\\text{dollars}`, `70 thousand`, `7 \\times 10^4`; None for anything else
    (two numbers, an expression, words alone, a word that changes the value such as `18 squared` or `18ish`).

    A scale word (`thousand`, `million`, `dozen`, a glued `k`) is applied, unless `question` asks in that unit
    ("How many dozens ..."): then it is the unit."""
    body = text.strip()
    plain = _NUMBER.fullmatch(body)
    if plain and len(body) <= 100:  # the common case, "18" or "1,000.5": no LaTeX to undo
        return Fraction(body.replace(",", "").rstrip("."))
    if len(body) > 300:
        return None
    body = _LATEX_FRACTION.sub(r"\1/\2", body)
    for _ in range(2):  # \text{\$460}: nested once at most
        body = _TEXT_COMMAND.sub(r" \1 ", body)
    body = _SPACING.sub(" ", _DIGIT_GROUP.sub("", body))
    for token in _DECORATION:
        body = body.replace(token, "")
    body = body.replace("{", "").replace("}", "").strip()
    if len(body) > 100:
        return None
    match = _RATIO.match(body)
    if match:
        if int(match.group(2)) == 0:
            return None
        value = Fraction(int(match.group(1)), int(match.group(2)))
    else:
        match = _NUMBER.match(body)
        if match is None:
            return None
        value = Fraction(match.group(0).replace(",", "").rstrip("."))
    rest = body[match.end():]
    power = _POWER_OF_TEN.match(rest) if match.re is _NUMBER else None
    if power:
        value *= Fraction(10) ** int(power.group(1) or power.group(2))
        rest = rest[power.end():]
    scale = _unit_scale(rest, question)
    return None if scale is None else value * scale


def _unit_scale(rest: str, question: str | None) -> int | None:
    """What the text after a number multiplies it by: 1 for nothing or a unit (`dollars`, `cm`, `km/h`), the scale
    of a scale word (`thousand`, a glued `k`), None for anything that is not a unit (another number, a hedge, a
    word that changes the value, letters glued to the number that are not a unit: `18i`, `18x`)."""
    scale = 1
    glued = _GLUED.match(rest)
    if glued:
        word = glued.group(0)
        if word in _GLUED_SCALES:
            scale = _GLUED_SCALES[word]
        elif word not in _GLUED_UNITS:
            return None
        rest = rest[glued.end():]
    words = rest.replace(".", " ").split()
    if len(words) > 4 or not all(_WORD.fullmatch(word) for word in words):
        return None
    lowered = [word.lower() for word in words]
    if _CHANGES_VALUE.intersection(lowered) or _HEDGES.intersection(lowered):
        return None
    for word in lowered[:1]:
        base = word[:-1] if word.endswith("s") and word[:-1] in _SCALES else word
        if base in _SCALES and not _asked_in(base, question):
            scale *= _SCALES[base]
        if any(other.rstrip("s") in _SCALES for other in lowered[1:]):
            return None
    return scale


def _asked_in(unit: str, question: str | None) -> bool:
    """True when the question asks for the answer in `unit` ("How many dozens of eggs ...", "... in thousands")."""
    return bool(question) and re.search(rf"\bhow\s+many\s+{unit}s?\b|\bin\s+{unit}s\b", question,
                                        re.IGNORECASE) is not None

"""Per-benchmark settings for the forgetting check, and how the command line overrides them.

The paper checks MMLU-Pro, GSM8K, HellaSwag and MATH before and after training. Each has a default here chosen to
match what the field reports with lm-evaluation-harness (shots and generation length of the harness's own task
files), plus the choices the harness leaves to the caller: whether to wrap prompts in the model's chat template, and
which of the several metric/filter pairs the harness computes is the one headline number. Any other lm-eval task or
group name works too: it runs with the task file's own settings and reports its first metric.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from r3.errors import R3Error

T = TypeVar("T")

DEFAULT_BENCHMARKS = ("mmlu_pro", "gsm8k", "hellaswag", "minerva_math")


@dataclass(frozen=True)
class BenchmarkSettings:
    """How one benchmark is run and scored.

    name: an lm-eval task, group or tag name (or a YAML path the TaskManager accepts).
    num_fewshot: examples in the prompt; None keeps the task file's own number.
    apply_chat_template: True/False, or None for "auto": on when the model's tokenizer has a chat template
        (r3 trains chat models, whose few-shot examples then go in as earlier turns: fewshot_as_multiturn).
    max_gen_toks: generation budget for generative tasks; None keeps the harness's default (256).
    metric: "metric,filter" key of the harness's results to report (e.g. "exact_match,flexible-extract");
        None takes the first metric the harness reports for the task.
    """

    name: str
    num_fewshot: int | None = None
    apply_chat_template: bool | None = None
    fewshot_as_multiturn: bool = True
    max_gen_toks: int | None = None
    metric: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# Why these values:
# - mmlu_pro: the harness's 5-shot chain-of-thought task; the answer letter is taken by its "custom-extract" regex
#   ("answer is (X)"); 2048 new tokens as in the task file, since CoT answers are long.
# - gsm8k: 5-shot as in the task file; "flexible-extract" (last number in the answer) rather than "strict-match"
#   ("#### N"), so that a change of answer format after chat training is not mistaken for lost arithmetic.
# - hellaswag: 0-shot log-likelihood over the four endings, length-normalised accuracy; no chat template, since a
#   continuation task scored by log-likelihood is not a conversation.
# - minerva_math: the 4-shot Minerva prompt over the seven MATH subjects; math_verify compares answers symbolically
#   (exact_match compares normalised strings); 1024 new tokens, as the Open LLM Leaderboard uses for MATH.
BUILTIN_DEFAULTS: dict[str, BenchmarkSettings] = {
    "mmlu_pro": BenchmarkSettings("mmlu_pro", num_fewshot=5, max_gen_toks=2048, metric="exact_match,custom-extract"),
    "gsm8k": BenchmarkSettings("gsm8k", num_fewshot=5, max_gen_toks=256, metric="exact_match,flexible-extract"),
    "hellaswag": BenchmarkSettings("hellaswag", num_fewshot=0, apply_chat_template=False, metric="acc_norm,none"),
    "minerva_math": BenchmarkSettings("minerva_math", num_fewshot=4, max_gen_toks=1024, metric="math_verify,none"),
}


@dataclass(frozen=True)
class Override:
    """A command-line override: one value for every benchmark, and/or values for named benchmarks.

    Written as "VALUE" (all benchmarks), "TASK=VALUE,TASK=VALUE" (named ones) or a mix: "5,hellaswag=10".
    """

    default: Any = None
    per_task: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    given: bool = False

    def for_task(self, name: str, fallback: T) -> T:
        if name in self.per_task:
            return self.per_task[name]
        return self.default if self.given else fallback


def parse_override(text: str | None, cast: Callable[[str], Any], option: str) -> Override:
    """Parse "VALUE", "TASK=VALUE,..." or a mix into an Override; a bad value names the option and the value."""
    if text is None:
        return Override()
    default, given, per_task = None, False, {}
    # split only at commas that start a "TASK=" item: a metric value holds a comma itself ("exact_match,none")
    for part in re.split(r",(?=\s*[\w.\-]+\s*=)", text):
        name, sep, value = part.partition("=")
        try:
            if sep:
                per_task[name.strip()] = cast(value.strip())
            else:
                default, given = cast(part.strip()), True
        except ValueError as error:
            raise R3Error(f"{option}: cannot read {part!r} ({error})") from None
    return Override(default=default, per_task=per_task, given=given)


def parse_bool(text: str) -> bool | None:
    """Read "true", "false" or "auto" (auto = None: decided from the model's tokenizer)."""
    value = text.lower()
    if value in ("true", "yes", "1", "on"):
        return True
    if value in ("false", "no", "0", "off"):
        return False
    if value == "auto":
        return None
    raise ValueError("expected true, false or auto")


def settings_for(
    name: str,
    *,
    num_fewshot: Override = Override(),
    apply_chat_template: Override = Override(),
    max_gen_toks: Override = Override(),
    metric: Override = Override(),
) -> BenchmarkSettings:
    """The defaults for `name` (built-in table, or the task file's own) with the command line's overrides applied."""
    base = BUILTIN_DEFAULTS.get(name, BenchmarkSettings(name))
    return dataclasses.replace(
        base,
        num_fewshot=num_fewshot.for_task(name, base.num_fewshot),
        apply_chat_template=apply_chat_template.for_task(name, base.apply_chat_template),
        max_gen_toks=max_gen_toks.for_task(name, base.max_gen_toks),
        metric=metric.for_task(name, base.metric),
    )

"""`r3 prompt`: print exactly what a model is given for one example: the attempt, reflection and retry prompts.

    r3 prompt --model Qwen/Qwen3-0.6B --task countdown --data sample:countdown --index 3
    r3 prompt --model meta-llama/Llama-3.2-1B-Instruct --task gsm8k --chat_template_kwargs.enable_thinking false

The text is the model's chat template applied the way eval, mine and train apply it (special tokens shown); the
attempt and reflection are placeholders where the model's own tokens would stand. See docs/generation.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from r3.config import CommandConfig, ModelArgs, ReasoningArgs, TaskArgs, TemplateArgs, option

HELP = "print the rendered attempt, reflection and retry prompts of one example (what the model sees)"


@dataclass
class PromptConfig(CommandConfig, ReasoningArgs, TemplateArgs, ModelArgs, TaskArgs):
    index: int = option(0, "which example of the data (0 = the first)")
    ids: bool = option(False, "also print the token ids")

    required: ClassVar[tuple[str, ...]] = ("model", "task")


def main(argv: list[str]) -> int:
    from transformers import AutoTokenizer

    from r3.config.parser import ConfigParser
    from r3.errors import R3Error
    from r3.generation import check_model_source
    from r3.generation.templates import show_prompts
    from r3.models import resolve_model

    (config,) = ConfigParser([PromptConfig], prog="r3 prompt", description=HELP).parse(argv)
    task = config.build_task()
    check_model_source(config.model)
    limit = config.index + 1 if config.limit is None else config.limit
    examples = task.load(config.data, config.split, limit, skip_bad=config.skip_bad_lines, config=config.data_config)
    if not 0 <= config.index < len(examples):
        raise R3Error(f"field 'index': the data has {len(examples)} example(s) here, no index {config.index}")
    try:
        tokenizer = AutoTokenizer.from_pretrained(resolve_model(config.model))
    except (OSError, ValueError) as error:
        raise R3Error(f"cannot load the tokenizer of model '{config.model}': {str(error).splitlines()[0][:200]}") \
            from None
    shown = show_prompts(tokenizer, task.prompt(examples[config.index]),
                         reflection_instruction=task.reflection_instruction, retry_instruction=task.retry_instruction,
                         chat_template_kwargs=config.chat_template_kwargs, strip_reasoning=config.strip_reasoning)
    for step, rendered in shown.items():
        print(f"===== {step} prompt ({len(rendered['ids'])} tokens) =====")
        print(rendered["text"])
        if config.ids:
            print(rendered["ids"])
    return 0

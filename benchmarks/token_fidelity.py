"""Does the retry see the reflection ids the model generated? Decode + re-encode (r3 before issue 12) vs r3's ids.

    .venv/bin/python benchmarks/token_fidelity.py                 # 8 reflections per model
    .venv/bin/python benchmarks/token_fidelity.py --samples 64 --seed 1

For each of the four real chat templates in ../shared/real/tokenizers (tiny random-weight models of the real
architectures, built by tests/generation/real_models.py), one first attempt is sampled, then `--samples` reflections
of it. For each reflection the retry prompt is built two ways:
- text: the retry conversation as messages (reflection = its decoded text), rendered by the chat template and
  encoded: what r3 did before (and what a chat API does);
- ids: `r3.conversation.retry_prompt_ids`, the generated ids placed as they are.
A mismatch is a retry prompt that does not hold the reflection's generated ids as one contiguous run. The table also
says whether the reflection prompt shows the attempt's think block (an attempt with `<think>...</think>` is placed
in front of the sampled one, so the check does not depend on a random model writing tags).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "generation"))  # the model builder
from real_models import MODELS, build_real_tiny

from r3.conversation import reflection_messages, reflection_prompt_ids, retry_messages, retry_prompt_ids
from r3.generation.hf import HFGenerator
from r3.types import SamplingParams

PROMPT = [{"role": "user", "content": "Make 24 from 3 5 8. Think in <think> </think> tags, then answer."}]
THINK = "<think>\nI add them.\n</think>\n\n"
REFLECT, RETRY = "Wrong. Reflect on what went wrong.", "Now try again."


def contains(haystack: list[int], needle: list[int]) -> bool:
    return any(haystack[i: i + len(needle)] == needle for i in range(len(haystack) - len(needle) + 1))


def measure(name: str, workdir: Path, samples: int, seed: int) -> dict:
    generator = HFGenerator.from_pretrained(build_real_tiny(name, workdir / name), device="cpu")
    template, tokenizer = generator.template, generator.tokenizer
    sampled = generator.generate_ids([template.encode(PROMPT)], SamplingParams(max_new_tokens=24, seed=seed))[0][0]
    attempt_ids = template.encode_text(THINK) + list(sampled.token_ids)
    attempt_text = template.decode(attempt_ids)
    text_prompt = generator.encode([reflection_messages(PROMPT, [attempt_text], [], ["wrong"], REFLECT, RETRY)])[0]
    ids_prompt = reflection_prompt_ids(template, PROMPT, [attempt_ids], [], ["wrong"], REFLECT, RETRY)
    reflections = generator.generate_ids([ids_prompt], SamplingParams(n=samples, max_new_tokens=24, seed=seed))[0]
    text_bad = ids_bad = 0
    for reflection in reflections:
        ids = list(reflection.token_ids)
        conversation = retry_messages(PROMPT, [attempt_text], [reflection.text], ["wrong"], REFLECT, RETRY)
        text_bad += not contains(generator.encode([conversation])[0], ids)
        ids_bad += not contains(retry_prompt_ids(template, PROMPT, [attempt_ids], [ids], ["wrong"], REFLECT, RETRY),
                                ids)
    return {"model": name, "samples": len(reflections), "text": text_bad, "ids": ids_bad,
            "think_text": "I add them" in tokenizer.decode(text_prompt),
            "think_ids": "I add them" in tokenizer.decode(ids_prompt)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=8, help="reflections per model")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print("| model | reflections | retry lacks the reflection ids: text (decode + re-encode) | ids (r3) "
          "| reflection prompt shows the attempt's think block: text | ids (r3) |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as workdir:
        for name in MODELS:
            row = measure(name, Path(workdir), args.samples, args.seed)
            print(f"| {row['model']} | {row['samples']} | {row['text']} | {row['ids']} | "
                  f"{'yes' if row['think_text'] else 'no'} | {'yes' if row['think_ids'] else 'no'} |", flush=True)


if __name__ == "__main__":
    main()

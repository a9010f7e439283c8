"""The one ChatML template: what it renders, and that both models r3 builds carry exactly it."""

from r3.chatml import ASSISTANT_HEADER, CHAT_TEMPLATE, render
from r3.demo.model import MODEL_DIR

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Make 7 from [3, 4]."},
            {"role": "assistant", "content": "<answer> 3 + 4 </answer>"}]


def test_render_lays_out_chatml_turns():
    assert render(MESSAGES[1:2]) == "<|im_start|>user\nMake 7 from [3, 4].<|im_end|>\n"
    assert render(MESSAGES[1:2], add_generation_prompt=True).endswith("<|im_end|>\n" + ASSISTANT_HEADER)


def test_tiny_model_renders_with_the_same_template(tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert tokenizer.chat_template == CHAT_TEMPLATE
    for generation_prompt in (False, True):
        assert tokenizer.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=generation_prompt) == (
            render(MESSAGES, add_generation_prompt=generation_prompt))


def test_committed_demo_model_carries_the_same_template():
    assert (MODEL_DIR / "chat_template.jinja").read_text(encoding="utf-8") == CHAT_TEMPLATE

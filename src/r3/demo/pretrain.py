"""Pretraining the demo model from scratch on the corpus of `r3.demo.corpus`: a plain causal-LM loop.

A batch holds reflect-retry episodes and worked-solution chats (`CorpusMix.worked_share`). The loss covers only the
assistant turns (attempts, reflections, retries, worked solutions and their end-of-turn token): the puzzle and the
instructions are given, not predicted. Token ids are built message by message with the tokenizer's chat
template, which gives exactly the ids of the whole conversation (tests check this), so the model is trained on the
very sequences that evaluation, mining and training will show it.

Deterministic: the corpus stream, the initialisation and the batch order come from one seed, and the number of torch
threads is fixed, because the order of floating-point sums (and so the weights) depends on it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from r3.chatml import ASSISTANT_HEADER, IM_END
from r3.demo.corpus import CorpusMix, episodes, worked_chats
from r3.tasks.base import Task
from r3.types import Message

logger = logging.getLogger(__name__)
IGNORE = -100


@dataclass(frozen=True)
class PretrainConfig:
    seed: int = 0
    steps: int = 1000
    batch_size: int = 64
    lr: float = 3e-3
    warmup_steps: int = 50
    weight_decay: float = 0.01
    threads: int = 1
    log_every: int = 50


def encode(tokenizer, messages: Sequence[Message]) -> tuple[list[int], list[int]]:
    """Token ids of a conversation (its chat template, tokenized once) and their labels: the content and end of
    turn of every assistant message, IGNORE elsewhere."""
    text = tokenizer.apply_chat_template(list(messages), tokenize=False)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    header = tokenizer(ASSISTANT_HEADER, add_special_tokens=False)["input_ids"]
    end_of_turn = tokenizer.convert_tokens_to_ids(IM_END)
    labels = [IGNORE] * len(ids)
    position = 0
    while position < len(ids):
        if ids[position : position + len(header)] == header:
            position += len(header)
            while position < len(ids) and ids[position] != end_of_turn:
                labels[position] = ids[position]
                position += 1
            if position < len(ids):
                labels[position] = end_of_turn
        position += 1
    return ids, labels


def collate(tokenizer, encoded: Sequence[tuple[list[int], list[int]]]):
    """Right-padded tensors `input_ids`, `attention_mask`, `labels`, each [B, T], from (ids, labels) pairs."""
    import torch

    length = max(len(ids) for ids, _ in encoded)
    input_ids = torch.full((len(encoded), length), tokenizer.pad_token_id, dtype=torch.long)
    labels = torch.full((len(encoded), length), IGNORE, dtype=torch.long)
    attention_mask = torch.zeros((len(encoded), length), dtype=torch.long)
    for row, (ids, labs) in enumerate(encoded):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, : len(labs)] = torch.tensor(labs)
        attention_mask[row, : len(ids)] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def batches(tokenizer, task: Task, mix: CorpusMix, config: PretrainConfig) -> Iterator[list]:
    """Encoded batches: `worked_share` of each batch are worked-solution chats, the rest episodes (separate seeded
    streams)."""
    n_worked = round(config.batch_size * mix.worked_share)
    episode_stream = episodes(config.seed, task, mix, split="pretrain")
    worked_stream = worked_chats(config.seed + 1, mix, split="pretrain")
    while True:
        batch = [encode(tokenizer, next(episode_stream).messages) for _ in range(config.batch_size - n_worked)]
        batch += [encode(tokenizer, next(worked_stream)) for _ in range(n_worked)]
        yield batch


def lr_at(step: int, config: PretrainConfig) -> float:
    """Linear warm-up, then cosine decay to zero."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return config.lr * 0.5 * (1.0 + math.cos(math.pi * progress))


def pretrain(model, tokenizer, task: Task, mix: CorpusMix, config: PretrainConfig) -> list[dict]:
    """Train `model` in place; returns the logged history (step, loss, lr, seconds)."""
    import torch
    from tqdm.auto import tqdm

    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                                  betas=(0.9, 0.98))
    stream = batches(tokenizer, task, mix, config)
    model.train()
    history, running, start = [], [], time.monotonic()
    progress = tqdm(range(config.steps), desc="pretraining", unit="step")
    for step in progress:
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, config)
        loss = model(**collate(tokenizer, next(stream))).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        running.append(loss.item())
        if (step + 1) % config.log_every == 0 or step + 1 == config.steps:
            record = {"step": step + 1, "loss": sum(running) / len(running), "lr": lr_at(step, config),
                      "seconds": round(time.monotonic() - start, 1)}
            history.append(record)
            progress.set_postfix(loss=f"{record['loss']:.3f}")
            logger.info("step %(step)d loss %(loss).4f lr %(lr).2e (%(seconds)ss)", record)
            running = []
    model.eval()
    return history

"""The embedded demo: a tiny model trained from scratch by r3 that reflect-retry-reward training visibly improves.

    make demo            # or: r3 demo

Modules, one job each: `puzzles` (small Countdown puzzles and their held-out split), `corpus` (the pretraining
episodes), `model` (tokenizer and architecture), `pretrain` (the pretraining loop, run by
scripts/build_demo_model.py), `task` (the demo's Countdown task), `pipeline` (eval, mine, train, eval) and `report`.
"""

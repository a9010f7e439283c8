"""The demo's report: before/after table with 95% intervals, training curves, reflections before and after.

Reads only what the stages wrote (OUT/eval_*/summary.json and episodes.jsonl, the training run's trainer_state.json)
and writes OUT/report.md and OUT/training_curves.png. The reflection analysis uses the corpus' own forms
(`r3.demo.corpus.classify`): which kinds of reflection the model writes, how often each kind is followed by a
successful retry, and how often a full hint describes a real solution.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from r3.demo.corpus import REFLECTION_KINDS, classify, hint_is_right
from r3.demo.puzzles import Puzzle
from r3.demo.real import example_line, recipe_settings
from r3.demo.task import TASK_NAME
from r3.evaluation.compare import pair_episodes, paired_counts
from r3.evaluation.stats import difference_interval, intervals_overlap
from r3.evaluation.tables import METRIC_NAMES
from r3.report.curves import plot_training_curves
from r3.report.runs import run_records
from r3.stats import paired_difference_interval
from r3.types import Episode

CURVES_FILE = "training_curves.png"
SHOWN_REFLECTIONS = 4


def load_eval(directory: Path) -> tuple[dict[str, Any], list[Episode]]:
    summary = json.loads((directory / "summary.json").read_text(encoding="utf-8"))["summary"]
    with open(directory / "episodes.jsonl", encoding="utf-8") as handle:
        episodes = [Episode.from_dict(json.loads(line)) for line in handle if line.strip()]
    return summary, episodes


def _pct(p: dict[str, Any]) -> str:
    return f"{100 * p['accuracy']:.1f}% [{100 * p['low']:.1f}, {100 * p['high']:.1f}]"


def reflection_profile(episodes: Sequence[Episode]) -> dict[str, Any]:
    """Kinds of reflections written after failed first attempts, retry success per kind, right full hints."""
    kinds: Counter[str] = Counter()
    fixed: Counter[str] = Counter()
    right_hints = 0
    for e in episodes:
        if not e.reflections:
            continue
        text = e.reflections[0].text
        kind = classify(text)
        kinds[kind] += 1
        fixed[kind] += bool(len(e.attempts) > 1 and e.attempts[1].verdict.correct)
        if kind == "full":
            right_hints += hint_is_right(text, Puzzle(tuple(e.example["nums"]), e.example["target"]))
    total = sum(kinds.values())
    return {"n": total, "kinds": dict(kinds), "retry_success": {k: fixed[k] / kinds[k] for k in kinds},
            "right_full_hints": right_hints}


def _profile_table(profiles: dict[str, dict[str, Any]]) -> list[str]:
    names = list(profiles)
    lines = ["| reflection kind | " + " | ".join(f"{n}: share (retry solved)" for n in names) + " |",
             "|---|" + "---|" * len(names)]
    for kind in (*REFLECTION_KINDS, "other"):
        cells = []
        for name in names:
            p = profiles[name]
            count = p["kinds"].get(kind, 0)
            share = 100 * count / p["n"] if p["n"] else 0.0
            rate = f"{100 * p['retry_success'][kind]:.0f}%" if count else "-"
            cells.append(f"{share:.1f}% ({rate})")
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    hints = [f"{p['right_full_hints']} of {p['kinds'].get('full', 0)}" for p in profiles.values()]
    lines.append("| full hints that are right | " + " | ".join(hints) + " |")
    return lines


def _examples(episodes: Sequence[Episode], n: int) -> list[str]:
    lines = []
    for e in [e for e in episodes if e.reflections][:n]:
        if "nums" not in e.example:  # a real model's task (r3.demo.real)
            lines.append(example_line(e))
            continue
        retry = e.attempts[1]
        mark = "solved" if retry.verdict.correct else "wrong"
        lines.append(f"- Make {e.example['target']} with {' '.join(map(str, e.example['nums']))}: "
                     f"`{e.attempts[0].text}` -> reflection **{e.reflections[0].text}** -> "
                     f"`{retry.text}` ({mark})")
    return lines


def _difference(a: tuple[dict[str, Any], list[Episode]], b: tuple[dict[str, Any], list[Episode]],
                metric: str) -> tuple[float, float, float]:
    """B minus A and its 95% interval: paired problem by problem when both arms evaluated the same puzzles (they do
    in the demo; the independent interval would be too wide), else the independent one."""
    pairs = pair_episodes(a[1], b[1])
    if pairs is None:
        return difference_interval(a[0][metric], b[0][metric])
    return paired_difference_interval(*paired_counts(pairs, 1 if metric == "first_attempt" else 2))


def _verdict(before: tuple[dict[str, Any], list[Episode]], after: tuple[dict[str, Any], list[Episode]]) -> str:
    d, low, high = _difference(before, after, "within_two")
    before, after = before[0], after[0]
    separated = not intervals_overlap(before["within_two"], after["within_two"])
    reading = ("the 95% intervals do not overlap: more than chance allows" if separated
               else "the 95% intervals overlap: not distinguishable from chance")
    return (f"Within two attempts: {100 * d:+.1f} points (95% interval of the difference {100 * low:+.1f} to "
            f"{100 * high:+.1f}); {reading}.")


def write_report(settings: Any, paths: Any, plan: Sequence[Any], timings: dict[str, float]) -> Path:
    """Write OUT/report.md (and the plot) from the finished stages; returns the report's path."""
    arms = {"before training": paths.eval_before, "after reflection training": paths.eval_after}
    if settings.control:
        arms["control (reflection left out)"] = paths.eval_control
    loaded = {name: load_eval(directory) for name, directory in arms.items()}
    summaries = {name: summary for name, (summary, _) in loaded.items()}
    before = summaries["before training"]

    histories = {"reflection-only": run_records(paths.train)}
    if settings.control:
        histories["control"] = run_records(paths.control)
    real = recipe_settings(settings.recipe_path)
    demo_task = real["task"] in (None, TASK_NAME)
    plotted = plot_training_curves(histories, paths.out / CURVES_FILE,
                                   title=f"r3 demo: {'countdown' if demo_task else real['task']} | {settings.model_dir.name}")

    lines = ["# r3 demo: Reflect, Retry, Reward on a tiny model", "",
             (f"Held-out puzzles: {before['n_problems']} (never seen in pretraining, mining or training). "
             f"Sampling at temperature {real['temperature']}; seed {settings.seed}."), "",
             (f"| model | {METRIC_NAMES['first_attempt']} | {METRIC_NAMES['within_two']} | "
              f"{METRIC_NAMES['reflection_success_rate']} | {METRIC_NAMES['mean_reflection_tokens']} |"),
             "|---|---|---|---|---|"]
    for name, s in summaries.items():
        tokens = s["mean_reflection_tokens"]
        lines.append(f"| {name} | {_pct(s['first_attempt'])} | {_pct(s['within_two'])} | "
                     f"{_pct(s['reflection_success_rate'])} | {tokens:.1f} |" if tokens is not None else
                     f"| {name} | {_pct(s['first_attempt'])} | {_pct(s['within_two'])} | - | - |")
    arm_before, arm_after = loaded["before training"], loaded["after reflection training"]
    d_first, lo_first, hi_first = _difference(arm_before, arm_after, "first_attempt")
    lines += ["", "95% Wilson intervals in brackets; differences paired over the same puzzles.", "",
              _verdict(arm_before, arm_after),
              (f"First attempt: {100 * d_first:+.1f} points ({100 * lo_first:+.1f} to {100 * hi_first:+.1f}); "
              "first attempts never receive gradient in reflection-only training.")]
    if settings.control:
        d, low, high = _difference(loaded["control (reflection left out)"], arm_after, "within_two")
        lines.append(f"Reflection-only training against the control, within two attempts: {100 * d:+.1f} points "
                     f"({100 * low:+.1f} to {100 * high:+.1f}).")
    lines += ["", "## What the reflections look like", "",
              ("Share of each kind among reflections on failed first attempts, and (in brackets) how often the retry "
              "after it solved the puzzle:"), ""]
    if demo_task:  # the kinds are those of the demo model's corpus
        lines += _profile_table({name: reflection_profile(episodes) for name, (_, episodes) in loaded.items()})
    for name, (_, episodes) in loaded.items():
        lines += ["", f"{name}:", "", *_examples(episodes, SHOWN_REFLECTIONS)]
    lines += ["", "## Training curves", ""]
    lines.append(f"![training curves]({CURVES_FILE})" if plotted else "(no training metrics were logged)")
    lines += ["", "## Commands", "", "```"] + [stage.command for stage in plan] + ["```", "",
              "Wall time per stage (seconds): " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()), ""]
    paths.report.write_text("\n".join(lines), encoding="utf-8")
    return paths.report

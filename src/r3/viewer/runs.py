"""What the page shows of an eval run, a pair of eval runs and a mining run, read from the files those runs write.

Each reader returns one JSON-ready "section" of the page. Texts are passed through as they are (the page inserts
them as text, never as markup); what the page does not show (token ids, fingerprints) is left out, so 5,000 episodes
stay a few megabytes. The page's filters are tags computed here, once, so the rule for "fixed after reflecting"
lives in Python next to `Episode.solved_at`, not in JavaScript.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from r3.errors import R3Error
from r3.evaluation.compare import compare_runs, pair_episodes
from r3.evaluation.store import EPISODES_FILE, read_episodes, read_run
from r3.evaluation.tables import METRIC_NAMES, summary_rows
from r3.rundir import RUN_FILE, read_json_lines
from r3.types import Episode

FAILURES_FILE, PROGRESS_FILE, STATS_FILE = "failures.jsonl", "progress.jsonl", "stats.json"  # r3.mining.store's

# the eval page's filters: tag -> label (an episode has one outcome tag and any of the two problem tags)
EPISODE_TAGS = {
    "fixed": "fixed after reflecting",
    "wrong": "still wrong",
    "first": "right first time",
    "verifier_error": "verifier error",
    "truncated": "truncated",
}


def run_kind(path: Path) -> str:
    """'eval', 'mine' or 'train', from run.json's record (or, for runs without one, from the files they hold)."""
    if not path.is_dir():
        raise R3Error(f"{path}: no such run directory")
    kind = None
    if (path / RUN_FILE).is_file():
        try:
            kind = (json.loads((path / RUN_FILE).read_bytes()).get("r3_run") or {}).get("kind")
        except (ValueError, AttributeError):
            raise R3Error(f"{path / RUN_FILE}: not valid JSON") from None
    if kind is None:
        names = {"episodes.jsonl": "eval", FAILURES_FILE: "mine", "metrics.jsonl": "train",
                 "train_summary.json": "train"}
        kind = next((k for name, k in names.items() if (path / name).exists()), None)
    if kind not in ("eval", "mine", "train"):
        found = f"a {kind} run" if kind else "no run r3 wrote (no run.json, episodes, failures or metrics)"
        raise R3Error(f"{path}: r3 view shows eval, mine and train runs; this is {found}")
    return kind


def _problem(prompt: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> tuple[str, str | None]:
    """(the problem as the model read it: the last user message, the system prompt or None)."""
    users = [m.get("content", "") for m in prompt if m.get("role") == "user"]
    system = next((m.get("content", "") for m in prompt if m.get("role") == "system"), None)
    return (users[-1] if users else ""), system


def episode_tags(episode: Episode) -> list[str]:
    """The filters an episode passes: its outcome (fixed / wrong / first) and verifier_error, truncated if any."""
    solved = episode.solved_at
    tags = ["first" if solved == 1 else "wrong" if solved is None else "fixed"]
    if any(a.verdict.error for a in episode.attempts):
        tags.append("verifier_error")
    reasons = list(episode.extra.get("attempt_finish_reasons", [])) + [r.finish_reason for r in episode.reflections]
    if "length" in reasons:
        tags.append("truncated")
    return tags


def episode_record(episode: Episode) -> dict[str, Any]:
    """One card: the problem, each attempt with its verdict, each reflection; no token ids (the page shows text)."""
    problem, system = _problem(episode.prompt)
    finishes = list(episode.extra.get("attempt_finish_reasons", []))
    return {
        "index": episode.index,
        "id": episode.problem_id,
        "problem": problem,
        "system": system,
        "attempts": [{"text": a.text, "tokens": a.num_tokens, "correct": a.verdict.correct, "reason": a.verdict.reason,
                      "error": a.verdict.error, "finish": finishes[i] if i < len(finishes) else None}
                     for i, a in enumerate(episode.attempts)],
        "reflections": [{"text": r.text, "tokens": r.num_tokens, "finish": r.finish_reason}
                        for r in episode.reflections],
        "solved_at": episode.solved_at,
        "tags": episode_tags(episode),
    }


def eval_episodes(path: Path) -> list[Episode]:
    return read_episodes(path / EPISODES_FILE)


def eval_section(path: Path, name: str, episodes: list[Episode]) -> dict[str, Any]:
    """An eval run (its `episodes` read by `eval_episodes`): the summary table and every episode as a card."""
    if not episodes:
        raise R3Error(f"{path / EPISODES_FILE}: no episodes yet")
    record = read_run(path) if (path / "summary.json").is_file() else None
    summary = [list(row) for row in summary_rows(record["summary"])] if record else []
    cards = [episode_record(e) for e in episodes]
    systems = {card["system"] for card in cards}
    system = systems.pop() if len(systems) == 1 else None
    if system is not None:  # the same system prompt in every episode: shown once, not carried 5,000 times
        for card in cards:
            card["system"] = None
    return {"kind": "eval", "name": name, "path": str(path), "model": record["model"] if record else None,
            "task": record["task"] if record else None, "finished": record is not None, "summary": summary,
            "system": system, "tags": EPISODE_TAGS, "episodes": cards}


def change(a: Episode, b: Episode) -> str:
    """What became of a problem from run A to run B, by whether any attempt solved it: fixed, broken or same."""
    solved_a, solved_b = a.solved_at is not None, b.solved_at is not None
    return "fixed" if solved_b and not solved_a else "broken" if solved_a and not solved_b else "same"


def comparison_section(a: tuple[Path, str, list[Episode]], b: tuple[Path, str, list[Episode]]
                       ) -> dict[str, Any] | None:
    """Two eval runs (path, name, episodes) of the same problems: each problem's change and the differences with
    paired intervals; None when the runs did not evaluate the same problems (or one is unfinished)."""
    (path_a, name_a, episodes_a), (path_b, name_b, episodes_b) = a, b
    pairs = pair_episodes(episodes_a, episodes_b)
    if pairs is None or not (path_a / "summary.json").is_file() or not (path_b / "summary.json").is_file():
        return None
    comparison = compare_runs(path_a, path_b, episodes=(episodes_a, episodes_b))
    problems = [{"id": ea.problem_id, "problem": _problem(ea.prompt)[0], "change": change(ea, eb), "a": ea.solved_at,
                 "b": eb.solved_at, "index_a": ea.index, "index_b": eb.index} for ea, eb in pairs]
    counts = {key: sum(p["change"] == key for p in problems) for key in ("fixed", "broken", "same")}
    return {"kind": "compare", "name": f"{name_a} vs {name_b}", "a": name_a, "b": name_b,
            "rows": [asdict(row) for row in comparison.rows], "paired": comparison.paired, "counts": counts,
            "differing_settings": comparison.differing_settings, "problems": problems,
            "solved_name": METRIC_NAMES["within_attempts"].format(k=comparison.a["summary"]["max_attempts"])}


def _read_records(path: Path) -> list[dict[str, Any]]:
    records, _ = read_json_lines(path) if path.is_file() else ([], 0)
    return [r for r in records if isinstance(r, dict)]


def mine_section(path: Path, name: str) -> dict[str, Any]:
    """A mining run: each kept problem with the first attempts that failed and the verifier's reasons."""
    problems = []
    for number, row in enumerate(_read_records(path / FAILURES_FILE), start=1):
        prompt = row.get("prompt_messages")
        failed = row.get("failed_attempts")
        if not isinstance(prompt, list) or not isinstance(failed, list):
            raise R3Error(f"{path / FAILURES_FILE}: line {number} is not a mined failure (no prompt_messages or "
                          "failed_attempts)")
        mining = row.get("mining") if isinstance(row.get("mining"), dict) else {}
        problems.append({"id": str(row.get("problem_id", number - 1)), "problem": _problem(prompt)[0],
                         "failed": [{"text": f.get("text", ""), "reason": f.get("reason", ""),
                                     "tokens": f.get("num_tokens")} for f in failed if isinstance(f, dict)],
                         "samples": mining.get("samples"), "failures": mining.get("failures"),
                         "first_failure_at": mining.get("first_failure_at")})
    stats = {}
    if (path / STATS_FILE).is_file():
        try:
            stats = json.loads((path / STATS_FILE).read_bytes())
        except ValueError:
            raise R3Error(f"{path / STATS_FILE}: not valid JSON") from None
    seen = stats.get("queries_seen", len(_read_records(path / PROGRESS_FILE)))
    rows = [["problems seen", str(seen)], ["problems kept (at least one failure)", str(len(problems))]]
    for key, label in (("samples_generated", "first attempts sampled"), ("failures_seen", "failures seen"),
                       ("sample_ratio", "share of the fixed budget spent")):
        if key in stats:
            rows.append([label, f"{stats[key]:.2f}" if isinstance(stats[key], float) else str(stats[key])])
    return {"kind": "mine", "name": name, "path": str(path), "summary": rows, "problems": problems}

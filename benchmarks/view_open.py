"""How fast the `r3 view` page of a large eval run opens in headless Chromium, and how big the file is.

    .venv/bin/python benchmarks/view_open.py                       # 5,000 episodes, one run and a before/after pair
    .venv/bin/python benchmarks/view_open.py --episodes 20000 --repeats 3 --json-out runs/bench_view.json

It writes eval runs of synthetic Countdown episodes with the lengths a 1.5B instruct model produces (a first attempt
of ~1,000 characters with its reasoning, a ~400-character reflection, a ~900-character retry; about one in four
solved at once), builds the page with `r3.viewer.write_page` and opens it in a fresh headless Chromium each time
(Debian's `chromium`, driven over the DevTools pipe of tests/view/browser.py). "open" is the time from the start of
navigation to the first frame drawn after the page's script ran (load event, then a requestAnimationFrame): what a
person waits for before the first cards show. Filtering and searching all episodes are timed too. The target
(issue 18): under 2 s for 5,000 episodes.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "view"))

from browser import Browser

from r3.evaluation.stats import summarize
from r3.types import Attempt, Completion, Episode, Verdict
from r3.viewer import write_page

WORDS = ("let", "me", "try", "the", "numbers", "first", "then", "multiply", "add", "subtract", "so", "we", "get",
         "which", "is", "not", "target", "again", "check", "each", "used", "once")


def prose(rng: random.Random, chars: int) -> str:
    words = []
    while sum(len(w) + 1 for w in words) < chars:
        words.append(rng.choice(WORDS) if rng.random() > 0.15 else str(rng.randint(1, 99)))
    return " ".join(words)


def episode(index: int, rng: random.Random, solved_first: float) -> Episode:
    """Problem `index` (the same in every run) and one model's episode on it (drawn from `rng`)."""
    problem = random.Random(index)
    nums = [problem.randint(1, 99) for _ in range(4)]
    target = problem.randint(10, 200)
    prompt = ({"role": "user", "content": f"Using the numbers {nums}, create an equation that equals {target}. "
               "Show your work in <think> </think> tags and return the final equation in <answer> </answer> tags."},)

    def answer() -> str:
        return f"<think>{prose(rng, 1000)}</think> <answer>{nums[0]} + {nums[1]} - {nums[2]} * {nums[3]}</answer>"

    first_right = rng.random() < solved_first
    attempts = [Attempt(answer(), 300, Verdict(first_right, "correct" if first_right else f"evaluates to "
                                               f"{rng.randint(1, 300)}, not {target}"))]
    reflections = []
    if not first_right:
        reflections.append(Completion(prose(rng, 400), 110))
        retry_right = rng.random() < 0.2
        attempts.append(Attempt(answer()[:900], 270, Verdict(retry_right, "correct" if retry_right else
                                                              f"evaluates to {rng.randint(1, 300)}, not {target}")))
    return Episode(index, f"test-{index}", {"nums": nums, "target": target}, prompt, tuple(attempts),
                   tuple(reflections), {"attempt_finish_reasons": ["stop"] * len(attempts)})


def write_run(out: Path, n: int, seed: int) -> Path:
    rng = random.Random(seed)
    episodes = [episode(i, rng, 0.25) for i in range(n)]
    out.mkdir(parents=True)
    (out / "episodes.jsonl").write_text("".join(json.dumps(e.to_dict()) + "\n" for e in episodes), encoding="utf-8")
    record = {"summary": summarize(episodes, 2), "settings": {"task": "countdown"}, "model": "synthetic",
              "task": "countdown"}
    (out / "summary.json").write_text(json.dumps(record), encoding="utf-8")
    return out


def time_open(page: Path, repeats: int) -> dict:
    """Median and worst of `repeats` opens, each in a fresh browser, and the filter and search times."""
    opens, filters, searches = [], [], []
    for _ in range(repeats):
        with Browser() as browser:
            browser.open(page)
            opens.append(browser.evaluate(
                "new Promise(r => requestAnimationFrame(() => setTimeout(() => r(performance.now()), 0)))") / 1000)
            filters.append(browser.evaluate(
                "(() => { const t = performance.now(); document.querySelector('section.run:not([hidden]) "
                "button[data-filter]:nth-child(2)').click(); return performance.now() - t; })()") / 1000)
            searches.append(browser.evaluate(
                "(() => { const s = document.querySelector('section.run:not([hidden]) input[type=search]'); "
                "const t = performance.now(); s.value = 'multiply again'; s.dispatchEvent(new Event('input')); "
                "return performance.now() - t; })()") / 1000)
            cards = browser.evaluate("document.querySelectorAll('section.run:not([hidden]) .card, "
                                     "section.run:not([hidden]) tr.row').length")
    return {"open_median_s": statistics.median(opens), "open_max_s": max(opens),
            "filter_median_s": statistics.median(filters), "search_median_s": statistics.median(searches),
            "drawn_after_search": cards, "repeats": repeats}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        before = write_run(root / "before", args.episodes, args.seed)
        after = write_run(root / "after", args.episodes, args.seed + 1)  # the same problems, other outcomes
        for label, runs in ((f"one eval run, {args.episodes} episodes", [before]),
                            (f"before/after pair, 2 x {args.episodes} episodes", [before, after])):
            started = time.perf_counter()
            page = write_page(runs, root / "page.html")
            build = time.perf_counter() - started
            result = {"page": label, "megabytes": round(page.stat().st_size / 1e6, 2), "build_s": round(build, 2),
                      **{k: round(v, 3) if isinstance(v, float) else v for k, v in time_open(page, args.repeats)
                         .items()}}
            results.append(result)
            print(json.dumps(result), flush=True)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

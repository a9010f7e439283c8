"""The page as a person sees it, in headless Chromium: cards, filters, search, sort, collapsed texts, the before /
after table opening both episodes, and model output containing markup shown as text, never run.

Needs Debian's `chromium` (.ci/run installs it); skipped with the reason when it is absent outside CI.
"""

from __future__ import annotations

import json
import os

import pytest
from browser import Browser, find_chromium

from r3.viewer import write_page

if find_chromium() is None:
    if os.environ.get("CI"):
        raise RuntimeError("CI must run the page tests: apt-get install chromium (.ci/run does)")
    pytest.skip("no chromium on PATH (apt-get install chromium); the page tests need a browser",
                allow_module_level=True)

VISIBLE = "section.run:not([hidden])"


@pytest.fixture(scope="module")
def page(runs, tmp_path_factory):
    path = write_page([runs["before"], runs["after"], runs["train"], runs["mine"]],
                      tmp_path_factory.mktemp("page") / "view.html")
    with Browser() as browser:
        browser.open(path)
        yield browser


def tab(browser: Browser, name: str) -> None:
    browser.evaluate(f"[...document.querySelectorAll('nav#tabs button')].find(b => b.firstChild.textContent === "
                     f"{json.dumps(name)}).click()")


def count(browser: Browser, selector: str) -> int:
    return browser.evaluate(f"document.querySelectorAll({json.dumps(f'{VISIBLE} {selector}')}).length")


def click(browser: Browser, selector: str) -> None:
    browser.evaluate(f"document.querySelector({json.dumps(f'{VISIBLE} {selector}')}).click()")


def type_in(browser: Browser, selector: str, value: str, event: str) -> None:
    """Set a search box's or a select's value and fire the event a person's typing or choosing fires."""
    field = f"document.querySelector({json.dumps(f'{VISIBLE} {selector}')})"
    browser.evaluate(f"{field}.value = {json.dumps(value)}; {field}.dispatchEvent(new Event({json.dumps(event)}))")


def text(browser: Browser, selector: str) -> str:
    return browser.evaluate(f"document.querySelector({json.dumps(f'{VISIBLE} {selector}')}).textContent")


def test_eval_cards_filters_search_and_sort(page):
    tab(page, "before")
    assert count(page, "article.episode") == 12
    assert text(page, ".count") == "showing 12 of 12 episodes"
    click(page, 'button[data-filter="fixed"]')  # p1, p5, p9 are fixed after reflecting
    assert count(page, "article.episode") == 3
    assert page.evaluate(f"[...document.querySelectorAll('{VISIBLE} article.episode')].map(c => c.dataset.id)") == [
        "p1", "p5", "p9"]
    click(page, 'button[data-filter="all"]')
    type_in(page, "input[type=search]", "MULTIPLIED", "input")
    assert count(page, "article.episode") == 7  # the short reflections, of every problem not right first time
    type_in(page, "input[type=search]", "", "input")
    type_in(page, "select", "longest", "change")
    assert text(page, "article.episode .id") == "p3"  # the long reflection first


def test_long_texts_start_collapsed_and_expand(page):
    tab(page, "before")
    card = f"{VISIBLE} article.episode[data-id=p3]"
    assert page.evaluate(f"document.querySelector('{card} .turn.reflection .text').classList.contains('clipped')")
    button = f"document.querySelector('{card} .turn.reflection button.expand')"
    assert page.evaluate(f"{button}.textContent").startswith("show all")
    page.evaluate(f"{button}.click()")
    assert not page.evaluate(f"document.querySelector('{card} .turn.reflection .text').classList.contains('clipped')")


def test_before_after_row_opens_both_episodes(page):
    tab(page, "before vs after")
    assert count(page, "tr.row") == 3  # the changed problems: p2 and p6 fixed, p5 broken
    click(page, "tr.row[data-id=p2]")
    sides = page.evaluate(f"[...document.querySelectorAll('{VISIBLE} tr.detail .side')].map(s => "
                          "[s.querySelector('h3').textContent, s.querySelector('.badge').textContent])")
    assert sides == [["A: before", "still wrong"], ["B: after", "fixed after reflecting (attempt 2)"]]
    click(page, "tr.row[data-id=p2]")
    assert count(page, "tr.detail") == 0


def test_model_output_with_markup_is_shown_as_text_and_runs_nothing(page):
    tab(page, "before")
    reflection = page.evaluate(f"document.querySelector('{VISIBLE} article.episode[data-id=p2] "
                               ".turn.reflection .text').textContent")
    assert reflection.startswith("<script>window.__pwned = 1</script></div><img src=x")
    assert reflection.endswith("<|im_end|>")
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.evaluate("document.querySelectorAll('script').length") == 2  # the data and the page's own
    assert page.evaluate("document.querySelectorAll('main img:not(.curves)').length") == 0
    assert not [m for m in page.console_messages() if "pwned" in m or "rror" in m]


def test_training_and_mining_tabs(page):
    tab(page, "train")
    assert count(page, "article.group") == 3  # a group per failed attempt and step: 2 from TRL's table, 1 sample
    assert count(page, "article.group .turn.reflection") == 5
    assert "zero_spread" in text(page, ".alarms li")
    assert page.evaluate(f"document.querySelector('{VISIBLE} img.curves').naturalWidth") > 100
    click(page, 'button[data-filter="none"]')
    assert count(page, "article.group") == 1
    tab(page, "mine")
    assert count(page, "article.mined") == 9

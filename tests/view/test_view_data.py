"""What `r3 view` reads from runs (Python side): kinds, filters' tags, the before / after table, escaping, errors."""

from __future__ import annotations

import json

import pytest

from r3.cli import main
from r3.errors import R3Error
from r3.viewer import embed_json, page_data, render, write_page
from r3.viewer.runs import run_kind


def _sections(data: dict) -> dict[str, dict]:
    return {s["kind"] if s["kind"] != "eval" else s["name"]: s for s in data["sections"]}


def test_every_kind_of_run_is_read_and_the_comparison_comes_first(runs):
    data = page_data([runs["before"], runs["after"], runs["train"], runs["mine"]])
    assert [s["kind"] for s in data["sections"]] == ["compare", "eval", "eval", "train", "mine"]
    sections = _sections(data)
    before = sections["before"]
    assert len(before["episodes"]) == 12 and before["finished"] and before["summary"][0] == ["problems", "12"]
    tags = {e["id"]: e["tags"] for e in before["episodes"]}
    assert tags["p0"] == ["first"] and tags["p1"] == ["fixed"] and tags["p2"] == ["wrong"]
    assert "token_ids" not in json.dumps(before["episodes"][0])  # the page carries text, not ids


def test_before_after_pairs_problems_and_counts_changes(runs):
    compare = _sections(page_data([runs["before"], runs["after"]]))["compare"]
    changes = {p["id"]: p["change"] for p in compare["problems"]}
    assert {k for k, v in changes.items() if v == "fixed"} == {"p2", "p6"}
    assert {k for k, v in changes.items() if v == "broken"} == {"p5"}
    assert compare["counts"] == {"fixed": 2, "broken": 1, "same": 9} and compare["paired"] == 12
    assert "within two attempts" in [row["metric"] for row in compare["rows"]]


def test_runs_of_other_problems_get_no_comparison(runs, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    lines = (runs["after"] / "episodes.jsonl").read_text().splitlines()[:5]
    (other / "episodes.jsonl").write_text("\n".join(lines) + "\n")
    kinds = [s["kind"] for s in page_data([runs["before"], other])["sections"]]
    assert kinds == ["eval", "eval"]


def test_training_run_shows_reflections_by_group_with_rewards_and_alarms(runs):
    train = _sections(page_data([runs["train"]]))["train"]
    groups = [(g["step"], g["source"], len(g["reflections"]), g["right"]) for g in train["groups"]]
    assert groups == [(1, "completions", 2, 1), (2, "samples", 1, 0), (3, "completions", 2, 1)]  # step 1: the table
    first = train["groups"][0]
    assert (first["problem"], first["attempt"], first["instruction"]) == ("problem at step 1", "<answer>3 * 3 * 4</answer>", "Reflect.")
    assert [(r["reflection"], r["reward"], r["correct"]) for r in first["reflections"]] == [
        ("completion 1-0", 1.0, True), ("completion 1-1", 0.0, False)]
    assert train["alarms"][0]["name"] == "zero_spread" and train["log_completions"]
    assert train["curves_png"] and any("model changed: yes" in line for line in train["summary_lines"])


def test_mining_run_shows_each_problem_failures_with_reasons(runs):
    mine = _sections(page_data([runs["mine"]]))["mine"]
    kept = {p["id"]: p for p in mine["problems"]}
    assert set(kept) == {f"p{k}" for k in range(12) if k % 4}  # problems 0, 4, 8 are always solved
    assert [f["reason"] for f in kept["p1"]["failed"]] == ["evaluates to 36, not 10"] * 2


def test_embedded_json_cannot_close_the_script_element():
    data = {"text": "</script><script>alert(1)</script><!-- & \u2028"}
    embedded = embed_json(data)
    assert "<" not in embedded and ">" not in embedded and "&" not in embedded
    assert json.loads(embedded) == data
    page = render({"version": "x", "created": "now", "sections": [], **data})
    assert page.count("</script>") == 2  # the data element's and the script's own, nothing from the data


def test_a_demo_directory_stands_for_its_stages(runs, tmp_path):
    demo = tmp_path / "demo"
    demo.mkdir()
    (demo / "demo.json").write_text("{}")
    for name in ("eval_before", "eval_after", "mine"):
        (demo / name).symlink_to(runs[{"eval_before": "before", "eval_after": "after"}.get(name, name)])
    names = [s["name"] for s in page_data([demo])["sections"]]
    assert names == ["eval_before vs eval_after", "eval_before", "eval_after", "mine"]


def test_bad_runs_are_one_line_errors(runs, tmp_path, capsys):
    with pytest.raises(R3Error, match="no such run directory"):
        page_data([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(R3Error, match="shows eval, mine and train runs"):
        run_kind(tmp_path / "empty")
    forgetting = tmp_path / "forgetting"
    forgetting.mkdir()
    (forgetting / "run.json").write_text(json.dumps({"r3_run": {"kind": "forgetting"}}))
    assert main(["view", str(runs["before"]), str(forgetting), "--out", str(tmp_path / "p.html")]) == 2
    assert "this is a forgetting run" in capsys.readouterr().err
    assert not (tmp_path / "p.html").exists()
    with pytest.raises(R3Error, match="is a directory"):
        write_page([runs["before"]], tmp_path)


def test_cli_writes_the_page_and_says_where(runs, tmp_path, capsys):
    out = tmp_path / "pages" / "view.html"
    assert main(["view", str(runs["before"]), str(runs["after"]), "--out", str(out)]) == 0
    assert f"page: {out}" in capsys.readouterr().out
    text = out.read_text(encoding="utf-8")
    assert "http://" not in text.replace("http://www.w3.org", "") and "https://" not in text  # nothing fetched
    assert 'id="r3-data"' in text


def test_a_page_is_replaced_but_a_users_file_or_a_link_never(runs, tmp_path, capsys):
    out = tmp_path / "view.html"
    write_page([runs["before"]], out)
    write_page([runs["mine"]], out)  # a page r3 view wrote is replaced
    assert '"kind":"mine"' in out.read_text(encoding="utf-8")
    notes = tmp_path / "notes.html"
    notes.write_text("<p>my notes</p>")
    assert main(["view", str(runs["before"]), "--out", str(notes)]) == 2
    assert "is not a page r3 view wrote" in capsys.readouterr().err
    assert notes.read_text() == "<p>my notes</p>"
    target = tmp_path / "elsewhere.html"
    target.write_text("theirs")
    link = tmp_path / "link.html"
    link.symlink_to(target)
    with pytest.raises(R3Error, match="symbolic link"):
        write_page([runs["before"]], link)
    assert target.read_text() == "theirs" and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []


def test_the_api_writes_the_same_page(runs, tmp_path):
    import r3

    path = r3.view([runs["mine"]], tmp_path / "mine.html")
    assert path == tmp_path / "mine.html" and '"kind":"mine"' in path.read_text(encoding="utf-8")


def test_a_system_prompt_shared_by_every_episode_is_carried_once(runs, tmp_path):
    run = tmp_path / "system"
    run.mkdir()
    lines = []
    for line in (runs["before"] / "episodes.jsonl").read_text().splitlines():
        record = json.loads(line)
        record["prompt"] = [{"role": "system", "content": "You are careful."}, *record["prompt"]]
        lines.append(json.dumps(record))
    (run / "episodes.jsonl").write_text("\n".join(lines) + "\n")
    section = page_data([run])["sections"][0]
    assert section["system"] == "You are careful." and {e["system"] for e in section["episodes"]} == {None}
    assert page_data([runs["before"]])["sections"][0]["system"] is None

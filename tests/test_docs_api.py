"""docs/api.md's example runs as written: a CSV with renamed columns and custom prompts, evaluated end to end."""

from __future__ import annotations

import json
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def test_api_example_runs_and_uses_the_mapped_columns_and_templates(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert blocks, "docs/api.md has no python example"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    exec(compile(blocks[0], str(DOC), "exec"), {"__name__": "docs_api"})  # noqa: S102 - our own documentation
    printed = capsys.readouterr().out.split()
    assert printed[0] == "2"
    episodes = [json.loads(line) for line in (tmp_path / "runs/api-eval/episodes.jsonl").read_text().splitlines()]
    assert [e["problem_id"] for e in episodes] == ["p1", "p2"]
    system, user = episodes[0]["prompt"][0], episodes[0]["prompt"][-1]
    assert system == {"role": "system", "content": "You are a careful arithmetician."}
    assert user["content"].startswith("Use the numbers [44, 19, 35] once each") and "to make 98" in user["content"]
    assert episodes[0]["example"]["target"] == 98 and episodes[0]["example"]["nums"] == [44, 19, 35]

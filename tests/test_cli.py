"""The `creator-kpi-mcp` command: the demo talks to a real server subprocess over stdio."""

from __future__ import annotations

import io

from cli import run_demo
from kpi_core import score
from kpi_core.demo import demo_creator_ids, demo_metrics


def test_the_demo_prints_each_creators_score_as_the_server_computed_it() -> None:
    out = io.StringIO()
    failures = run_demo(out, count=4)
    text = out.getvalue()
    assert failures == 0
    assert "over stdio; tools: score_creator" in text
    assert "Synthetic demo creators" in text
    every = demo_creator_ids()
    shown = every[:: len(every) // 4][:4]
    for creator_id in shown:
        expected = score(demo_metrics(creator_id))
        row = next(line for line in text.splitlines() if line.startswith(creator_id))
        assert f"{expected.overall_score:.1f}" in row
        assert expected.band in row
    for tool in ("score_creator", "diagnose", "recommend"):
        assert f"{tool} on {shown[0]} (the text an assistant reads first):" in text

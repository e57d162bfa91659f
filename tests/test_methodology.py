"""docs/methodology.md is generated from the live model: the committed file is the code's."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpi_core.catalogue import load_catalogue
from kpi_core.methodology import DOCUMENT, main, render_methodology
from kpi_core.priors import load_priors

ROOT = Path(__file__).resolve().parents[1]


def test_the_committed_methodology_is_what_the_code_generates() -> None:
    committed = (ROOT / DOCUMENT).read_text("utf-8")
    assert committed == render_methodology(), "run python -m kpi_core.methodology"


def test_the_check_mode_passes_on_the_project_and_fails_on_a_stale_copy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--check", "--root", str(ROOT)]) == 0
    stale = tmp_path / DOCUMENT
    stale.parent.mkdir(parents=True)
    stale.write_text("# an old method\n", "utf-8")
    assert main(["--check", "--root", str(tmp_path)]) == 1
    assert "is stale: run python -m kpi_core.methodology" in capsys.readouterr().err
    assert main(["--root", str(tmp_path)]) == 0
    assert stale.read_text("utf-8") == render_methodology()


def test_the_document_quotes_the_live_figures() -> None:
    """Spot checks against the catalogue and priors.json as loaded, not the generator's code."""
    text = render_methodology()
    catalogue = load_catalogue()
    priors = load_priors()
    assert text.startswith(f"# Scoring methodology ({catalogue.model_version})\n")
    gmv = catalogue.metrics["gmv"]
    j = priors.metrics.index("gmv")
    row = next(line for line in text.splitlines() if line.startswith("| `gmv` |"))
    assert f"| {gmv.weight} | higher | log | 100 | 100000 |" in row
    assert f"| {priors.sd[j]:.3f} | {priors.offset[j]:+.3f} |" in row
    strength = priors.strength["conversion_rate"]
    assert f"| `conversion_rate` | product_clicks | {strength:.1f} |" in text
    counts = catalogue.figure_counts()
    assert f"{counts['cited']} are cited" in text
    assert "| `interval_level` | 0.8 |" in text
    assert f"Seed {priors.seed}, {priors.count:,} creators" in text

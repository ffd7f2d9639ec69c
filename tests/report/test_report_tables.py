"""The Table 2-style table as text and rich, rank bins, and the CLI command."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from pixelpush.report import table_rich, table_text
from pixelpush.report.figures import main_perturbations, rank_bins, weighted_hr_by_step


def test_table_text_lists_every_configuration(rendered_run: Path) -> None:
    results = json.loads((rendered_run / "results.json").read_text())
    text = table_text(results)
    lines = text.splitlines()
    assert lines[0].split()[:2] == ["recommender", "attack"]
    assert len(lines) == 2 + len(results["attacks"])
    wb = next(a for a in results["attacks"] if a["recommender"] == "vbpr" and a["attack"] == "wb")
    wb_line = next(line for line in lines if line.startswith("VBPR") and " WB " in line)
    assert f"{wb['hr']['20']:.3f}" in wb_line and f"{wb['hr']['1']:.3f}" in wb_line
    assert table_text({"attacks": []}) == "(no attack results)"


def test_table_rich_renders(rendered_run: Path) -> None:
    results = json.loads((rendered_run / "results.json").read_text())
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(table_rich(results))
    assert "BB-Partial" in console.export_text()


def test_missing_values_show_as_dash() -> None:
    entry = {"recommender": "vbpr", "attack": "wb", "threat_model": "specific-user", "hr": {"20": None}}
    assert table_text({"attacks": [entry]}).splitlines()[-1].split()[-1] == "-"


def _entry(defense: str | None, attack: str, hr20: float, experiment: str = "e") -> dict:
    return {"experiment": experiment, "recommender": "vbpr", "defense": defense, "attack": attack,
            "threat_model": "specific-user", "hr": {"20": hr20}}


def test_rows_under_defenses_name_their_defense_the_undefended_first() -> None:
    results = {"attacks": [_entry("jpeg75", "wb", 0.2), _entry(None, "wb", 0.9), _entry("amr", "wb", 0.0)]}
    lines = table_text(results).splitlines()
    assert lines[0].split()[:3] == ["recommender", "defense", "attack"]
    cells = [re.split(r"\s{2,}", line.strip()) for line in lines]
    hr20 = cells[0].index("HR@20")
    assert [(row[1], row[hr20]) for row in cells[2:]] == [("none", "0.900"), ("amr", "0.000"), ("jpeg75", "0.200")]
    console = Console(width=250, record=True, file=io.StringIO())
    console.print(table_rich(results))
    assert "jpeg75" in console.export_text()


def test_rows_that_would_read_the_same_name_their_experiment() -> None:
    results = {"attacks": [_entry(None, "wb", 0.9, "stage-a"), _entry(None, "wb", 0.5, "stage-b")]}
    lines = table_text(results).splitlines()
    assert lines[0].split()[:2] == ["experiment", "recommender"]
    assert {line.split()[0] for line in lines[2:]} == {"stage-a", "stage-b"}
    undefended = {"attacks": [_entry(None, "wb", 0.9), _entry(None, "bb-rank", 0.5)]}
    assert table_text(undefended).splitlines()[0].split()[:2] == ["recommender", "attack"]  # no column it does not need


def test_rank_bins_adapt_to_catalog_size() -> None:
    assert rank_bins(3000) == [(1, 100), (101, 500), (501, 1000), (1001, None)]
    assert rank_bins(300) == [(1, 10), (11, 50), (51, 100), (101, None)]
    assert rank_bins(400_000)[-1] == (100_001, None)
    assert rank_bins(2) == [(1, 1), (2, None)]


def test_weighted_hr_by_step_weights_by_eval_users() -> None:
    pairs = [{"n_eval_users": 1, "hits_by_step": {"20": [0.0, 1.0]}},
             {"n_eval_users": 3, "hits_by_step": {"20": [0.0, 0.0]}}]
    assert weighted_hr_by_step(pairs) == [0.0, 0.25]
    assert weighted_hr_by_step([]) is None


def test_main_perturbations_prefers_the_most_common() -> None:
    entries = [{"attack": "bb-rank", "perturbations": d} for d in (16, 32, 64)] + [
        {"attack": "bb-score", "perturbations": 32}, {"attack": "wb", "perturbations": 0}]
    assert main_perturbations(entries) == 32


def test_cli_prints_the_report_path(tmp_path: Path) -> None:
    import typer

    from pixelpush.cli.report import report

    app = typer.Typer()
    app.command()(report)
    (tmp_path / "results.json").write_text('{"attacks": []}')
    result = CliRunner().invoke(app, [str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(tmp_path / "report.html")
    assert (tmp_path / "report.html").is_file()


def test_cli_main_turns_a_corrupt_run_into_exit_2(tmp_path: Path) -> None:
    from pixelpush.cli.main import main

    (tmp_path / "results.json").write_text("{")
    assert main(["report", str(tmp_path)]) == 2

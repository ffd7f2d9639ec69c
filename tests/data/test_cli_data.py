"""``pixelpush data info``."""

from __future__ import annotations

import json

import numpy as np

from typer.testing import CliRunner

from pixelpush.cli import data
from pixelpush.cli.main import main
from pixelpush.data.fashion import load_fashion

runner = CliRunner()


def test_info_json_matches_the_dataset() -> None:
    result = runner.invoke(data.app, ["info", "fashion", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    ds = load_fashion()
    assert info["name"] == "fashion"
    assert (info["n_users"], info["n_items"], info["n_categories"]) == (ds.n_users, ds.n_items, 10)
    assert info["n_interactions"] == len(ds.interactions)
    assert info["image_shape"] == [112, 112, 3]
    assert info["categories"][1] == "Trouser"
    assert info["history_length"]["median"] == float(np.median([len(h) for h in ds.histories]))


def test_info_table() -> None:
    result = runner.invoke(data.app, ["info", "fashion-dense"])
    assert result.exit_code == 0, result.output
    assert "n_interactions" in result.output and "3000" in result.output and "Ankle boot" in result.output


def test_unknown_dataset_is_a_one_line_error_with_exit_2(capsys) -> None:
    assert main(["data", "info", "no-such-data"]) == 2
    err = capsys.readouterr().err
    assert "unknown dataset" in err and "no-such-data" in err

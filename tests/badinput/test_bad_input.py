"""The bad-input corpus: every row is a command a user might type that must be refused cleanly.

Each case runs ``pixelpush ARGV`` in-process in its own folder (also the working directory) and
must: exit with its code (2: "bad input"), name the culprit on stderr, print no traceback
anywhere (stdout, stderr, warnings logged), print nothing on stdout, and leave the folder exactly
as it was (no new, half-written or removed file). Add a row per new case; ``config_file`` writes a
campaign config from a TOML string. Placeholders: ``{tmp}`` the case's folder, ``{unwritable}`` a
folder nothing can be written to, ``{configs}`` the checkout's configs/.
"""

from __future__ import annotations

import logging
import shlex
import stat
from pathlib import Path

import pytest
from badinput_helpers import (
    Case,
    Setup,
    amazon,
    config_file,
    describe_changes,
    file_,
    folder,
    movielens,
    review,
    run_folder,
    snapshot,
    unwritable_folder,
)

from pixelpush.cli.main import main

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
F = "--no-progress --cache-dir {tmp}/cache"  # features/train options shared by their rows
U_DATA = "{tmp}/ml/ml-100k/u.data:11"  # the first line after the tiny MovieLens' 10 ratings
REVIEWS = "reviews_Clothing_Shoes_and_Jewelry.json.gz"
NON_FINITE = [review("NaN"), review("Infinity"), review("-Infinity"), review('"NaN"'), review('"inf"')]


def read_only(rel: str) -> Setup:
    """Make ``tmp/rel`` read-only; skip the case where chmod has no effect (root)."""

    def make(tmp: Path) -> None:
        path = tmp / rel
        path.chmod(stat.S_IRUSR | stat.S_IXUSR)
        probe = path / ".probe"
        try:
            probe.touch()
        except OSError:
            return
        probe.unlink()
        path.chmod(stat.S_IRWXU)
        pytest.skip("chmod has no effect here (running as root)")

    return make


F_TXT = file_("f.txt", "a regular file\n")

CASES = [
    # id                                     setup                                        argv                                                       exit  culprit on stderr
    # ---- features: --out is a .npy file, --cache-dir a folder; refused before any image is read
    Case("features-out-under-a-file",         [F_TXT],                                     f"features {F} --out {{tmp}}/f.txt/x.npy",                   2, "--out {tmp}/f.txt/x.npy: {tmp}/f.txt is a file, not a folder"),
    Case("features-out-is-a-folder",          [folder("dir")],                             f"features {F} --out {{tmp}}/dir",                           2, "--out {tmp}/dir: is a folder, expected a file name"),
    Case("features-out-unwritable",           [],                                          f"features {F} --out {{unwritable}}/x.npy",                  2, "--out {unwritable}/x.npy: cannot write there"),
    Case("features-cache-dir-is-a-file",      [F_TXT],                                     "features --no-progress --cache-dir {tmp}/f.txt",            2, "--cache-dir {tmp}/f.txt: is a file, not a folder"),
    Case("features-cache-dir-under-a-file",   [F_TXT],                                     "features --no-progress --cache-dir {tmp}/f.txt/sub",        2, "--cache-dir {tmp}/f.txt/sub: {tmp}/f.txt is a file, not a folder"),
    Case("features-cache-dir-unwritable",     [],                                          "features --no-progress --cache-dir {unwritable}",           2, "--cache-dir {unwritable}: cannot write there"),
    Case("features-default-cache-is-a-file",  [file_(".cache")],                           "features --no-progress",                                    2, "--cache-dir .cache/features: .cache is a file, not a folder"),
    # ---- train: --out is a folder (model.pt, metrics.json); refused before training, not after
    Case("train-out-is-a-file",               [F_TXT],                                     f"train {F} --epochs 1 --out {{tmp}}/f.txt",                 2, "--out {tmp}/f.txt: is a file, not a folder"),
    Case("train-out-under-a-file",            [F_TXT],                                     f"train {F} --epochs 1 --out {{tmp}}/f.txt/run",             2, "--out {tmp}/f.txt/run: {tmp}/f.txt is a file, not a folder"),
    Case("train-out-unwritable",              [],                                          f"train {F} --epochs 1 --out {{unwritable}}",                2, "--out {unwritable}: cannot write there"),
    Case("train-out-model-pt-is-a-folder",    [folder("run/model.pt")],                    f"train {F} --epochs 1 --out {{tmp}}/run",                   2, "--out {tmp}/run/model.pt: is a folder, expected a file name"),
    Case("train-cache-dir-is-a-file",         [F_TXT],                                     "train --no-progress --cache-dir {tmp}/f.txt --out {tmp}/r", 2, "--cache-dir {tmp}/f.txt: is a file, not a folder"),
    Case("train-cache-dir-unwritable",        [],                                          "train --no-progress --cache-dir {unwritable} --out {tmp}/r", 2, "--cache-dir {unwritable}: cannot write there"),
    Case("train-unknown-model",               [],                                          f"train {F} --model svd --out {{tmp}}/run",                  2, "--model must be one of bpr, vbpr, deepstyle, got 'svd'"),
    # ---- report RUN_DIR: the folder, its outputs, and what it holds
    Case("report-run-dir-missing",            [],                                          "report {tmp}/nowhere",                                      2, "{tmp}/nowhere: not a run folder (no such folder)"),
    Case("report-run-dir-is-a-file",          [F_TXT],                                     "report {tmp}/f.txt",                                        2, "{tmp}/f.txt: not a run folder (a file)"),
    Case("report-run-dir-without-results",    [folder("run")],                             "report {tmp}/run",                                          2, "{tmp}/run/results.json: no results.json"),
    Case("report-run-dir-read-only",          [run_folder(), read_only("run")],            "report {tmp}/run",                                          2, "report figures folder {tmp}/run/figures: cannot write there"),
    Case("report-figures-is-a-file",          [run_folder(), file_("run/figures")],        "report {tmp}/run",                                          2, "report figures folder {tmp}/run/figures: is a file, not a folder"),
    Case("report-html-is-a-folder",           [run_folder(), folder("run/report.html")],   "report {tmp}/run",                                          2, "report {tmp}/run/report.html: is a folder, expected a file name"),
    Case("report-results-not-json",           [run_folder(results_text="{")],              "report {tmp}/run",                                          2, "{tmp}/run/results.json: cannot read results"),
    Case("report-results-attack-not-object",  [run_folder(results_text='{"attacks": [3]}')], "report {tmp}/run",                                        2, "{tmp}/run/results.json: attacks[0] must be an object, got number 3"),
    Case("report-results-d-is-a-string",      [run_folder(attack={"perturbations": "8"})], "report {tmp}/run",                                          2, "{tmp}/run/results.json: attacks[0]: field 'perturbations' must be an integer, got string \"8\""),
    Case("report-results-hr-is-a-list",       [run_folder(attack={"hr": [0.1, 0.2]})],     "report {tmp}/run",                                          2, "attacks[0]: field 'hr' must be an object of numbers, got array [0.1, 0.2]"),
    Case("report-results-curve-is-a-string",  [run_folder(attack={"hr_by_step": {"20": "0 1 1"}})], "report {tmp}/run",                                    2, "attacks[0]: field 'hr_by_step' must be an object of lists of numbers; hr_by_step[\"20\"] is string \"0 1 1\""),
    Case("report-results-ssim-is-a-string",   [run_folder(attack={"ssim_by_step": "0.98"})], "report {tmp}/run",                                        2, "attacks[0]: field 'ssim_by_step' must be a list of numbers, got string \"0.98\""),
    Case("report-results-epsilon-is-a-string", [run_folder(attack={"blend_epsilon": "0.05"})], "report {tmp}/run",                                      2, "attacks[0]: field 'blend_epsilon' must be a number, got string \"0.05\""),
    Case("report-pairs-line-is-an-array",     [run_folder(extra_lines=["[1, 2]"])],        "report {tmp}/run",                                          2, "{tmp}/run/pairs.jsonl:2: not a pair record: a JSON array"),
    Case("report-pairs-line-is-a-number",     [run_folder(extra_lines=["3"])],             "report {tmp}/run",                                          2, "{tmp}/run/pairs.jsonl:2: not a pair record: a JSON number"),
    Case("report-pairs-line-is-null",         [run_folder(extra_lines=["null"])],          "report {tmp}/run",                                          2, "{tmp}/run/pairs.jsonl:2: not a pair record: a JSON null"),
    Case("report-pairs-line-without-unit",    [run_folder(extra_lines=['{"x": 1}'])],      "report {tmp}/run",                                          2, "{tmp}/run/pairs.jsonl:2: not a pair record: field 'unit' must be a non-empty string, got missing"),
    Case("report-pairs-unit-is-a-number",     [run_folder(pair={"unit": 5})],              "report {tmp}/run",                                          2, "{tmp}/run/pairs.jsonl:1: not a pair record: field 'unit' must be a non-empty string, got a JSON number"),
    Case("report-pairs-hits-is-a-string",     [run_folder(pair={"hits_by_step": {"20": "0,1,1"}})], "report {tmp}/run",                                 2, "pairs.jsonl:1: field 'hits_by_step' must be an object of lists of numbers; hits_by_step[\"20\"] is string \"0,1,1\""),
    Case("report-pairs-uploads-is-a-string",  [run_folder(pair={"uploads_by_step": "0 9 18"})], "report {tmp}/run",                                     2, "pairs.jsonl:1: field 'uploads_by_step' must be a list of numbers, got string \"0 9 18\""),
    Case("report-pairs-upload-step-string",   [run_folder(pair={"uploads_by_step": [0, "9", 18]})], "report {tmp}/run",                                 2, "pairs.jsonl:1: field 'uploads_by_step' must be a list of numbers; uploads_by_step[1] is string \"9\""),
    Case("report-pairs-rank-is-a-string",     [run_folder(pair={"rank_before": "40"})],    "report {tmp}/run",                                          2, "pairs.jsonl:1: field 'rank_before' must be a number, got string \"40\""),
    Case("report-pairs-d-is-a-float",         [run_folder(pair={"perturbations": 8.5})],   "report {tmp}/run",                                          2, "pairs.jsonl:1: field 'perturbations' must be an integer, got number 8.5"),
    Case("report-pairs-users-is-a-boolean",   [run_folder(pair={"n_eval_users": True})],   "report {tmp}/run",                                          2, "pairs.jsonl:1: field 'n_eval_users' must be an integer, got boolean true"),
    Case("report-pairs-images-is-a-list",     [run_folder(pair={"images": ["a.png"]})],    "report {tmp}/run",                                          2, "pairs.jsonl:1: field 'images' must be an object of strings, got array [\"a.png\"]"),
    # ---- data info: names, roots, and files whose lines break the loaders' rules
    Case("data-info-unknown-dataset",         [],                                          "data info no-such-data",                                    2, "unknown dataset 'no-such-data'"),
    Case("data-info-root-missing",            [],                                          "data info movielens-posters --root {tmp}/nowhere",          2, "dataset 'movielens-posters': root {tmp}/nowhere: no such folder"),
    Case("data-info-root-is-a-file",          [F_TXT],                                     "data info movielens-posters --root {tmp}/f.txt",            2, "dataset 'movielens-posters': root {tmp}/f.txt: is a file, not a folder"),
    Case("data-info-amazon-root-is-a-file",   [F_TXT],                                     "data info amazon-clothing --root {tmp}/f.txt",              2, "dataset 'amazon-clothing': root {tmp}/f.txt: is a file, not a folder"),
    Case("data-info-not-embedded-no-root",    [],                                          "data info movielens-posters",                               2, "dataset 'movielens-posters' is not embedded: give its folder with --root PATH"),
    Case("movielens-id-overflows-int64",      [movielens(extra_ratings=["99999999999999999999\t1\t5\t881250949"])], "data info movielens-posters --root {tmp}/ml", 2, f"{U_DATA}: expected 4 tab-separated integers"),
    Case("movielens-negative-user-id",        [movielens(extra_ratings=["-3\t1\t5\t881250949"])], "data info movielens-posters --root {tmp}/ml",      2, f"{U_DATA}: user and item ids must be >= 0"),
    Case("movielens-negative-item-id",        [movielens(extra_ratings=["1\t-1\t5\t881250949"])], "data info movielens-posters --root {tmp}/ml",      2, f"{U_DATA}: user and item ids must be >= 0"),
    Case("amazon-only-non-finite-ratings",    [amazon(reviews=NON_FINITE)],                "data info amazon-clothing --root {tmp}/amazon",             2, f"{{tmp}}/amazon/{REVIEWS}: all 5 lines are malformed"),
    # ---- error text is printed verbatim: Rich markup in a culprit is neither eaten nor fatal
    Case("error-text-keeps-double-brackets",  [],                                          "data info [[experiments]]",                                 2, "error: unknown dataset '[[experiments]]'"),
    Case("error-text-keeps-closing-tag",      [],                                          "data info [/]",                                             2, "error: unknown dataset '[/]'"),
    Case("error-text-keeps-markup-in-a-path", [],                                          "report '{tmp}/[bold red]x[/]'",                             2, "error: {tmp}/[bold red]x[/]: not a run folder"),
    # ---- run: campaign configs (config_file writes one from TOML); validation is the lead's part of issue 9
    Case("run-config-missing",                [],                                          "run {tmp}/missing.toml --out {tmp}/out",                    2, "config file not found: {tmp}/missing.toml"),
    Case("run-config-not-toml",               [config_file("c.toml", "seed = [\n")],       "run {tmp}/c.toml --out {tmp}/out",                          2, "{tmp}/c.toml: not valid TOML"),
    Case("run-config-seed-is-a-string",       [config_file("c.toml", 'seed = "x"')],       "run {tmp}/c.toml --out {tmp}/out",                          2, "{tmp}/c.toml: seed: Input should be a valid integer"),
    Case("run-out-is-a-file",                 [F_TXT],                                     "run {configs}/demo.toml --out {tmp}/f.txt",                 2, "{tmp}/f.txt"),
    Case("run-config-unknown-dataset",        [config_file("c.toml", '[dataset]\nname = "nope"')],      "run {tmp}/c.toml --out {tmp}/out",          2, "unknown dataset 'nope'"),
    Case("run-config-is-a-directory",         [folder("cfg")],                             "run {tmp}/cfg --out {tmp}/out",                             2, "config {tmp}/cfg is a directory"),
    Case("run-config-unknown-key",            [config_file("c.toml", "sed = 1")],          "run {tmp}/c.toml --out {tmp}/out",                          2, "sed: Extra inputs are not permitted"),
    Case("run-dataset-is-a-string",           [config_file("c.toml", 'dataset = "fashion"')], "run {tmp}/c.toml --out {tmp}/out",                       2, "dataset: Input should be a valid dictionary or instance of DatasetConfig (got str 'fashion')"),
    Case("run-dataset-unknown-option",        [config_file("c.toml", '[dataset]\nname = "fashion"\noptions = {colour = 1}')], "run {tmp}/c.toml --out {tmp}/out", 2, "dataset 'fashion' has no option colour"),
    Case("run-dataset-option-wrong-type",     [config_file("c.toml", '[dataset]\nname = "movielens-posters"\nroot = "ml"\noptions = {max_items = "ten"}')], "run {tmp}/c.toml --out {tmp}/out", 2, "option max_items = 'ten' has the wrong type"),
    Case("run-model-option-wrong-type",       [config_file("c.toml", '[training.options]\nvbpr = {lambda_visual = "lots"}')], "run {tmp}/c.toml --out {tmp}/out", 2, "training.options.vbpr.lambda_visual: expected float, got 'lots'"),
    Case("run-model-option-unknown",          [config_file("c.toml", '[training.options]\nvbpr = {lambda_magic = 1.0}')], "run {tmp}/c.toml --out {tmp}/out", 2, "training.options.vbpr: unknown setting(s) lambda_magic"),
    Case("run-training-option-wrong-type",    [config_file("c.toml", '[training.options]\nvbpr = {lr = "fast"}')], "run {tmp}/c.toml --out {tmp}/out",  2, "training.options.vbpr.lr: expected float"),
    Case("run-steps-is-a-string",             [config_file("c.toml", '[[experiments]]\nsteps = "3"')], "run {tmp}/c.toml --out {tmp}/out",             2, "experiments.0.steps: Input should be a valid integer"),
    Case("run-no-experiments",                [config_file("c.toml", "experiments = []")], "run {tmp}/c.toml --out {tmp}/out",                          2, "experiments: List should have at least 1 item"),
    Case("run-duplicate-experiment-names",    [config_file("c.toml", '[[experiments]]\nname = "a"\n[[experiments]]\nname = "a"')], "run {tmp}/c.toml --out {tmp}/out", 2, "experiment names must be distinct: ['a']"),
    Case("run-negative-blend-epsilon",        [config_file("c.toml", '[[experiments]]\nattacks = ["baseline-blend"]\nblend_epsilons = [-0.1]')], "run {tmp}/c.toml --out {tmp}/out", 2, "blend epsilons must be in (0, 1]"),
    Case("run-unknown-attack",                [config_file("c.toml", '[[experiments]]\nattacks = ["magic"]')], "run {tmp}/c.toml --out {tmp}/out",       2, "unknown attack 'magic'; known: wb, bb-score"),
    Case("run-unknown-attack-option",         [config_file("c.toml", '[[experiments]]\nattacks = ["bb-rank"]\nattack_options = {bb-rank = {magic = 1}}')], "run {tmp}/c.toml --out {tmp}/out", 2, "attack 'bb-rank' has no setting magic"),
    Case("run-bad-attack-option-value",       [config_file("c.toml", '[[experiments]]\nattacks = ["bb-rank"]\nattack_options = {bb-rank = {radius = 0}}')], "run {tmp}/c.toml --out {tmp}/out", 2, "attack 'bb-rank': radius must be an integer in 1..255, got 0"),
    Case("run-attack-variant-without-options", [config_file("c.toml", '[[experiments]]\nattacks = ["bb-rank:x"]')], "run {tmp}/c.toml --out {tmp}/out",     2, "attack variants ['bb-rank:x'] need their settings in attack_options"),
    Case("run-unknown-threat-model",          [config_file("c.toml", '[[experiments]]\nthreat_models = ["everyone"]')], "run {tmp}/c.toml --out {tmp}/out", 2, "unknown threat model 'everyone'"),
    Case("run-recommender-variant-undefined", [config_file("c.toml", '[[experiments]]\nrecommenders = ["vbpr:x"]')], "run {tmp}/c.toml --out {tmp}/out",   2, "recommender variants ['vbpr:x'] need their settings in training.options"),
    Case("run-out-under-a-file",              [F_TXT],                                     "run {configs}/demo.toml --out {tmp}/f.txt/run",             2, "--out {tmp}/f.txt/run: {tmp}/f.txt is a file, not a folder"),
    Case("run-out-unwritable",                [],                                          "run {configs}/demo.toml --out {unwritable}/run",            2, "--out {unwritable}/run: cannot write there"),
    Case("run-cache-dir-is-a-file",           [F_TXT, config_file("c.toml", 'cache_dir = "f.txt"')], "run {tmp}/c.toml --out {tmp}/out",        2, "cache_dir f.txt/features: f.txt is a file, not a folder"),
    Case("run-missing-dataset-root",          [config_file("c.toml", '[dataset]\nname = "movielens-posters"\nroot = "nowhere"')], "run {tmp}/c.toml --out {tmp}/out", 2, "root {tmp}/nowhere: no such folder"),
    # ---- audit, check-model and bring-your-own folders: refused before any model is built or any file written
    Case("audit-config-missing",              [],                                          "audit {tmp}/nope.toml --out {tmp}/run",                     2, "config file not found: {tmp}/nope.toml"),
    Case("audit-config-without-audit-table",  [config_file("a.toml", "seed = 1")],         "audit {tmp}/a.toml --out {tmp}/run",                        2, "{tmp}/a.toml: an audit config needs an [audit] table"),
    Case("audit-unknown-model",               [config_file("a.toml", '[audit]\nmodels = ["nope"]')], "audit {tmp}/a.toml --out {tmp}/run",         2, "unknown recommender 'nope'"),
    Case("audit-with-experiments",            [config_file("a.toml", '[audit]\nmodels = ["vbpr"]\n[[experiments]]\nname = "x"')], "audit {tmp}/a.toml --out {tmp}/run", 2, "an audit config makes its own experiments"),
    Case("audit-pairs-is-a-string",           [config_file("a.toml", '[audit]\nmodels = ["vbpr"]\npairs = "30"')], "audit {tmp}/a.toml --out {tmp}/run", 2, "audit.pairs: Input should be a valid integer"),
    Case("audit-out-is-a-file",               [F_TXT, config_file("a.toml", '[audit]\nmodels = ["vbpr"]')], "audit {tmp}/a.toml --out {tmp}/f.txt", 2, "--out {tmp}/f.txt: is a file, not a folder"),
    Case("audit-model-without-factory",       [config_file("a.toml", '[models.m]\nlabel = "x"\n[audit]\nmodels = ["m"]')], "audit {tmp}/a.toml --out {tmp}/run", 2, "models.m: give exactly one of factory"),
    Case("check-model-nothing-to-check",      [config_file("c.toml", "seed = 1")],         "check-model {tmp}/c.toml",                                  2, "the config defines no model to check"),
    Case("data-info-folder-bad-rating",       [folder("shop/images"), file_("shop/interactions.csv", "user,item,rating\nu1,a,5\nu1,b,lots\n")],
         "data info folder --root {tmp}/shop",                                                                                                       2, "{tmp}/shop/interactions.csv:3: rating 'lots' is not a finite number"),
    Case("data-info-folder-missing-image",    [folder("shop/images"), file_("shop/interactions.csv", "user,item\nu1,a\n")],
         "data info folder --root {tmp}/shop",                                                                                                       2, "item 'a': no image file (looked for images/a.*)"),
]


def _fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


@pytest.mark.parametrize("case", [case.param() for case in CASES])
def test_bad_input_is_refused_cleanly(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    work = tmp_path / "case"
    work.mkdir()
    for step in case.setup:
        step(work)
    values = {"tmp": str(work), "configs": str(CONFIGS)}
    if "{unwritable}" in case.argv + case.culprit:
        values["unwritable"] = str(unwritable_folder(work))
    argv, culprit = shlex.split(_fill(case.argv, values)), _fill(case.culprit, values)
    monkeypatch.chdir(work)
    before = snapshot(work)
    with caplog.at_level(logging.WARNING):
        code = main(argv)
    out, err = capsys.readouterr()
    assert code == case.code, f"exit code {code}; stderr: {err}"
    assert culprit in err, f"stderr does not name the culprit {culprit!r}: {err}"
    assert "Traceback" not in out + err + caplog.text
    assert out == "", f"a refused command printed a result: {out}"
    assert describe_changes(before, snapshot(work)) == []
    if "unwritable" in values:
        assert not Path(values["unwritable"]).exists()


def test_case_ids_are_unique() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(
    ("setup", "argv", "written"),
    [
        pytest.param(run_folder(), "report {tmp}/run", "run/report.html", id="run-folder"),
        pytest.param(movielens(), "data info movielens-posters --root {tmp}/ml --json", "", id="movielens"),
    ],
)
def test_the_corpus_fixtures_are_good_input_when_left_unbroken(
    setup: Setup, argv: str, written: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The rows fail because of what each one breaks, not because the fixture itself is bad."""
    setup(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(shlex.split(_fill(argv, {"tmp": str(tmp_path)}))) == 0, capsys.readouterr().err
    if written:
        assert (tmp_path / written).is_file()

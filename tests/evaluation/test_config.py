import pytest

from pixelpush.errors import ConfigError
from pixelpush.evaluation.config import load_config, parse_config


def test_units_expand_black_box_perturbations_and_blend_epsilons():
    cfg = parse_config(
        {"experiments": [{"attacks": ["wb", "bb-rank", "baseline-blend"], "perturbations": [16, 64], "blend_epsilons": [0.01, 0.1]}]}
    )
    units = cfg.experiments[0].units()
    assert [(u["attack"], u["sweep"]) for u in units] == [
        ("wb", {}),
        ("bb-rank", {"perturbations": 16}),
        ("bb-rank", {"perturbations": 64}),
        ("baseline-blend", {"epsilon": 0.01}),
        ("baseline-blend", {"epsilon": 0.1}),
    ]


def test_a_variant_that_fixes_the_swept_setting_runs_at_its_own_value():
    cfg = parse_config({"experiments": [{"attacks": ["bb-rank", "bb-rank:few"], "perturbations": [32],
                                         "attack_options": {"bb-rank:few": {"perturbations": 4}}}]})
    e = cfg.experiments[0]
    assert [(u["attack"], u["sweep"]) for u in e.units()] == [("bb-rank", {"perturbations": 32}), ("bb-rank:few", {"perturbations": 4})]
    assert e.build_attack("bb-rank:few", e.sweep("bb-rank:few")[0]).perturbations == 4


def test_attack_variants_take_their_options_and_bad_options_fail_at_load():
    cfg = parse_config(
        {"experiments": [{"attacks": ["bb-rank", "bb-rank:probit"], "attack_options": {"bb-rank:probit": {"rank_to_score": "probit"}}}]}
    )
    e = cfg.experiments[0]
    assert e.build_attack("bb-rank:probit", {"perturbations": 8}).rank_to_score == "probit"
    assert e.build_attack("bb-rank", {"perturbations": 8}).rank_to_score == "uniform"
    with pytest.raises(ConfigError, match="no setting magic"):
        parse_config({"experiments": [{"attacks": ["bb-rank"], "attack_options": {"bb-rank": {"magic": 1}}}]})
    with pytest.raises(ConfigError, match="need their settings"):
        parse_config({"experiments": [{"attacks": ["bb-rank:x"]}]})
    with pytest.raises(ConfigError, match="not in attacks"):
        parse_config({"experiments": [{"attacks": ["wb"], "attack_options": {"bb-rank": {}}}]})


def test_bad_values_name_the_field(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('seed = 1\n[[experiments]]\nattacks = ["wb", "magic"]\nsteps = 0\n')
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "bad.toml" in str(err.value) and "experiments.0.attacks" in str(err.value) and "steps" in str(err.value)


def test_unknown_key_and_broken_toml_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="sed"):
        parse_config({"sed": 1})
    path = tmp_path / "broken.toml"
    path.write_text("seed = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")


def test_relative_dataset_root_is_taken_from_the_config_folder(tmp_path):
    (tmp_path / "cfg").mkdir()
    path = tmp_path / "cfg" / "c.toml"
    path.write_text('[dataset]\nname = "movielens-posters"\nroot = "../data"\n')
    assert load_config(path).dataset.root == str((tmp_path / "data").resolve())


def test_every_shipped_config_is_valid():
    from pathlib import Path

    configs = sorted(Path(__file__).resolve().parents[2].joinpath("configs").glob("*.toml"))
    assert len(configs) >= 9
    for path in configs:
        cfg = load_config(path)
        assert cfg.experiments and all(e.units() for e in cfg.experiments), path


def test_recommender_variants_need_their_settings():
    cfg = parse_config(
        {
            "training": {"options": {"vbpr:low-reg": {"lambda_visual": 1e-4}}},
            "experiments": [{"recommenders": ["vbpr", "vbpr:low-reg"]}],
        }
    )
    assert cfg.experiments[0].recommenders == ["vbpr", "vbpr:low-reg"]
    with pytest.raises(ConfigError, match="need their settings"):
        parse_config({"experiments": [{"recommenders": ["vbpr:other"]}]})
    with pytest.raises(ConfigError, match="unknown recommender 'svd'"):
        parse_config({"experiments": [{"recommenders": ["svd"]}]})

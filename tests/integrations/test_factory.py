"""Naming a user's model in a config (``[models.NAME] factory = "module:function"``): resolved from
the config's folder, built once per run folder with the campaign's split, reused on resume."""

from __future__ import annotations

import shutil
import textwrap

import numpy as np
import pytest
from tiny_campaign import TINY_CAMPAIGN

from pixelpush.errors import ConfigError
from pixelpush.evaluation.config import load_config
from pixelpush.evaluation.preparation import prepare, prepare_inputs
from pixelpush.integrations.factory import resolve

MODULE = '''
import numpy as np, torch
from pixelpush.recommenders.base import Recommender
from pixelpush.recommenders.scaling import FeatureNormaliser

CALLS = []

class Linear(Recommender):
    """s(u, i) = theta_u . (E f_i): theta_u is the mean projection of the user's items."""

    def __init__(self, features, histories, k, seed):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.norm = FeatureNormaliser.fit(features)
        self.E = torch.randn(features.shape[1], k, generator=gen)
        self._n_items = features.shape[0]
        projected = self.norm(torch.from_numpy(features)) @ self.E
        self.theta = torch.stack([projected[torch.as_tensor(h)].mean(0) if len(h) else torch.zeros(k) for h in histories])

    @property
    def n_users(self):
        return int(self.theta.shape[0])

    @property
    def n_items(self):
        return self._n_items

    def score(self, users, items, features):
        return self.theta[users] @ (self.norm(features) @ self.E).T

    def fold_in(self, history, features, *, seed):
        with torch.no_grad():
            row = (self.norm(features[torch.as_tensor(history)]) @ self.E).mean(0, keepdim=True)
        self.theta = torch.cat([self.theta, row])
        return self.n_users - 1


def build(context, k=4):
    CALLS.append(context.name)
    train = context.split.train_histories()
    return Linear(context.features, train, k, context.seed % 1000)


def not_a_model(context):
    return object()
'''


def _config(tmp_path, feature_cache, **model):
    (tmp_path / "mymodels.py").write_text(MODULE)
    spec = "\n        ".join(f"{k} = {v}" for k, v in ({"factory": '"mymodels:build"'} | model).items())
    (tmp_path / "audit.toml").write_text(textwrap.dedent(f'''
        seed = 3
        cache_dir = "{feature_cache}"
        [dataset]
        name = "fashion"
        options = {{upload_size = 32}}
        [image_model]
        input_size = 32
        [training]
        models = ["bpr"]
        epochs = 2
        [models.mine]
        {spec}
        [[experiments]]
        recommenders = ["mine"]
        attacks = ["bb-rank"]
        pairs = 1
        steps = 1
    '''))
    return load_config(tmp_path / "audit.toml")


def _with_trained_bpr(run_dir, tiny_campaign):
    """The tiny campaign's BPR (same data, seed and epochs): its recipe matches, so it is reused."""
    (run_dir / "models").mkdir(parents=True)
    for name in ("bpr.pt", "bpr.json"):
        shutil.copy(tiny_campaign[0] / "models" / name, run_dir / "models" / name)
    return run_dir


def test_a_factory_model_is_built_once_measured_and_reused(tmp_path, feature_cache, tiny_campaign) -> None:
    config = _config(tmp_path, feature_cache)
    _with_trained_bpr(tmp_path / "run", tiny_campaign)
    assert config.models["mine"].path == str(tmp_path.resolve())
    inputs = prepare_inputs(config, progress=False)
    ctx = prepare(config, tmp_path / "run", inputs=inputs, progress=False)
    import mymodels

    assert mymodels.CALLS == ["mine"]
    assert ctx.recommenders["mine"].n_users == ctx.dataset.n_users
    metrics = ctx.model_metrics["mine"]
    assert metrics["source"] == "factory" and 0.5 < metrics["auc"] < 1.0 and metrics["visual_gain"] is not None
    assert (tmp_path / "run" / "models" / "mine.pickle").is_file()
    again = prepare(config, tmp_path / "run", inputs=inputs, progress=False)
    assert mymodels.CALLS == ["mine"], "the kept model was reused"
    np.testing.assert_array_equal(again.recommenders["mine"].theta.numpy(), ctx.recommenders["mine"].theta.numpy())
    changed = _config(tmp_path, feature_cache, options="{k = 3}")
    rebuilt = prepare(changed, tmp_path / "run", inputs=inputs, progress=False)
    assert mymodels.CALLS == ["mine", "mine"] and rebuilt.recommenders["mine"].theta.shape[1] == 3


def test_a_factory_that_returns_no_model_is_named(tmp_path, feature_cache, tiny_campaign) -> None:
    config = _config(tmp_path, feature_cache, factory='"mymodels:not_a_model"')
    _with_trained_bpr(tmp_path / "run", tiny_campaign)
    with pytest.raises(ConfigError, match=r"mymodels:not_a_model returned a object without n_users, n_items, score, fold_in"):
        prepare(config, tmp_path / "run", progress=False)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("nomodule_xyz:build", "cannot import 'nomodule_xyz'"),
        ("pixelpush.errors:nothing", "has no 'nothing'"),
        ("pixelpush.errors:__doc__", "not a function or class"),
        ("no-colon", "must be 'module:function'"),
    ],
)
def test_bad_factory_names_are_explained(target: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve(target)


def test_a_loaded_model_cannot_take_training_options_nor_a_trained_models_name() -> None:
    from pixelpush.evaluation.config import parse_config

    with pytest.raises(ConfigError, match="loaded, not trained"):
        parse_config({**TINY_CAMPAIGN, "training": {"options": {"cornac-vbpr": {"lr": 0.1}}}})
    with pytest.raises(ConfigError, match="a model pixelpush trains"):
        parse_config({**TINY_CAMPAIGN, "models": {"vbpr": {"factory": "a:b"}}})

"""``pixelpush check-model`` names what is wrong with a user's model: one defect at a time."""

from __future__ import annotations

import json
import textwrap

import pytest

from pixelpush.cli.main import main

pytestmark = pytest.mark.slow

MODULE = '''
import numpy as np, torch
from pixelpush.recommenders.base import Recommender
from pixelpush.recommenders.scaling import FeatureNormaliser


class Linear(Recommender):
    def __init__(self, features, histories, defect):
        super().__init__()
        self.defect = defect
        self.norm = FeatureNormaliser.fit(features)
        self.E = torch.randn(features.shape[1], 4, generator=torch.Generator().manual_seed(0))
        self._n_items = features.shape[0]
        projected = self.norm(torch.from_numpy(features)) @ self.E
        self.cached = projected.clone()
        self.theta = torch.stack([projected[torch.as_tensor(h)].mean(0) for h in histories])

    @property
    def n_users(self):
        return int(self.theta.shape[0])

    @property
    def n_items(self):
        return self._n_items

    def score(self, users, items, features):
        visual = self.cached[items] if self.defect == "ignores-features" else self.norm(features) @ self.E
        out = self.theta[users] @ visual.T
        return out.T if self.defect == "wrong-score-shape" else out

    def fold_in(self, history, features, *, seed):
        if self.defect == "random-fold-in":
            history = np.random.default_rng().choice(self.n_items, 3, replace=False)
        row = (self.norm(features[torch.as_tensor(history)]) @ self.E).mean(0, keepdim=True)
        self.theta = torch.cat([self.theta, row])
        return 0 if self.defect == "wrong-fold-in-return" else self.n_users - 1


def build(context, defect=""):
    return Linear(context.features, context.dataset.histories, defect)
'''

DEFECTS = {
    "wrong-fold-in-return": ("fold-in", "fold_in returned 0, expected the new user's id 2000"),
    "wrong-score-shape": ("score shapes", "returned shape"),
    "ignores-features": ("scores follow features", "scores ignore the features passed in"),
    "random-fold-in": ("fold-in deterministic", "fold_in is not deterministic"),
}


@pytest.fixture(scope="module")
def config(tmp_path_factory, feature_cache):
    folder = tmp_path_factory.mktemp("check-model")
    (folder / "usermodels.py").write_text(MODULE)
    tables = "\n".join(f'[models.{d}]\nfactory = "usermodels:build"\noptions = {{defect = "{d}"}}\n' for d in ["", *DEFECTS] if d)
    (folder / "check.toml").write_text(textwrap.dedent(f'''
        seed = 3
        cache_dir = "{feature_cache}"
        [dataset]
        name = "fashion"
        options = {{upload_size = 32}}
        [image_model]
        input_size = 32
        [models.sound]
        factory = "usermodels:build"
    ''') + tables)
    return str(folder / "check.toml")


def test_a_sound_model_passes_every_check(config, capsys) -> None:
    assert main(["check-model", config, "--model", "sound", "--json"]) == 0
    (outcome,) = json.loads(capsys.readouterr().out)
    assert outcome["ok"] and set(outcome["checks"].values()) == {"ok"} and len(outcome["checks"]) == 8
    assert outcome["notes"][0].startswith("AUC on the campaign's held-out items")


@pytest.mark.parametrize("defect", list(DEFECTS))
def test_each_defect_is_caught_and_named(config, capsys, defect) -> None:
    check, words = DEFECTS[defect]
    assert main(["check-model", config, "--model", defect]) == 1
    printed = capsys.readouterr().out
    assert f"FAIL {check}: " in printed and words in printed, printed


def test_an_unknown_model_is_bad_input(config, capsys) -> None:
    assert main(["check-model", config, "--model", "vbpr"]) == 2
    assert "check-model checks loaded models" in capsys.readouterr().err

"""The tutorial's wrapper (docs/tutorial-cornac.md, step 1), verbatim; tests/docs checks it stays so."""
import contextlib
import io

import cornac
import torch
from cornac.data import Dataset, ImageModality

from pixelpush.integrations.cornac import from_cornac
from pixelpush.recommenders.scaling import FeatureNormaliser


def build(context, n_epochs=5):
    """pixelpush calls this with the campaign's data, features and training split."""
    data, split = context.dataset, context.split
    users = [f"user-{u}" for u in range(data.n_users)]      # the raw ids Cornac sees
    items = [f"item-{i}" for i in range(data.n_items)]
    norm = FeatureNormaliser.fit(context.features)            # raw CNN features make VBPR unstable
    features = norm(torch.from_numpy(context.features)).numpy()

    train = Dataset.build([(users[u], items[i], 1.0) for u, i in split.train.tolist()], seed=0)
    train.add_modalities(item_image=ImageModality(features=features, ids=items).build(id_map=train.iid_map))
    model = cornac.models.VBPR(k=10, k2=10, n_epochs=n_epochs, verbose=False, seed=0)
    with contextlib.redirect_stdout(io.StringIO()):          # Cornac prints when it is done
        model.fit(train)

    return from_cornac(model, train, user_ids=users, item_ids=items, features=context.features,
                       histories=data.histories, normaliser=norm)

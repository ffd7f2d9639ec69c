"""Bring your own data: a folder of images plus an interactions table, validated before anything is built."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pixelpush.data.folder import load_folder
from pixelpush.data.registry import load_dataset
from pixelpush.errors import DataError
from pixelpush.vision.features import extract_features
from pixelpush.vision.models import load_image_model


def _shop(root, rows, *, items=("a1", "b2", "c3", "d4"), header="user,item,rating,timestamp", extra_images=()):
    (root / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for item in (*items, *extra_images):
        Image.fromarray(rng.integers(0, 256, (24, 20, 3), dtype=np.uint8)).save(root / "images" / f"{item}.png")
    (root / "interactions.csv").write_text("\n".join([header, *rows]) + "\n")
    return root


ROWS = ["u9,a1,5,1700000000", "u9,b2,2,1700000001", "u10,b2,4,", "u10,c3,5,1700000003", "u2,d4,3,1700000004", "u2,a1,4,1700000005"]


def test_ids_are_mapped_densely_in_sorted_order_and_kept_as_labels(tmp_path) -> None:
    data = load_folder(_shop(tmp_path, ROWS, extra_images=("e5",)))
    assert data.item_labels == ("a1", "b2", "c3", "d4", "e5"), "an image nobody consumed is a catalog item too"
    assert data.user_labels == ("u10", "u2", "u9")  # string order
    pairs = {(data.user_labels[u], data.item_labels[i]) for u, i in data.interactions.tolist()}
    assert pairs == {tuple(r.split(",")[:2]) for r in ROWS}
    assert data.images.get(2).shape == (24, 20, 3) and data.category_names == ("all",)


def test_ratings_filter_and_categories(tmp_path) -> None:
    root = _shop(tmp_path, ROWS)
    (root / "items.csv").write_text("item,category\na1,shoes\nb2,bags\nc3,shoes\n")
    data = load_folder(root, min_rating=4)
    assert len(data.interactions) == 4
    assert data.category_names == ("bags", "shoes", "unknown")
    assert [data.category_names[c] for c in data.categories] == ["shoes", "bags", "shoes", "unknown"]
    assert load_dataset("folder", root=root, min_rating=4, min_user_interactions=2).n_users == 1


def test_every_bad_row_is_named_by_file_and_line(tmp_path) -> None:
    rows = ["u1,a1,5,1", "u1,,4,2", "u2,b2,lots,3", "u3,c3,4", "u4,d4,4,yesterday", "u5,a1,nan,5"]
    with pytest.raises(DataError) as err:
        load_folder(_shop(tmp_path, rows))
    message = str(err.value)
    assert "5 problem(s)" in message
    for line, what in [(3, "empty item"), (4, "rating 'lots'"), (5, "3 fields, the header has 4"), (6, "timestamp 'yesterday'"), (7, "rating 'nan'")]:
        assert f"interactions.csv:{line}: {what}" in message, (line, message)


def test_missing_and_corrupt_images_are_reported_or_dropped(tmp_path) -> None:
    root = _shop(tmp_path, [*ROWS, "u3,zz,5,9"])
    (root / "images" / "c3.png").write_bytes(b"not a png at all")
    with pytest.raises(DataError) as err:
        load_folder(root)
    assert "item 'c3': not a readable image" in str(err.value) and "item 'zz': no image file" in str(err.value)
    data = load_folder(root, missing_images="drop")
    assert data.item_labels == ("a1", "b2", "d4") and "u3" not in data.user_labels


def test_a_bad_header_and_a_missing_table_are_named(tmp_path) -> None:
    with pytest.raises(DataError, match=r"interactions.csv:1: header .* must name user and item"):
        load_folder(_shop(tmp_path / "a", ROWS, header="customer,item"))
    (tmp_path / "b" / "images").mkdir(parents=True)
    with pytest.raises(DataError, match="exactly one of interactions.csv and interactions.parquet"):
        load_folder(tmp_path / "b")


def test_parquet_interactions_read_as_csv_ones(tmp_path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    csv_data = load_folder(_shop(tmp_path / "csv", ROWS))
    root = _shop(tmp_path / "pq", [])
    (root / "interactions.csv").unlink()
    table = pa.table({"user": [r.split(",")[0] for r in ROWS], "item": [r.split(",")[1] for r in ROWS],
                      "rating": [float(r.split(",")[2]) for r in ROWS]})
    pq.write_table(table, root / "interactions.parquet")
    data = load_folder(root)
    np.testing.assert_array_equal(data.interactions, csv_data.interactions)
    pq.write_table(pa.table({"user": ["u1"], "item": [None]}), root / "interactions.parquet")
    with pytest.raises(DataError, match=r"row 1: empty item"):
        load_folder(root)


def test_features_come_through_the_cached_extractor(tmp_path) -> None:
    data = load_folder(_shop(tmp_path / "shop", ROWS))
    model = load_image_model("squeezenet1_1", input_size=32)
    first = extract_features(model, data.images, cache_dir=tmp_path / "cache", progress=False)
    again = extract_features(model, data.images, cache_dir=tmp_path / "cache", progress=False)
    assert first.shape == (4, model.feature_dim)
    np.testing.assert_array_equal(np.asarray(first), np.asarray(again))
    assert any((tmp_path / "cache").rglob("*.npy"))

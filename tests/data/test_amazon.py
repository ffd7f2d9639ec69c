"""Amazon loaders (2014 and 2018 releases) on small gzip fixtures in the real formats, malformed lines included."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

import pytest
from PIL import Image

from pixelpush.data.amazon import amazon_image_urls, load_amazon, load_amazon_with_stats, locate_files
from pixelpush.data.registry import load_dataset
from pixelpush.errors import ConfigError, DataError

# asin -> (second-level category path, has image url, has image file)
ITEMS = {
    "B001": (["Clothing, Shoes & Jewelry", "Women", "Dresses"], True, True),
    "B002": (["Clothing, Shoes & Jewelry", "Men"], True, True),
    "B003": (["Clothing, Shoes & Jewelry"], True, True),  # no second level -> first
    "B004": ([], True, True),  # no category -> 'unknown'
    "B005": (["Clothing, Shoes & Jewelry", "Women"], True, True),
    "B006": (["Clothing, Shoes & Jewelry", "Girls", "Shoes"], True, True),
    "B007": (["Clothing, Shoes & Jewelry", "Men"], False, False),  # no image url
    "B008": (["Clothing, Shoes & Jewelry", "Men"], True, False),  # url but not downloaded
    "B010": (["Clothing, Shoes & Jewelry", "Boys"], True, True),  # never reviewed
}
# reviewer -> {asin: overall}; B009 has reviews but no metadata
REVIEWS = {
    "U1": {"B001": 5.0, "B002": 4.0, "B003": 5.0, "B004": 4.0, "B005": 5.0, "B006": 4.0},
    "U2": {"B001": 4.0, "B002": 5.0, "B003": 4.0, "B004": 5.0, "B005": 4.0, "B006": 3.0},
    "U3": {"B001": 5.0, "B002": 5.0, "B003": 5.0, "B004": 5.0, "B007": 5.0, "B008": 5.0, "B009": 5.0},
    "U4": {"B001": 2.0, "B002": 1.0, "B003": 3.0, "B004": 2.0, "B005": 1.0, "B006": 2.0},
}
BAD_REVIEW_LINES = ["this is not json", '{"reviewerID": "U9", "asin": "B001"}', '{"reviewerID": "U9", "asin": "B001", '
                    '"overall": "five"}', "[1, 2, 3]"]
BAD_META_LINES = ["{'asin': 'B001', 'imUrl': ", "__import__('os').system('echo pwned')", "{'title': 'no asin'}"]


def _write_gz(path: Path, lines: list[str]) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def write_amazon(root: Path, release: str = "2014", category: str = "Clothing_Shoes_and_Jewelry") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "images").mkdir(exist_ok=True)
    reviews = [
        json.dumps({"reviewerID": u, "asin": a, "reviewerName": "x", "overall": r, "summary": "s",
                    "unixReviewTime": 1400000000, "reviewTime": "05 13, 2014"})
        for u, rs in REVIEWS.items() for a, r in rs.items()
    ]
    reviews.insert(2, reviews[0])  # a duplicate positive
    for k, bad in enumerate(BAD_REVIEW_LINES):
        reviews.insert(4 + 3 * k, bad)
    reviews.insert(7, "")  # blank lines are not records
    meta = []
    for k, (asin, (cats, has_url, has_file)) in enumerate(ITEMS.items()):
        url = f"http://ecx.images-amazon.com/images/I/{asin}.jpg"
        if release == "2014":
            rec = {"asin": asin, "title": f"Item {asin}", "price": 9.99, "salesRank": {"Clothing": 5},
                   "related": {"also_bought": ["B002"]}, "categories": [cats] if cats else []}
            if has_url:
                rec["imUrl"] = url
            meta.append(repr(rec) if k % 2 == 0 else json.dumps(rec))  # literals, JSON accepted too
        else:
            rec = {"asin": asin, "title": f"Item {asin}", "category": [c.replace("&", "&amp;") for c in cats],
                   "imageURL": [url.replace(".jpg", "._SS40_.jpg")] if has_url else [],
                   "imageURLHighRes": [url] if has_url else [], "also_buy": []}
            meta.append(json.dumps(rec))
        if has_file:
            Image.new("RGB", (10 + k, 7), (20 * k, 100, 50)).save(root / "images" / f"{asin}.jpg")
    if release == "2018":  # duplicated records: the first wins
        meta.append(json.dumps({"asin": "B001", "category": ["Clothing", "Other"], "imageURLHighRes": ["http://x/y.jpg"]}))
    for k, bad in enumerate(BAD_META_LINES):
        meta.insert(1 + 2 * k, bad)
    stem = f"reviews_{category}" if release == "2014" else category
    _write_gz(root / f"{stem}.json.gz", reviews)
    _write_gz(root / f"meta_{category}.json.gz", meta)
    return root


@pytest.mark.parametrize("release", ["2014", "2018"])
def test_paper_preprocessing(tmp_path: Path, release: str, caplog: pytest.LogCaptureFixture) -> None:
    root = write_amazon(tmp_path, release)
    with caplog.at_level(logging.WARNING, logger="pixelpush.data.amazon"):
        ds, stats = load_amazon_with_stats(root, category="clothing")
    assert locate_files(root, "clothing").release == release
    assert ds.name == "amazon-clothing"
    assert stats["review_lines"] == 25 + 1 + len(BAD_REVIEW_LINES)
    assert stats["review_lines_malformed"] == len(BAD_REVIEW_LINES)
    assert stats["meta_lines_malformed"] == len(BAD_META_LINES)
    assert stats["items_without_meta"] == 1 and stats["items_without_image_url"] == 2  # B009, and B007 + B009
    assert stats["items_without_image_file"] == 1  # B008
    assert stats["users_below_min_positives"] == 1  # U3: 4 positives with an image
    # U1 (6 positives) and U2 (5: B006 is rated 3); items B001..B006
    assert ds.n_users == 2 and ds.item_labels == ("B001", "B002", "B003", "B004", "B005", "B006")
    assert len(ds.interactions) == stats["interactions"] == 11
    assert [h.tolist() for h in ds.histories] == [[0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 4]]
    expected = ["Women", "Men", "Clothing, Shoes & Jewelry", "unknown", "Women", "Girls"]
    assert [ds.category_names[c] for c in ds.categories] == expected
    assert ds.category_names == tuple(sorted(set(expected)))
    assert ds.images.get(2).shape == (7, 12, 3)
    # malformed lines are warned about with file and line
    warned = [r.getMessage() for r in caplog.records]
    reviews_file = locate_files(root, "clothing").reviews.name
    assert any(f"{reviews_file}:5: skipped malformed line" in m for m in warned)
    assert any("meta_Clothing_Shoes_and_Jewelry.json.gz:2: skipped malformed line" in m for m in warned)
    assert any("have no file in" in m for m in warned)


def test_literal_eval_never_executes_code(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    load_amazon(write_amazon(tmp_path), category="clothing")
    assert "pwned" not in capfd.readouterr().out


def test_image_urls_for_fetching(tmp_path: Path) -> None:
    root = write_amazon(tmp_path, "2018")
    urls = amazon_image_urls(root, category="clothing")
    # before image files are required: U3 keeps 5 positives (B008 has a url), so B008 is wanted too
    assert sorted(urls) == ["B001", "B002", "B003", "B004", "B005", "B006", "B008"]
    assert urls["B001"] == "http://ecx.images-amazon.com/images/I/B001.jpg"  # high-res first, first record wins


def test_options_and_registry(tmp_path: Path) -> None:
    root = write_amazon(tmp_path, "2014", "Electronics")
    ds = load_dataset("amazon-electronics", root=root, min_user_positives=1, min_rating=5)
    # overall >= 5 with an image file: U1 {B001, B003, B005}, U2 {B002, B004}, U3 {B001..B004}
    assert ds.n_users == 3 and len(ds.interactions) == 9
    ds = load_amazon(root, category="electronics", max_items=2, min_user_positives=1)
    assert ds.item_labels == ("B001", "B002")


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no reviews file"):
        load_amazon(tmp_path, category="clothing")
    with pytest.raises(ConfigError, match="unknown Amazon category"):
        load_amazon(tmp_path, category="books")
    root = write_amazon(tmp_path / "both", "2014")
    write_amazon(root, "2018")
    with pytest.raises(ConfigError, match="both releases"):
        load_amazon(root, category="clothing")
    assert load_amazon(root, category="clothing", release="2018").n_users == 2
    (root / "meta_Clothing_Shoes_and_Jewelry.json.gz").unlink()
    with pytest.raises(DataError, match="meta_Clothing_Shoes_and_Jewelry.json.gz: file not found"):
        load_amazon(root, category="clothing", release="2014")


def test_all_malformed_or_truncated_file_is_an_error(tmp_path: Path) -> None:
    root = write_amazon(tmp_path)
    reviews = root / "reviews_Clothing_Shoes_and_Jewelry.json.gz"
    _write_gz(reviews, BAD_REVIEW_LINES)
    with pytest.raises(DataError, match=r"reviews_Clothing_Shoes_and_Jewelry\.json\.gz: all 4 lines are malformed"):
        load_amazon(root, category="clothing")
    write_amazon(root)
    data = reviews.read_bytes()
    reviews.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"reviews_Clothing_Shoes_and_Jewelry\.json\.gz:\d+: cannot read"):
        load_amazon(root, category="clothing")


NON_FINITE_REVIEW_LINES = [
    '{"reviewerID": "U9", "asin": "B001", "overall": NaN}',  # JSON's non-standard tokens parse to floats
    '{"reviewerID": "U9", "asin": "B002", "overall": Infinity}',
    '{"reviewerID": "U9", "asin": "B003", "overall": -Infinity}',
    '{"reviewerID": "U9", "asin": "B004", "overall": "NaN"}',  # strings go through float()
    '{"reviewerID": "U9", "asin": "B005", "overall": "inf"}',
    '{"reviewerID": "U9", "asin": "B006", "overall": "-Infinity"}',
]


def test_nan_and_infinite_ratings_are_malformed_lines(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = write_amazon(tmp_path)
    reviews = root / "reviews_Clothing_Shoes_and_Jewelry.json.gz"
    baseline = load_amazon(root, category="clothing", min_user_positives=1)
    with gzip.open(reviews, "rt", encoding="utf-8") as f:
        lines = f.read().splitlines()
    _write_gz(reviews, lines + NON_FINITE_REVIEW_LINES)
    with caplog.at_level(logging.WARNING, logger="pixelpush.data.amazon"):
        ds, stats = load_amazon_with_stats(root, category="clothing", min_user_positives=1)
    assert stats["review_lines_malformed"] == len(BAD_REVIEW_LINES) + len(NON_FINITE_REVIEW_LINES)
    assert ds.n_users == baseline.n_users and len(ds.interactions) == len(baseline.interactions)  # U9 never counts
    warned = [r.getMessage() for r in caplog.records]
    for lineno in range(len(lines) + 1, len(lines) + 1 + len(NON_FINITE_REVIEW_LINES)):
        assert any(f"{reviews.name}:{lineno}: skipped malformed line (non-finite 'overall'" in m for m in warned), lineno

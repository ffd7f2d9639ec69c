"""MovieLens 100K + posters loader, on small fixtures in the real formats (and the real folder when present)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixelpush.data.movielens import load_movielens_posters, load_movielens_posters_with_stats
from pixelpush.data.registry import load_dataset
from pixelpush.errors import ConfigError, DataError

GENRES = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
          "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western"]
REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ml-100k-posters"

# movie id -> (title, genre flags set, has poster)
MOVIES = {
    1: ("Toy Story (1995)", ["Animation", "Children's", "Comedy"], True),
    2: ("GoldenEye (1995)", ["Action", "Adventure", "Thriller"], True),
    3: ("Café au lait (1993)", ["Comedy"], True),  # latin-1 title
    4: ("unknown", [], True),  # no flag -> 'unknown'
    5: ("No Poster (1996)", ["Drama"], False),
    6: ("Heat (1995)", ["Action", "Crime"], True),
}
# user -> {movie: rating}
RATINGS = {
    10: {1: 5, 2: 4, 3: 4, 4: 5, 5: 5, 6: 4},  # 5 positives with a poster -> kept
    20: {1: 4, 2: 5, 3: 5, 6: 4, 5: 5},  # 4 with a poster -> dropped at min 5
    7: {1: 5, 2: 4, 3: 5, 4: 4, 6: 5, 5: 1},  # 5 positives -> kept
    30: {1: 3, 2: 2, 3: 1, 4: 3, 6: 3},  # no positive
}


def write_movielens(root: Path, ratings: dict = RATINGS, movies: dict = MOVIES) -> Path:
    base = root / "ml-100k"
    base.mkdir(parents=True)
    (root / "posters").mkdir()
    (base / "u.genre").write_text("".join(f"{g}|{i}\n" for i, g in enumerate(GENRES)) + "\n", encoding="latin-1")
    lines = []
    for mid, (title, genres, poster) in movies.items():
        flags = "|".join("1" if g in genres else "0" for g in GENRES)
        lines.append(f"{mid}|{title}|01-Jan-1995||http://us.imdb.com/M/title-exact?x|{flags}")
        if poster:
            # native sizes differ: the loader must not resize
            Image.new("RGB", (8 + mid, 12), (mid * 40, 10, 200)).save(root / "posters" / f"{mid}.jpg", quality=95)
    (base / "u.item").write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    rows = [f"{u}\t{m}\t{r}\t{881250949 + k}" for k, (u, rs) in enumerate(ratings.items()) for m, r in rs.items()]
    (base / "u.data").write_text("\n".join(rows) + "\n")
    return root


def test_loads_positives_with_posters_and_first_genre(tmp_path: Path) -> None:
    ds, stats = load_movielens_posters_with_stats(write_movielens(tmp_path))
    assert ds.name == "movielens-posters"
    assert stats["raw_users"] == 4 and stats["raw_movies"] == 6 and stats["raw_ratings"] == 22
    assert stats["movies_without_poster"] == 1
    assert stats["positives_without_image"] == 2  # users 10 and 20 liked movie 5
    assert stats["users_below_min_positives"] == 1  # user 20
    # users 7 and 10 (dense in id order), movies 1, 2, 3, 4, 6
    assert (ds.n_users, ds.n_items) == (2, 5)
    assert ds.item_labels == ("Toy Story (1995)", "GoldenEye (1995)", "Café au lait (1993)", "unknown", "Heat (1995)")
    assert [ds.category_names[c] for c in ds.categories] == ["Animation", "Action", "Comedy", "unknown", "Action"]
    assert ds.category_names == tuple(GENRES)
    hist = [h.tolist() for h in ds.histories]
    assert hist == [[0, 1, 2, 3, 4], [0, 1, 2, 3, 4]]
    assert len(ds.interactions) == stats["interactions"] == 10
    assert "movies_without_poster=1" in ds.description and "rating >= 4" in ds.description


def test_posters_decode_on_demand_at_native_size(tmp_path: Path) -> None:
    ds = load_movielens_posters(write_movielens(tmp_path))
    shapes = [ds.images.get(i).shape for i in range(ds.n_items)]
    assert shapes == [(12, 9, 3), (12, 10, 3), (12, 11, 3), (12, 12, 3), (12, 14, 3)]
    img = ds.images.get(1)
    assert img.dtype == np.uint8 and abs(int(img[..., 0].mean()) - 80) < 6
    keys = {ds.images.content_key(i) for i in range(ds.n_items)}
    assert len(keys) == ds.n_items and ds.images.content_key(0) == ds.images.content_key(0)


def test_thresholds_are_configurable(tmp_path: Path) -> None:
    root = write_movielens(tmp_path)
    ds = load_movielens_posters(root, min_rating=5, min_user_positives=1)
    # rating-5 positives with a poster: user 10 {1, 4}, user 20 {2, 3}, user 7 {1, 3, 6}
    assert ds.n_users == 3 and len(ds.interactions) == 7
    ds = load_movielens_posters(root, min_user_positives=4)
    assert ds.n_users == 3
    ds, stats = load_movielens_posters_with_stats(root, max_items=2, min_user_positives=1)
    # the two movies with the most positives among those with a poster: 1 and 2 (3 each; 3 and 6 also 3 -> ids win)
    assert ds.item_labels == ("Toy Story (1995)", "GoldenEye (1995)")
    assert stats["items_over_max_items"] == 3
    with pytest.raises(ConfigError):
        load_movielens_posters(root, max_items=0)


def test_registry_passes_options(tmp_path: Path) -> None:
    ds = load_dataset("movielens-posters", root=write_movielens(tmp_path), min_user_positives=1)
    assert ds.n_users == 3


def _insert_rating_line(root: Path, bad_line: str) -> None:
    data = root / "ml-100k" / "u.data"
    lines = data.read_text().splitlines()
    lines.insert(3, bad_line)
    data.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    "bad_line",
    [
        "10\t1\t5", "10\tone\t5\t881250949", "10\t1\t5\t881250949\textra", "10,1,5,881250949",
        "99999999999999999999\t1\t5\t881250949",  # overflows int64
        "10\t1\t5\t9223372036854775808",  # one past int64's maximum
        "10\t1.0\t5\t881250949", "10\t1\t5\t8_8", "10\t\u0661\t5\t881250949",  # a float, '_', an Arabic-Indic digit
    ],
)
def test_malformed_rating_line_names_file_and_line(tmp_path: Path, bad_line: str) -> None:
    root = write_movielens(tmp_path)
    _insert_rating_line(root, bad_line)
    with pytest.raises(DataError, match=r"u\.data:4: expected 4 tab-separated integers"):
        load_movielens_posters(root)


@pytest.mark.parametrize("bad_line", ["-10\t1\t5\t881250949", "10\t-1\t5\t881250949"])
def test_negative_user_or_item_id_names_file_and_line(tmp_path: Path, bad_line: str) -> None:
    root = write_movielens(tmp_path)
    _insert_rating_line(root, bad_line)
    with pytest.raises(DataError, match=r"u\.data:4: user and item ids must be >= 0"):
        load_movielens_posters(root)


def test_largest_int64_timestamp_is_accepted(tmp_path: Path) -> None:
    root = write_movielens(tmp_path)
    _insert_rating_line(root, "10\t1\t5\t9223372036854775807")
    assert load_movielens_posters(root).n_users == 2


def test_malformed_or_missing_metadata(tmp_path: Path) -> None:
    root = write_movielens(tmp_path)
    item = root / "ml-100k" / "u.item"
    item.write_bytes(item.read_bytes() + b"7|Broken|01-Jan-1995|0|1\n")
    with pytest.raises(DataError, match=r"u\.item:7:"):
        load_movielens_posters(root)
    (root / "ml-100k" / "u.genre").unlink()
    with pytest.raises(DataError, match=r"u\.genre: file not found"):
        load_movielens_posters(root)


def test_rating_of_unknown_movie_and_empty_result(tmp_path: Path) -> None:
    root = write_movielens(tmp_path, ratings={1: {99: 5}})
    with pytest.raises(DataError, match="missing from u.item: \\[99\\]"):
        load_movielens_posters(root)
    other = write_movielens(tmp_path / "b", ratings={1: {1: 2}})
    with pytest.raises(DataError, match="no interactions left"):
        load_movielens_posters(other)


@pytest.mark.skipif(not (REAL / "ml-100k" / "u.data").is_file(), reason="real MovieLens 100K + posters not present")
def test_real_movielens_posters_counts() -> None:
    ds, stats = load_movielens_posters_with_stats(REAL)
    assert stats["raw_users"] == 943 and stats["raw_movies"] == 1682 and stats["raw_ratings"] == 100_000
    assert stats["movies_without_poster"] == 19
    # after preprocessing (rating >= 4, poster, >= 5 positives): measured on the shared copy
    assert (stats["users"], stats["items"], stats["interactions"]) == (938, 1435, 55293)
    assert (ds.n_users, ds.n_items, len(ds.interactions)) == (938, 1435, 55293)
    assert ds.n_categories == 19 and ds.item_labels[0] == "Toy Story (1995)"
    assert min(len(h) for h in ds.histories) >= 5
    assert ds.images.get(0).shape == (138, 92, 3)

"""The tutorial is a test: every code block of docs/tutorial-cornac.md runs as written.

Blocks tagged ``file=NAME`` are written to the working folder, ``bash`` blocks run their
``pixelpush`` commands (in this process, through the CLI's entry point), other ``python`` blocks
run as scripts. Two changes, so that CI takes seconds, not minutes: the catalog is a small slice
of the same embedded catalog (600 of its items and the shoppers with at least four of them,
written as a bring-your-own folder), and the feature cache is the test session's.
"""

from __future__ import annotations

import re
import runpy
import shlex
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixelpush.cli.main import main

# It trains three models (pixelpush BPR and VBPR, a Cornac VBPR) and runs an audit: more than the
# suite's default timeout on a loaded two-core machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "tutorial-cornac.md"
BLOCK = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", re.S | re.M)


def blocks(text: str) -> list[tuple[str, dict[str, str], str]]:
    """``(language, {key: value} of the info string, body)`` of every fenced block, in order."""
    out = []
    for lang, info, body in BLOCK.findall(text):
        tags = dict(part.split("=", 1) for part in info.split() if "=" in part)
        out.append((lang, tags, body))
    return out


DATASET = """[dataset]
name = "fashion"                          # the embedded catalog; your own: docs/bring-your-own-data.md
options = {upload_size = 32}              # small uploads: fast (the default, 112, is the realistic one)
"""


@pytest.fixture(scope="module")
def small_catalog(tmp_path_factory) -> str:
    """600 items of the embedded catalog (32 x 32) and its shoppers with at least 4 of them, as a folder."""
    from pixelpush.data.fashion import load_fashion
    from pixelpush.random import numpy_rng

    data = load_fashion(name="fashion-dense", upload_size=32)  # dense shoppers: a 600-item slice keeps many
    items = np.sort(numpy_rng(0, "tutorial-catalog").choice(data.n_items, 600, replace=False))
    root = tmp_path_factory.mktemp("small-catalog")
    (root / "images").mkdir()
    for i in items.tolist():
        Image.fromarray(data.images.get(i)).save(root / "images" / f"{i:04d}.png")
    keep = np.isin(data.interactions[:, 1], items)
    users, counts = np.unique(data.interactions[keep, 0], return_counts=True)
    active = set(users[counts >= 4].tolist())
    rows = [f"u{u:04d},{i:04d}" for u, i in data.interactions[keep].tolist() if u in active]
    (root / "interactions.csv").write_text("user,item\n" + "\n".join(rows) + "\n")
    (root / "items.csv").write_text("item,category\n" + "".join(f"{i:04d},{data.category_names[data.categories[i]]}\n" for i in items))
    return str(root)


def test_the_tutorial_runs_as_written(tmp_path, monkeypatch, feature_cache, small_catalog, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    found = blocks(TUTORIAL.read_text(encoding="utf-8"))
    assert [lang for lang, _, _ in found] == ["python", "toml", "bash", "bash", "python"], "the tutorial's steps changed: update this test"
    for lang, tags, body in found:
        if "file" in tags:
            if tags["file"].endswith(".toml"):
                assert 'cache_dir = ".cache/pixelpush"' in body and DATASET in body
                body = body.replace('cache_dir = ".cache/pixelpush"', f'cache_dir = "{feature_cache}"')
                body = body.replace(DATASET, f'[dataset]\nname = "folder"\nroot = "{small_catalog}"\n')
            (tmp_path / tags["file"]).write_text(body)
        elif lang == "bash":
            for line in body.splitlines():
                if line.strip() and not line.startswith("#"):
                    argv = shlex.split(line)
                    assert argv[0] == "pixelpush", line
                    assert main(argv[1:]) == 0, line
        else:
            script = tmp_path / "step.py"
            script.write_text(body)
            runpy.run_path(str(script), run_name="__main__")
    printed = capsys.readouterr().out
    assert "my-cornac: all checks passed" in printed
    assert "Cornac VBPR" in printed and "HR@20" in printed
    assert (tmp_path / "runs" / "cornac-audit" / "audit.html").is_file()


def test_the_block_parser_reads_info_strings() -> None:
    text = "x\n```python file=a.py\nprint(1)\n```\n```bash\npixelpush --help\n```\n"
    assert blocks(text) == [("python", {"file": "a.py"}, "print(1)\n"), ("bash", {}, "pixelpush --help\n")]


def test_the_cornac_example_uses_the_tutorials_wrapper_verbatim() -> None:
    wrapper = next(body for _, tags, body in blocks(TUTORIAL.read_text(encoding="utf-8")) if tags.get("file") == "cornac_model.py")
    example = (TUTORIAL.parents[1] / "examples" / "cornac-vs-vbpr" / "cornac_model.py").read_text(encoding="utf-8")
    assert example.split("\n", 1)[1] == wrapper

import json

from pixelpush.evaluation.pair_log import PairLog
from pixelpush.files import write_json_atomic


def test_records_survive_reopen_in_unit_order(tmp_path):
    log = PairLog(tmp_path / "pairs.jsonl")
    log.append({"unit": "b", "x": 2})
    log.append({"unit": "a", "x": 1})
    again = PairLog(tmp_path / "pairs.jsonl")
    assert "a" in again and "b" in again and len(again) == 2
    assert [r["unit"] for r in again.records()] == ["a", "b"]


def test_torn_last_line_is_cut_and_appending_continues(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps({"unit": "a"}) + "\n" + '{"unit": "b", "hal')
    log = PairLog(path)
    assert len(log) == 1 and "b" not in log
    log.append({"unit": "b"})
    assert [json.loads(line)["unit"] for line in path.read_text().splitlines()] == ["a", "b"]


def test_atomic_json_leaves_no_temporary_file(tmp_path):
    write_json_atomic(tmp_path / "r.json", {"a": 1})
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]

import csv
import json
from pathlib import Path

from typer.testing import CliRunner

from reels.cli import app
from reels.domain import keys
from reels.ranking import SimulatedLog, write_events, write_items

runner = CliRunner()


def test_eval_json_on_the_simulator(tmp_path: Path) -> None:
    rankings = tmp_path / "top.csv"
    result = runner.invoke(
        app, ["eval", "--json", "--users", "60", "--reels", "120", "--seed", "3", "--rankings", str(rankings)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    names = [row["name"] for row in report["lists"]]
    assert names[-1] == "learned" and "popularity with half-life" in names
    assert report["train_events"] + report["test_events"] == report["events"]
    assert {row["head"] for row in report["heads"]} == {"watch_3s", "full_watch", "like"}
    with rankings.open() as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0].keys() == {"user_id", "rank", "item_id"}
    assert len({row["user_id"] for row in rows}) == report["test_users"]
    assert [row["rank"] for row in rows[:3]] == ["1", "2", "3"]


def test_eval_and_train_on_a_csv_log(tmp_path: Path, small_log: SimulatedLog) -> None:
    log, items = tmp_path / "log.csv", tmp_path / "items.csv"
    write_events(log, small_log.events)
    write_items(items, small_log.items)
    result = runner.invoke(app, ["eval", "--log", str(log), "--items", str(items)])
    assert result.exit_code == 0, result.output
    assert "NDCG@20" in result.stdout and "learned" in result.stdout and "AUC" in result.stdout
    data_dir = tmp_path / "var"
    result = runner.invoke(
        app, ["train", "--log", str(log), "--items", str(items)], env={"REELS_DATA_DIR": str(data_dir)}
    )
    assert result.exit_code == 0, result.output
    version = (data_dir / "media" / keys.RANKER_CURRENT_KEY).read_text()
    assert sorted(path.name for path in (data_dir / "media" / "models" / "ranker" / version).iterdir()) == [
        "embeddings.npz",
        "items.index",
        "ranker.zip",
    ]


def test_eval_says_what_is_wrong_with_a_log(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("user_id,item_id,timestamp,rating\nu,i,1,4\nu,j,2,lots\n")
    result = runner.invoke(app, ["eval", "--log", str(log)])
    assert result.exit_code == 2
    assert "log.csv:3: column 'rating': 'lots' is not a number" in result.stderr

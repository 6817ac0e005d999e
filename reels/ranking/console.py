"""What `reels eval` and `reels train` show on a terminal: progress while training, the metrics table."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from reels.ranking.evaluation import LEARNED, EvalReport
from reels.ranking.models import HEADS, RoundCallback
from reels.ranking.training import StepCallback


class TrainingProgress:
    """A status line for each step and a bar over the boosting rounds of the three heads."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._step: TaskID = progress.add_task("starting", total=None)
        self._rounds: TaskID | None = None

    def step(self, description: str) -> None:
        self._progress.update(self._step, description=description)

    def round(self, head: str, done: int, rounds: int) -> None:
        if self._rounds is None:
            self._rounds = self._progress.add_task("boosting", total=rounds * len(HEADS))
        self._progress.update(self._rounds, completed=HEADS.index(head) * rounds + done, description=f"head {head}")


@contextmanager
def training_progress(console: Console) -> Iterator[tuple[StepCallback, RoundCallback]]:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        shown = TrainingProgress(progress)
        yield shown.step, shown.round


def metrics_tables(report: EvalReport) -> list[Table]:
    k = report.k
    lists = Table(
        title=(
            f"{report.source}: {report.events} events, {report.users} users, {report.items} items; "
            f"test: last {report.test_events} events, {report.test_users} users"
        )
    )
    for column in ("ranker", f"NDCG@{k}", f"Recall@{k}", "coverage", "creator diversity"):
        lists.add_column(column, justify="left" if column == "ranker" else "right")
    for row in report.lists:
        style = "bold green" if row.name == LEARNED else None
        lists.add_row(
            row.name,
            f"{row.ndcg:.4f}",
            f"{row.recall:.4f}",
            f"{row.coverage:.3f}",
            f"{row.creator_diversity:.3f}",
            style=style,
        )
    lists.caption = f"learned vs best baseline ({report.best_baseline.name}): {report.lift:+.1%} NDCG@{k}"
    heads = Table(title="heads on test interactions and sampled non-interacted items")
    for column in ("scorer", "head", "AUC", "log-loss", "positive rate"):
        heads.add_column(column, justify="left" if column in ("scorer", "head") else "right")
    for head in report.heads:
        heads.add_row(head.scorer, head.head, f"{head.auc:.4f}", f"{head.log_loss:.4f}", f"{head.positive_rate:.3f}")
    return [lists, heads]


def write_rankings(report: EvalReport, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("user_id", "rank", "item_id"))
        writer.writerows(report.ranking_rows())

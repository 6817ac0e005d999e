"""`reels demo`: a living platform from one command.

The server answers first; the seeding (reels.demo.seed) runs in the background of the same
process, whose in-process workers transcode the reels, so the feed fills while you watch. One
progress bar shows it; log lines print above the bar, never into it (they share one console).
"""

from __future__ import annotations

import logging
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from reels.demo.plan import PASSWORD, DemoPlan, make_plan
from reels.demo.seed import Seeded, seed
from reels.platform import Platform

__all__ = ["DemoPlan", "Seeded", "make_plan", "seed", "seed_in_background", "welcome"]

log = logging.getLogger(__name__)


def welcome(plan: DemoPlan, base_url: str) -> str:
    """What to open and whom to sign in as (rich markup)."""
    return "\n".join(
        [
            f"[bold green]Reels demo[/] at [link={base_url}/]{base_url}/[/link]",
            f"  web client  {base_url}/",
            f"  playground  {base_url}/graphql",
            f"  metrics     {base_url}/metrics",
            f"  sign in as  {plan.creator} (creator), {plan.viewer} (viewer), {plan.moderator} (moderator)"
            f"; password [bold]{PASSWORD}[/]",
        ]
    )


async def seed_in_background(platform: Platform, plan: DemoPlan, console: Console, base_url: str) -> None:
    """Print the welcome, then seed under one progress bar; a failure is logged, and the server
    goes on serving what is there."""
    console.print(welcome(plan, base_url))
    started = time.monotonic()
    columns = (
        TextColumn("[bold]{task.fields[what]:<32}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("reels settled"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("seeding", total=len(plan.clips), what="starting")

        def show(what: str, settled: int, total: int) -> None:
            progress.update(bar, completed=settled, total=total, what=what)

        try:
            done = await seed(platform, plan, show)
        except Exception:
            log.exception("seeding the demo failed; serving what is there")
            return
    console.print(
        f"[green]demo ready[/] after {time.monotonic() - started:.0f} s: {done.ready} reels READY"
        + (f", {done.not_ready} not" if done.not_ready else "")
        + ("" if done.created_anything else " (reused the data of an earlier run)")
    )
    console.print(welcome(plan, base_url))

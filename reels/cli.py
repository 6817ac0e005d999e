"""The `reels` command: serve, worker, migrate, create-user, set-role, jobs, features, schema, demo, train, eval."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from starlette.applications import Starlette
from uvicorn.config import LOGGING_CONFIG

from reels.db import NotMigratedError, check_migrated
from reels.demo import make_plan, seed_in_background
from reels.domain import accounts, feed_backfill, training
from reels.domain.errors import DomainError
from reels.domain.models import Role
from reels.http.app import create_app
from reels.http.processes import run_processes
from reels.migrate import upgrade
from reels.platform import Platform
from reels.ports import objectstore, queue
from reels.ports.queue.base import DeadLetter
from reels.ranking import (
    EvalConfig,
    EventTable,
    FeatureConfig,
    LogFormatError,
    RankerConfig,
    RelevanceRule,
    SimulatorConfig,
    TrainedRanker,
    evaluate,
    read_events,
    read_export,
    read_items,
    simulate,
    train_ranker,
)
from reels.ranking.console import metrics_tables, training_progress, write_rankings
from reels.ranking.training import Backend, StepCallback
from reels.schema import build_schema
from reels.settings import ConfigError, Settings
from reels.workers import BEFORE_REQUEUE, run_forever
from reels.workers.jobs import JOBS, run_job
from reels.workers.runner import API_YOUNG_GC, tune_gc

app = typer.Typer(help="Reels: an open short-video platform backend.", no_args_is_help=True, add_completion=False)


def _settings() -> Settings:
    try:
        settings = Settings()
        settings.validate_services()
    except (ConfigError, ValueError) as error:
        typer.secho(f"configuration error: {error}", fg="red", err=True)
        raise typer.Exit(2) from None
    return settings


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its plugin list says nothing to an operator


WORKER_HEALTHCHECK_S = 120


def _serving(settings: Settings, host: str, port: int) -> Settings:
    """`settings` with signed media URLs pointing at this server (unless REELS_PUBLIC_URL says where)."""
    if "public_url" in settings.model_fields_set:
        return settings
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::") else host
    return settings.model_copy(update={"public_url": f"http://{shown}:{port}"})


def _serve(
    settings: Settings,
    host: str,
    port: int,
    workers: int = 1,
    *,
    background: Sequence[Callable[[Platform], Coroutine[Any, Any, None]]] = (),
    log_config: dict[str, Any] | None = LOGGING_CONFIG,
) -> None:
    if workers > 1 and not settings.redis_url:
        # Each process would have its own queue, cache, rate limits and pub/sub: a like taken by
        # one would never reach a subscriber of another, and the in-process workers need one owner.
        typer.secho(
            "--workers needs REELS_REDIS_URL: without it the queue, cache, rate limits and live events "
            "live inside one process (run one process, or configure Redis and run `reels worker` beside it)",
            fg="red",
            err=True,
        )
        raise typer.Exit(2)
    try:
        asyncio.run(check_migrated(settings.resolved_database_url))
    except NotMigratedError as error:
        typer.secho(str(error), fg="red", err=True)
        raise typer.Exit(1) from None
    settings = _serving(settings, host, port)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "ws": "websockets-sansio",
        # No permessage-deflate: compressing each ~60-byte live-count frame separately for every
        # socket was over a quarter of the API's CPU in a fan-out, and saves a few bytes a frame.
        "ws_per_message_deflate": False,
        "lifespan": "on",
        # Whose X-Forwarded-For is believed is REELS_TRUSTED_PROXIES' to say (reels.http.clients);
        # uvicorn's own rewriting of the client address, on by default for 127.0.0.1, bypassed it.
        "proxy_headers": False,
        "access_log": settings.access_log,
        "log_config": log_config,
    }
    if workers > 1:
        # uvicorn starts each worker process afresh: they read their settings from the environment.
        # It replaces a process that does not answer its health check in time, and importing the
        # app takes seconds on a busy machine: the default 5 s killed every process as it started.
        os.environ["REELS_PUBLIC_URL"] = settings.public_url
        run_processes(
            uvicorn.Config(
                "reels.cli:api_process_app",
                factory=True,
                workers=workers,
                timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
                **options,
            )
        )
        return
    application = create_app(settings, background=background)
    tune_gc(API_YOUNG_GC)
    uvicorn.run(application, **options)


def api_process_app() -> Starlette:
    """The app of one process of `reels serve --workers N` (uvicorn calls it in each)."""
    _logging()
    application = create_app(Settings())
    tune_gc(API_YOUNG_GC)
    return application


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="API processes sharing the port (more than one needs REELS_REDIS_URL).")
    ] = 1,
) -> None:
    """Run the API (and, on the embedded setup, the background workers in-process)."""
    _logging()
    _serve(_settings(), host, port, workers)


@app.command()
def worker() -> None:
    """Run the background workers only (production: scale them apart from the API)."""
    _logging()
    asyncio.run(run_forever(_settings()))


@app.command("set-role")
def set_role(username: str, role: Annotated[str, typer.Argument(help="user, moderator or admin.")]) -> None:
    """Change an account's role; its open sockets, on every API process, take the new role at once."""
    try:
        chosen = Role(role.upper())
    except ValueError:
        typer.secho("role must be user, moderator or admin", fg="red", err=True)
        raise typer.Exit(2) from None

    async def change() -> str:
        platform = await Platform.start(_settings())
        try:
            user = await accounts.set_role(platform.sessions, platform.pubsub, chosen, username=username)
            return f"{user.username} is now {user.role.value.lower()}"
        finally:
            await platform.close()

    try:
        typer.echo(asyncio.run(change()))
    except DomainError as error:
        typer.secho(error.message, fg="red", err=True)
        raise typer.Exit(1) from None


@app.command()
def migrate() -> None:
    """Upgrade the database to the newest schema (safe to run again)."""
    settings = _settings()
    upgrade(settings.resolved_database_url)
    typer.echo("database is up to date")


@app.command("create-user")
def create_user(
    username: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, help="10–200 characters.")],
    role: Annotated[str, typer.Option(help="user, moderator or admin.")] = "user",
) -> None:
    """Create an account: how the first moderators and admins come to be."""
    try:
        chosen = Role(role.upper())
    except ValueError:
        typer.secho("role must be user, moderator or admin", fg="red", err=True)
        raise typer.Exit(2) from None

    async def create() -> str:
        platform = await Platform.start(_settings())
        try:
            user = await accounts.register(platform.sessions, username, password, role=chosen)
            return f"created {user.username} ({user.role.value.lower()})"
        finally:
            await platform.close()

    try:
        typer.echo(asyncio.run(create()))
    except DomainError as error:
        typer.secho(error.message, fg="red", err=True)
        raise typer.Exit(1) from None


jobs = typer.Typer(help="Run scheduled jobs; inspect and requeue dead-lettered jobs.", no_args_is_help=True)
app.add_typer(jobs, name="jobs")
# How far back `jobs retry` looks for the id (the dead-letter stream keeps 10,000).
DEAD_LETTER_SEARCH = 10_000


def _shared_queue_settings() -> Settings:
    settings = _settings()
    if not settings.redis_url:
        typer.secho(
            "the embedded work queue lives inside `reels serve` and is not visible to other commands; "
            "set REELS_REDIS_URL to inspect jobs",
            fg="red",
            err=True,
        )
        raise typer.Exit(2)
    return settings


@jobs.command("dead")
def jobs_dead(
    topic: Annotated[str, typer.Option(help="Queue topic.")] = "media",
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
) -> None:
    """List jobs that failed every attempt."""
    settings = _shared_queue_settings()

    async def listing() -> list[DeadLetter]:
        work = queue.from_settings(settings)
        try:
            return await work.dead_letters(topic, limit=limit)
        finally:
            await work.close()

    letters = asyncio.run(listing())
    if not letters:
        typer.echo(f"no dead-lettered {topic} jobs")
    for letter in letters:
        typer.echo(
            f"{letter.id}  {letter.failed_at:%Y-%m-%d %H:%M:%S}  attempts={letter.attempts}  "
            f"{json.dumps(letter.payload)}  {letter.error}"
        )


@jobs.command("retry")
def jobs_retry(
    dead_letter_id: str,
    topic: Annotated[str, typer.Option(help="Queue topic.")] = "media",
) -> None:
    """Queue a dead-lettered job again (its attempts start over; a FAILED reel goes back to UPLOADED)."""
    settings = _shared_queue_settings()

    async def requeue() -> bool:
        platform = await Platform.start(settings)
        try:
            letters = await platform.queue.dead_letters(topic, limit=DEAD_LETTER_SEARCH)
            letter = next((letter for letter in letters if letter.id == dead_letter_id), None)
            if letter is None:
                return False
            # Before queueing: the job must find its reel ready to be processed again.
            if (prepare := BEFORE_REQUEUE.get(topic)) is not None:
                await prepare(platform, letter)
            return await platform.queue.requeue_dead_letter(topic, dead_letter_id)
        finally:
            await platform.close()

    if not asyncio.run(requeue()):
        typer.secho(f"no dead-lettered {topic} job {dead_letter_id}", fg="red", err=True)
        raise typer.Exit(1)
    typer.echo(f"queued {dead_letter_id} again")


@jobs.command("run")
def jobs_run(name: Annotated[str, typer.Argument(help=f"One of: {', '.join(JOBS)}.")]) -> None:
    """Run a scheduled job now (analytics, engagement scoring); safe to repeat."""
    if name not in JOBS:
        typer.secho(f"no job {name!r}; the jobs are: {', '.join(JOBS)}", fg="red", err=True)
        raise typer.Exit(2)

    async def run() -> str:
        platform = await Platform.start(_settings())
        try:
            return await run_job(platform, name)
        finally:
            await platform.close()

    typer.echo(asyncio.run(run()))


@jobs.command("list")
def jobs_list() -> None:
    """The scheduled jobs and what each computes."""
    for job in JOBS.values():
        typer.echo(f"{job.name:20}  {job.description}")


features = typer.Typer(help="The For You feed's feature store and trending sets.", no_args_is_help=True)
app.add_typer(features, name="features")


@contextmanager
def _events_progress(console: Console) -> Iterator[feed_backfill.OnProgress]:
    """A bar over the events replayed (`reels train`'s columns); a count while the total is unknown."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("starting", total=None)

        def show(step: str, done: int, total: int | None) -> None:
            progress.update(task, description=step, completed=done, total=total)

        yield show


@features.command("rebuild")
def features_rebuild(
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="First delete the feature hashes of every reel and user and the trending sets "
            '(keeping the "not interested" counts), then rebuild them.',
        ),
    ] = False,
) -> None:
    """Rebuild the feature store and the trending sets from the stored history.

    Replays the watch events and the likes oldest first, as the aggregator folds them live, and
    counts how often each reel was served from the impressions. The likes table holds current
    likes only: each is folded as one like at the time it was made; a like taken back is in no
    counter. A store that has counters is refused unless --replace is given. Run it with the
    workers stopped: events queued meanwhile are folded when they start again.
    """
    settings = _settings()
    if not settings.redis_url:
        typer.secho(
            "the embedded feature store lives inside `reels serve` and is not visible to other commands; "
            "set REELS_REDIS_URL to rebuild the shared one",
            fg="red",
            err=True,
        )
        raise typer.Exit(2)

    async def rebuild(on_progress: feed_backfill.OnProgress) -> feed_backfill.Rebuilt:
        platform = await Platform.start(settings)
        try:
            return await feed_backfill.rebuild(
                platform.sessions, platform.kv, settings, replace=replace, on_progress=on_progress
            )
        finally:
            await platform.close()

    try:
        with _events_progress(Console(stderr=True)) as on_progress:
            rebuilt = asyncio.run(rebuild(on_progress))
    except feed_backfill.StoreNotEmptyError as error:
        typer.secho(f"{error}; run `reels features rebuild --replace` to rebuild it from scratch", fg="red", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"rebuilt the feature store from {rebuilt.watches} watch events and {rebuilt.likes} likes "
        f"({rebuilt.served_reels} reels' served counts)"
    )


@app.command()
def schema() -> None:
    """Print the served GraphQL schema (SDL)."""
    sys.stdout.write(build_schema(Settings()).as_str() + "\n")


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    reels: Annotated[int, typer.Option(min=1, help="Reels to make (the first run; later runs reuse them).")] = 60,
    users: Annotated[int, typer.Option(min=2, help="Users besides the moderator and admin.")] = 40,
) -> None:
    """Migrate, then serve at once while seeding users, follows, FFmpeg-made reels (transcoded by
    the workers, shortest first), a history of views, likes and comments, and a trained ranker."""
    console = Console()
    # Everything that logs (uvicorn too: no log config of its own) prints through the console
    # the progress bar lives on, so log lines appear above the bar instead of inside it.
    logging.basicConfig(
        level=logging.INFO, format="%(name)s: %(message)s", handlers=[RichHandler(console=console)], force=True
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    settings = _settings()
    if "worker_concurrency" not in settings.model_fields_set:
        # One FFmpeg ladder keeps about one core busy: transcode a reel per core at once.
        settings = settings.model_copy(update={"worker_concurrency": os.cpu_count() or 1})
    upgrade(settings.resolved_database_url)
    serving = _serving(settings, host, port)
    plan = make_plan(reels=reels, users=users)

    async def seeding(platform: Platform) -> None:
        await seed_in_background(platform, plan, console, serving.public_url)

    _serve(serving, host, port, background=[seeding], log_config=None)


LogOption = Annotated[
    Path | None,
    typer.Option(
        "--log",
        exists=True,
        dir_okay=False,
        help="Interaction log CSV: user_id,item_id,timestamp and watch_ratio or rating; optional duration_ms.",
    ),
]
ItemsOption = Annotated[
    Path | None,
    typer.Option(
        "--items",
        exists=True,
        dir_okay=False,
        help="Items CSV: item_id and optional category, creator_id, duration_ms.",
    ),
]


def _event_table(log: Path | None, items: Path | None, users: int, reels: int, seed: int) -> tuple[EventTable, str]:
    """The log and items read from CSV, or a simulated log when no --log is given."""
    if log is None:
        simulated = simulate(SimulatorConfig(users=users, reels=reels, seed=seed))
        source = f"simulator ({users} viewers, {reels} reels, seed {seed})"
        return EventTable.build(simulated.events, simulated.items, simulated.follows), source
    try:
        return EventTable.build(read_events(log), read_items(items) if items else ()), str(log)
    except LogFormatError as error:
        typer.secho(str(error), fg="red", err=True)
        raise typer.Exit(2) from None


@app.command("eval")
def evaluate_ranking(
    log: LogOption = None,
    items: ItemsOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    rankings: Annotated[
        Path | None, typer.Option(dir_okay=False, help="Write each test user's top 20 as CSV user_id,rank,item_id.")
    ] = None,
    users: Annotated[int, typer.Option(min=10, help="Simulated viewers (without --log).")] = 1000,
    reels: Annotated[int, typer.Option(min=20, help="Simulated reels (without --log).")] = 2000,
    seed: Annotated[int, typer.Option(help="Simulator seed (without --log).")] = 0,
    test_share: Annotated[
        float, typer.Option(min=0.01, max=0.99, help="Last share of events (by count) tested.")
    ] = 0.2,
    relevant_watch_ratio: Annotated[float, typer.Option(help="Relevant from this watch ratio up.")] = 1.0,
    relevant_rating: Annotated[float, typer.Option(help="Relevant from this rating up.")] = 4.0,
) -> None:
    """Train the feed ranker on the earlier part of a log and score it and the baselines on the rest."""
    table, source = _event_table(log, items, users, reels, seed)
    rule = RelevanceRule(watch_ratio=relevant_watch_ratio, rating=relevant_rating)
    config = EvalConfig(test_share=test_share, ranker=RankerConfig(features=FeatureConfig(rule=rule)))
    console = Console(stderr=True)
    try:
        with training_progress(console) as (on_step, on_round):
            report = evaluate(table, source, config, on_step, on_round)
    except ValueError as error:
        typer.secho(str(error), fg="red", err=True)
        raise typer.Exit(1) from None
    if rankings is not None:
        write_rankings(report, rankings)
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
        return
    output = Console()
    for table_ in metrics_tables(report):
        output.print(table_)


@app.command()
def train(
    log: LogOption = None,
    items: ItemsOption = None,
    events: Annotated[
        Path | None,
        typer.Option(exists=True, file_okay=False, help="A folder `reels export-events` wrote (Parquet partitions)."),
    ] = None,
    simulate_: Annotated[
        bool, typer.Option("--simulate", help="Train on the built-in viewer simulator instead of stored events.")
    ] = False,
    users: Annotated[int, typer.Option(min=10, help="Simulated viewers (with --simulate).")] = 1000,
    reels: Annotated[int, typer.Option(min=20, help="Simulated reels (with --simulate).")] = 2000,
    seed: Annotated[int, typer.Option(help="Simulator seed (with --simulate).")] = 0,
    dask: Annotated[
        str | None,
        typer.Option(
            envvar="REELS_DASK_SCHEDULER",
            help="Train the heads and embeddings on this Dask scheduler (tcp://host:8786) instead of in this process.",
        ),
    ] = None,
) -> None:
    """Train the feed's embeddings and three heads and publish them as a new version in the object store.

    From the platform's stored watch events unless --log (a CSV log) or --simulate is given.
    """
    if (log is not None) + (events is not None) + simulate_ > 1:
        typer.secho("--log, --events and --simulate are different sources: give one", fg="red", err=True)
        raise typer.Exit(2)
    settings = _settings()
    with training_progress(Console(stderr=True)) as (on_step, on_round), _training_backend(dask, on_step) as backend:
        if log is not None or simulate_:
            table, source = _event_table(log, items, users, reels, seed)
        elif events is not None:
            table, source = _exported_table(events), str(events)
        else:
            table, source = asyncio.run(_stored_table(settings, on_step)), "stored watch events and impressions"
        if len(table) == 0:
            typer.secho(f"nothing to train on: no events in {source}", fg="red", err=True)
            raise typer.Exit(1)
        try:
            trained = train_ranker(table, RankerConfig(), on_step, on_round, backend)
        except ValueError as error:
            typer.secho(f"cannot train on {source}: {error}", fg="red", err=True)
            raise typer.Exit(1) from None
        on_step("publishing")
        version = asyncio.run(_publish(settings, trained))
    typer.echo(f"trained on {len(table)} events from {source} ({trained.model.training_rows} examples)")
    typer.echo(f"published ranker version {version}")


@contextmanager
def _training_backend(scheduler: str | None, on_step: StepCallback) -> Iterator[Backend | None]:
    """This process (None), or the Dask cluster at `scheduler`, connected before any work starts."""
    if scheduler is None:
        yield None
        return
    # Imported here, not at the top: dask and distributed take seconds and a few hundred MB to
    # load, and every other command (serve and its worker processes above all) never uses them.
    from reels.ranking.distributed import on_cluster

    on_step(f"connecting to the Dask scheduler at {scheduler}")
    with ExitStack() as stack:
        try:
            backend = stack.enter_context(on_cluster(scheduler))
        except OSError as error:
            typer.secho(f"Dask scheduler {scheduler}: {error}", fg="red", err=True)
            raise typer.Exit(1) from None
        yield backend


def _exported_table(folder: Path) -> EventTable:
    try:
        return read_export(folder)
    except LogFormatError as error:
        typer.secho(str(error), fg="red", err=True)
        raise typer.Exit(2) from None


@app.command("export-events")
def export_events(
    out: Annotated[Path, typer.Argument(file_okay=False, help="Folder to write (created; must be empty).")],
) -> None:
    """Export the stored watch events, reels and follows as Parquet partitions, for `reels train --events`."""
    if out.exists() and any(out.iterdir()):
        typer.secho(f"{out} is not empty", fg="red", err=True)
        raise typer.Exit(2)
    settings = _settings()

    async def export(on_step: StepCallback) -> int:
        platform = await Platform.start(settings)
        try:
            return await training.export_events(platform.sessions, platform.graph, out, on_step)
        finally:
            await platform.close()

    with training_progress(Console(stderr=True)) as (on_step, _):
        exported = asyncio.run(export(on_step))
    typer.echo(f"exported {exported} events (watches and unwatched impressions) to {out}")


async def _stored_table(settings: Settings, on_step: StepCallback) -> EventTable:
    platform = await Platform.start(settings)
    try:
        return await training.stored_table(platform.sessions, platform.graph, on_step)
    finally:
        await platform.close()


async def _publish(settings: Settings, trained: TrainedRanker) -> str:
    store = objectstore.from_settings(settings)
    try:
        return await training.publish(store, trained)
    finally:
        await store.close()


if __name__ == "__main__":
    app()

"""Queue consumers and periodic jobs, run as tasks owned by the platform.

Each consumer reads its topic in a consumer group: more processes means more throughput, and a
message held by a worker that died is claimed by another after `claim_idle_ms`.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from reels.platform import Platform
from reels.ports.queue import Message

log = logging.getLogger(__name__)

Handler = Callable[[Platform, dict[str, Any]], Awaitable[None]]
DeadHandler = Callable[[Platform, Message, str], Awaitable[None]]


def consumer_name(role: str, index: int = 0) -> str:
    return f"{role}-{socket.gethostname()}-{os.getpid()}-{index}"


async def consume_forever(
    platform: Platform,
    topic: str,
    group: str,
    handler: Handler,
    *,
    concurrency: int = 1,
    claim_idle_ms: int = 60_000,
    max_attempts: int = 3,
    on_dead: DeadHandler | None = None,
) -> None:
    """Handle messages until cancelled: ack on success, retry with backoff on error, and after
    `max_attempts` dead-letter the message and call `on_dead` (e.g. mark the reel FAILED)."""

    async def one_consumer(index: int) -> None:
        name = consumer_name(group, index)
        while True:
            try:
                messages = await platform.queue.consume(
                    topic, group, name, count=1, block_ms=1000, claim_idle_ms=claim_idle_ms
                )
            except Exception:
                log.exception("%s: reading %s failed; retrying", name, topic)
                await asyncio.sleep(1)
                continue
            for message in messages:
                try:
                    await _handle(platform, group, handler, message, max_attempts, on_dead, claim_idle_ms)
                except Exception:
                    # Acking or retrying failed (the queue is down): the message stays pending
                    # and is redelivered after claim_idle_ms; this consumer carries on.
                    log.exception("%s: settling %s message %s failed", name, topic, message.id)

    # A task group, not gather: cancelled, gather ends with its first cancelled consumer and
    # leaves the others running past the platform's close (and its database's).
    async with asyncio.TaskGroup() as consumers:
        for index in range(concurrency):
            consumers.create_task(one_consumer(index))


async def _handle(
    platform: Platform,
    group: str,
    handler: Handler,
    message: Message,
    max_attempts: int,
    on_dead: DeadHandler | None,
    claim_idle_ms: int,
) -> None:
    topic = message.topic
    heartbeat = asyncio.create_task(_keep_claimed(platform, message, group, claim_idle_ms / 3000))
    try:
        await handler(platform, message.payload)
    except asyncio.CancelledError:
        raise  # shutting down: the message stays pending and is claimed again later
    except Exception as error:  # noqa: BLE001 - any failure is retried, then dead-lettered
        reason = f"{type(error).__name__}: {error}"
        log.warning("%s message %s failed (attempt %d): %s", topic, message.id, message.attempts, reason)
        if not await platform.queue.retry_or_dead_letter(message, group, reason, max_attempts=max_attempts):
            log.error("%s message %s dead-lettered after %d attempts", topic, message.id, message.attempts)
            if on_dead is not None:
                await on_dead(platform, message, reason)
        return
    finally:
        heartbeat.cancel()
    await platform.queue.ack(message, group)


async def _keep_claimed(platform: Platform, message: Message, group: str, interval_s: float) -> None:
    """While a job runs, keep resetting its idle time: only a dead worker's job goes idle long
    enough for another worker to claim it."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            if not await platform.queue.touch(message, group):
                log.warning("%s message %s was claimed by another worker", message.topic, message.id)
                return
        except Exception:
            log.exception("heartbeat for %s message %s failed", message.topic, message.id)


async def every(interval_s: float, job: Callable[[], Awaitable[Any]], name: str) -> None:
    """Run `job` every `interval_s` seconds until cancelled; a failing run is logged, not fatal."""
    while True:
        try:
            await job()
        except Exception:
            log.exception("periodic job %s failed", name)
        await asyncio.sleep(interval_s)


# Young collections every this many allocations (CPython's default is 700).
API_YOUNG_GC = 5_000  # a request's objects die by reference count; a pass stays ~1-2 ms
WORKER_YOUNG_GC = 50_000  # a batch of 20,000 messages outlives smaller young generations


def tune_gc(young: int) -> None:
    """A full pass of the cyclic garbage collector stops the process for as long as it takes to
    walk every live object. Start-up's objects (modules, the schema, the models) live as long as
    the process, so they are frozen out of those passes; and young collections run every `young`
    allocations instead of 700, so short-lived objects die by reference count instead of being
    promoted, which is what made full passes frequent. With 2,000 websockets a pass held up live
    events for hundreds of milliseconds (bench/fanout.py); in the aggregator, whose batches are
    tens of thousands of messages, the passes were a third of its CPU (bench/engagement.py).

    A young pass costs more than in proportion to the young generation: serving feed pages, a
    pass every 50,000 allocations took up to 52 ms (a stall every ~200 requests, which one
    client's p99 sees) and every 5,000 at most 1.7 ms, with less collector time in all (68 against
    129 ms over 1,000 requests). API processes use API_YOUNG_GC, workers WORKER_YOUNG_GC.
    Call it once start-up is done."""
    gc.freeze()
    gc.set_threshold(young, 20, 20)

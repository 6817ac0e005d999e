"""One transaction of a domain command, and the jobs and events it sends once committed.

    async with unit_of_work(sessions, queue, bus) as work:
        ...read and write through work.session, never commit...
        work.send(ReelUploaded(reel.id), lane="high")
        work.publish(ReelStatusChanged(reel.id, ReelStatus.UPLOADED))
    # committed; the jobs are queued and the events published, in that order

A DomainError (or any error) inside the block rolls everything back and sends nothing. Sending
after the commit means a consumer always finds what the message announces; a crash between the
commit and the send loses the messages, and each command says how that is recovered (see
reels.domain.lifecycle).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reels import db
from reels.domain.events import Event, Job, publish, send
from reels.ports.pubsub import PubSub
from reels.ports.queue import WorkQueue


@dataclass
class UnitOfWork:
    session: AsyncSession
    jobs: list[tuple[Job, str]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def send(self, job: Job, *, lane: str = "normal") -> None:
        """Queue `job` once the transaction has committed."""
        self.jobs.append((job, lane))

    def publish(self, event: Event) -> None:
        """Publish `event` once the transaction has committed."""
        self.events.append(event)


@asynccontextmanager
async def unit_of_work(
    sessions: async_sessionmaker[AsyncSession], queue: WorkQueue, bus: PubSub
) -> AsyncIterator[UnitOfWork]:
    async with sessions() as session:
        async with db.one_writer(session), session.begin():
            work = UnitOfWork(session)
            yield work
    for job, lane in work.jobs:
        await send(queue, job, lane=lane)
    for event in work.events:
        await publish(bus, event)

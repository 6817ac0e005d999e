"""After READY and around it: replication, deletion, abandoned uploads, priority lanes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import update

from reels.domain.models import ReelStatus, Role, User
from reels.domain.uploads import BURST_UPLOADS, SMALL_UPLOAD_BYTES, choose_lane
from reels.ports.objectstore import MIN_PART_BYTES, UploadError
from reels.schema.globalid import db_id_of
from reels.settings import Settings
from reels.workers.maintenance import ABANDONED_REASON, abort_abandoned_uploads
from tests.pipeline.helpers import (
    COMPLETE,
    DELETE,
    NODE,
    RESUME,
    USER_REELS,
    Clips,
    Stack,
    call,
    create_upload,
    poll,
    put_part,
    reel,
    running,
    unique,
    upload,
    wait_for,
)

HASHTAG = 'query { hashtag(name: "replicated") { reelCount } }'
LAG_COUNT = re.compile(r"^reels_replication_lag_seconds_count (\S+)$", re.MULTILINE)


async def keys(platform, prefix: str) -> list[list[str]]:
    """The keys under `prefix` in the primary store, then in each replica."""
    return [await store.list_keys(prefix) for store in (platform.store, *platform.replicas)]


async def make_moderator(platform, username: str) -> None:
    async with platform.sessions() as session:
        await session.execute(update(User).where(User.username == username).values(role=Role.MODERATOR))
        await session.commit()


def replication_count(api) -> float:
    return float(LAG_COUNT.search(api.client.get("/metrics").text)[1])


def test_ready_media_reach_every_replica_and_a_deleted_reel_leaves_every_store(
    embedded_settings: Settings, clips: Clips, tmp_path: Path
) -> None:
    replicas = [tmp_path / "replica-a", tmp_path / "replica-b"]
    settings = embedded_settings.model_copy(update={"replica_stores": ",".join(map(str, replicas))})
    with running(settings) as api:
        token, _ = api.register("replicated")
        replicated_before = replication_count(api)
        reel_id = upload(api, token, clips.small, caption="#replicated")
        wait_for(api, reel_id, token, {"READY"})
        prefix = f"reels/{db_id_of(reel_id, 'Reel')}/"

        def replicated() -> list[list[str]] | None:
            stores = call(api, keys, prefix)
            return stores if stores[0] and all(copy == stores[0] for copy in stores[1:]) else None

        primary, *copies = poll(replicated, "copies in every replica")
        assert f"{prefix}hls/master.m3u8" in primary and any(key.endswith(".m4s") for key in primary)
        assert len(copies) == 2 and all(copy == primary for copy in copies)
        assert replication_count(api) == replicated_before + 1  # the lag is in /metrics

        stranger, _ = api.register("stranger")
        assert api.data(HASHTAG)["hashtag"] == {"reelCount": 1}
        refused = api.data(DELETE, {"input": {"reelId": reel_id}}, stranger)["deleteReel"]
        assert [e["code"] for e in refused["userErrors"]] == ["FORBIDDEN"]
        assert reel(api, reel_id, None)["status"] == "READY"

        deleted = api.data(DELETE, {"input": {"reelId": reel_id}}, token)["deleteReel"]
        assert deleted["userErrors"] == [] and deleted["reel"]["id"] == reel_id
        for who in (token, stranger, None):  # gone from every read path at once
            assert reel(api, reel_id, who) is None
            assert api.data(NODE, {"id": reel_id}, who)["node"] is None
            assert api.data(USER_REELS, {"name": "replicated"}, who)["user"]["reels"]["edges"] == []
        assert api.data(HASHTAG)["hashtag"] == {"reelCount": 0}
        again = api.data(DELETE, {"input": {"reelId": reel_id}}, token)["deleteReel"]
        assert [e["code"] for e in again["userErrors"]] == ["NOT_FOUND"]

        poll(lambda: call(api, keys, prefix) == [[], [], []], "media deleted from every store")
        source = f"sources/{db_id_of(reel_id, 'Reel')}/"
        poll(lambda: call(api, keys, source)[0] == [], "source deleted")

        # A moderator may delete anyone's reel, in any status.
        pending = create_upload(api, stranger, 1000)["reel"]["id"]
        call(api, make_moderator, "replicated")
        assert api.data(DELETE, {"input": {"reelId": pending}}, token)["deleteReel"]["userErrors"] == []
        assert reel(api, pending, stranger) is None


async def store_parts(platform, reel_id: str, upload_id: str) -> object:
    try:
        return await platform.store.list_parts(f"sources/{db_id_of(reel_id, 'Reel')}/source", upload_id)
    except UploadError as error:
        return error


def test_abandoned_uploads_are_aborted_and_their_reels_failed(stack: Stack) -> None:
    with running(stack.settings, workers=False) as api:
        token, _ = api.register(unique("dawdler"))
        started = create_upload(api, token, MIN_PART_BYTES + 1000)
        reel_id, upload_id = started["reel"]["id"], started["uploadId"]
        put_part(api, started["parts"][0]["url"], b"x" * MIN_PART_BYTES)
        assert len(call(api, store_parts, reel_id, upload_id)) == 1

        assert call(api, abort_abandoned_uploads) == 0  # not older than REELS_UPLOAD_TTL_S yet
        platform = api.client.app.state.platform
        # At least this one: other tests' unfinished uploads may share the services' database.
        assert api.client.portal.call(lambda: abort_abandoned_uploads(platform, older_than_s=0)) >= 1

        failed = reel(api, reel_id, token)
        assert (failed["status"], failed["statusReason"]) == ("FAILED", ABANDONED_REASON)
        assert isinstance(call(api, store_parts, reel_id, upload_id), UploadError)  # no part left
        resumed = api.data(RESUME, {"input": {"uploadId": upload_id}}, token)["resumeUpload"]
        assert [e["code"] for e in resumed["userErrors"]] == ["NOT_FOUND"]
        completed = api.data(
            COMPLETE, {"input": {"uploadId": upload_id, "parts": [{"partNumber": 1, "etag": "x"}]}}, token
        )["completeUpload"]
        assert [e["code"] for e in completed["userErrors"]] == ["NOT_FOUND"]


@pytest.mark.parametrize(
    ("first_upload", "queued", "size", "lane"),
    [
        (True, 0, SMALL_UPLOAD_BYTES * 4, "high"),  # a creator's first upload goes first
        (False, 0, SMALL_UPLOAD_BYTES, "high"),  # so do short reels
        (False, 1, SMALL_UPLOAD_BYTES + 1, "normal"),
        (False, BURST_UPLOADS, 1000, "bulk"),  # a burst waits behind everyone else
        (True, BURST_UPLOADS, 1000, "bulk"),
    ],
)
def test_choose_lane(first_upload: bool, queued: int, size: int, lane: str) -> None:
    assert choose_lane(first_upload=first_upload, queued_by_uploader=queued, file_size=size) == lane


def test_one_creators_burst_does_not_hold_up_another_creators_upload(embedded_settings: Settings, clips: Clips) -> None:
    with running(embedded_settings, workers=False) as api:
        busy, _ = api.register("busy")
        other, _ = api.register("other")
        burst = [upload(api, busy, clips.random_bytes) for _ in range(BURST_UPLOADS + 1)]
        newcomer = upload(api, other, clips.random_bytes)
        platform = api.client.app.state.platform

        async def consume_all() -> list[tuple[str, int]]:
            taken = []
            while messages := await platform.queue.consume("media", "media-workers", "test", count=1, block_ms=50):
                taken += [(m.lane, m.payload["reel_id"]) for m in messages]
                await platform.queue.ack(messages[0], "media-workers")
            return taken

        taken = api.client.portal.call(consume_all)
        order = [reel_id for _, reel_id in taken]
        ids = {reel_id: db_id_of(reel_id, "Reel") for reel_id in [*burst, newcomer]}
        assert sorted(order) == sorted(ids.values())
        # The burst's last upload was queued before the newcomer's, yet runs after it.
        assert dict((reel_id, lane) for lane, reel_id in taken)[ids[burst[-1]]] == "bulk"
        assert order.index(ids[newcomer]) < order.index(ids[burst[-1]])
        assert order[-1] == ids[burst[-1]]
        assert all(reel(api, reel_id, busy)["status"] == ReelStatus.UPLOADED.value for reel_id in burst)


def test_jobs_lost_with_the_embedded_queue_are_queued_again_when_it_starts(
    embedded_settings: Settings, clips: Clips
) -> None:
    with running(embedded_settings, workers=False) as api:  # the job stays in this process's queue
        token, _ = api.register("restarter")
        reel_id = upload(api, token, clips.random_bytes)
        assert reel(api, reel_id, token)["status"] == "UPLOADED"
    with running(embedded_settings) as api:
        failed = wait_for(api, reel_id, token, {"FAILED"})
        assert failed["statusReason"] == "the file is not a readable video"  # it was processed

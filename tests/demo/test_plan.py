"""The demo's plan: what `reels demo` seeds, decided up front and the same on every run."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from reels.demo import welcome
from reels.demo.clips import make_clip
from reels.demo.plan import PASSWORD, REGIONS, THEMES, DemoPlan, make_plan
from reels.domain.accounts import USERNAME_PATTERN
from reels.domain.models import Role
from reels.domain.uploads import hashtags_in
from reels.media.probe import probe


def test_the_default_plan_is_a_living_platform() -> None:
    plan = make_plan()
    names = [user.username for user in plan.users]
    assert len(names) == 42 == len(set(names))  # 40 users, a moderator and an admin
    assert all(USERNAME_PATTERN.match(name) for name in names)
    assert all(user.region in REGIONS for user in plan.users)
    assert len({user.region for user in plan.users}) >= 6
    roles = {user.username: user.role for user in plan.users}
    assert roles[plan.moderator] is Role.MODERATOR and Role.ADMIN in roles.values()

    clips = plan.clips
    assert len(clips) == 60 and sorted(clip.number for clip in clips) == list(range(60))
    assert [clip.seconds for clip in clips] == sorted(clip.seconds for clip in clips)  # shortest first
    assert all(5 <= clip.seconds <= 30 for clip in clips)
    assert clips[0].seconds == 5 and clips[-1].seconds > 20
    assert sum(clip.seconds for clip in clips[:20]) <= 200  # the first 20 are quick to transcode
    assert {(clip.width, clip.height) for clip in clips} == {(720, 1280), (1280, 720)}
    assert 1 <= sum(clip.landscape for clip in clips) <= 12
    assert len({clip.theme for clip in clips}) >= 6 and len({clip.video for clip in clips}) >= 55
    assert len({clip.audio for clip in clips}) >= 10
    assert all(clip.creator in names for clip in clips)
    assert len({clip.creator for clip in clips}) >= 5
    assert all(hashtags_in(clip.caption) for clip in clips)
    assert len({(clip.creator, clip.caption) for clip in clips}) == 60  # a second run finds reels by them
    made_before = {clip.number: rank for rank, clip in enumerate(clips)}
    reusing = [clip for clip in clips if clip.sound_of is not None]
    assert len(reusing) >= 3
    assert all(made_before[clip.sound_of] < made_before[clip.number] for clip in reusing if clip.sound_of is not None)

    assert len(plan.follows) >= 80 and len(set(plan.follows)) == len(plan.follows)
    assert all(a != b and a in names and b in names for a, b in plan.follows)
    assert any(a == plan.viewer for a, _ in plan.follows)
    assert any(clip.creator == plan.creator for clip in clips)

    history = plan.history
    assert len(history) >= 1000
    assert {watch.clip for watch in history} <= set(made_before) and {watch.viewer for watch in history} <= set(names)
    assert sum(watch.liked for watch in history) >= 50 and sum(watch.comment is not None for watch in history) >= 10
    assert all(watch.liked for watch in history if watch.comment is not None)
    assert all(watch.completed == (watch.watched_ms >= 1000 * clip_seconds(plan, watch.clip)) for watch in history)
    assert [watch.ago_s for watch in history] == sorted((watch.ago_s for watch in history), reverse=True)


def clip_seconds(plan: DemoPlan, number: int) -> int:
    return next(clip.seconds for clip in plan.clips if clip.number == number)


def test_the_plan_is_the_same_for_the_same_arguments_and_sized_by_them() -> None:
    assert make_plan() == make_plan()
    assert make_plan(seed=1) != make_plan()
    tiny = make_plan(reels=3, users=4, seconds=(2, 3))
    assert len(tiny.clips) == 3 and len(tiny.users) == 6
    assert all(2 <= clip.seconds <= 3 for clip in tiny.clips)
    assert tiny.follows and tiny.history
    big = make_plan(reels=100, users=70)  # more users than the lists of names
    assert len(big.clips) == 100 and len({user.username for user in big.users}) == 72
    with pytest.raises(ValueError):
        make_plan(reels=0)


def test_every_theme_makes_a_clip_ffmpeg_reads(tmp_path: Path) -> None:
    """One short clip per look (and a landscape one): each FFmpeg graph of the plan runs."""
    clips = make_plan(reels=200, users=10).clips
    samples = {clip.theme: clip for clip in clips}
    assert set(samples) == {theme.name for theme in THEMES}
    samples["landscape"] = next(clip for clip in clips if clip.landscape)

    async def make_all() -> None:
        for name, clip in samples.items():
            path = tmp_path / f"{name}.mp4"
            await make_clip(dataclasses.replace(clip, seconds=1), path)
            facts = await probe(path)
            assert (facts.width, facts.height) == (clip.width, clip.height), name
            assert facts.has_audio and 0.9 <= facts.duration_s <= 1.2, name

    asyncio.run(make_all())


def test_the_welcome_names_the_urls_and_a_creator_a_viewer_and_a_moderator() -> None:
    plan = make_plan()
    text = welcome(plan, "http://localhost:8000")
    for url in ("http://localhost:8000/", "http://localhost:8000/graphql", "http://localhost:8000/metrics"):
        assert url in text
    assert "alice (creator), bob (viewer), mod (moderator)" in text and PASSWORD in text
    roles = {user.username: user.role for user in plan.users}
    assert roles["bob"] is Role.USER and any(a == "bob" for a, _ in plan.follows)
    assert any(clip.creator == "alice" for clip in plan.clips)

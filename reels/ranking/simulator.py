"""A viewer simulator: a deterministic (seeded) world of creators, reels and viewers, and its event log.

Reels have a category, a creator, a quality and a duration and are published over time. Viewers
have latent tastes over categories, follow a few creators, give a reel a patience that depends on
how interesting it is to them (so short reels are finished more often), skip quickly what bores
them, like some of what they finish and now and then mark a reel "not interested".
What each viewer is shown comes from a simple non-learned feed (trending, categories the viewer
finished before, followed creators, fresh reels), the way a log from a live system is shaped by
the feed that served it. Every impression becomes one watch event.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from reels.ranking.events import Item, WatchEvent
from reels.ranking.trending import Trending

DAY_S = 86_400.0
START = 1_767_225_600.0  # 2026-01-01T00:00:00Z
SOURCES = ("trending", "affinity", "following", "fresh")


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    users: int = 1000
    reels: int = 2000
    categories: int = 12
    days: float = 14.0
    sessions_per_day: float = 1.2  # the median viewer's; activity varies a lot between viewers
    reels_per_session: float = 10.0
    source_shares: tuple[float, float, float, float] = (0.35, 0.25, 0.15, 0.25)  # in SOURCES order
    seed: int = 0
    start: float = START

    @property
    def creators(self) -> int:
        return max(self.reels // 8, 2)


@dataclass(frozen=True, slots=True)
class Impression:
    user_id: str
    item_id: str
    timestamp: float
    position: int
    source: str


@dataclass
class SimulatedLog:
    events: list[WatchEvent] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    follows: list[tuple[str, str]] = field(default_factory=list)
    impressions: list[Impression] = field(default_factory=list)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


class _World:
    def __init__(self, config: SimulatorConfig, rng: np.random.Generator) -> None:
        self.config = config
        categories, creators, reels, users = config.categories, config.creators, config.reels, config.users
        category_weight = 1.0 / np.arange(1, categories + 1) ** 0.7
        category_weight /= category_weight.sum()
        self.creator_category = rng.choice(categories, creators, p=category_weight)
        creator_quality = rng.normal(0.0, 0.5, creators)
        creator_weight = rng.pareto(1.5, creators) + 1.0
        self.reel_creator = rng.choice(creators, reels, p=creator_weight / creator_weight.sum())
        own_category = rng.random(reels) < 0.8
        self.reel_category = np.where(
            own_category, self.creator_category[self.reel_creator], rng.choice(categories, reels, p=category_weight)
        )
        self.reel_quality = creator_quality[self.reel_creator] + rng.normal(0.0, 0.5, reels)
        self.reel_duration_s = np.clip(rng.lognormal(np.log(25.0), 0.6, reels), 5.0, 90.0).round(1)
        # A quarter of the catalogue exists before the log starts; the rest is published during it.
        span = config.days * DAY_S
        published = np.where(
            rng.random(reels) < 0.25,
            config.start - rng.uniform(0, 3 * DAY_S, reels),
            config.start + rng.uniform(0, span, reels),
        )
        order = np.argsort(published)
        self.reel_published = published
        self.by_publication = order
        self.sorted_published = published[order]
        taste = rng.dirichlet(np.full(categories, 0.4), users)
        self.affinity = np.clip(np.log(categories * taste + 0.05), -3.0, 2.0)
        self.patience_s = rng.lognormal(np.log(18.0), 0.5, users)
        self.like_bias = rng.normal(-2.0, 0.7, users)
        self.activity = rng.lognormal(np.log(config.sessions_per_day), 0.7, users)
        self.peak_hour = rng.uniform(0, 24, users)
        self.follows: list[np.ndarray] = []
        creator_draw = creator_weight / creator_weight.sum()
        for viewer in range(users):
            weight = taste[viewer, self.creator_category] * creator_draw
            count = min(rng.poisson(4), creators)
            self.follows.append(rng.choice(creators, count, replace=False, p=weight / weight.sum()))

    def interest(self, viewer: int, reels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        follows = np.isin(self.reel_creator[reels], self.follows[viewer])
        return np.asarray(
            self.affinity[viewer, self.reel_category[reels]]
            + self.reel_quality[reels]
            + 0.8 * follows
            + rng.normal(0.0, 0.5, len(reels))
        )


def simulate(config: SimulatorConfig | None = None) -> SimulatedLog:
    """Simulate `config.days` of viewing; the same config (and seed) gives the same log."""
    config = config or SimulatorConfig()
    rng = np.random.default_rng(config.seed)
    world = _World(config, rng)
    log = SimulatedLog(
        items=[
            Item(
                item_id=f"r{reel}",
                category=f"c{world.reel_category[reel]}",
                creator_id=f"u{world.reel_creator[reel]}",
                duration_ms=int(world.reel_duration_s[reel] * 1000),
            )
            for reel in range(config.reels)
        ],
        follows=[(f"v{viewer}", f"u{creator}") for viewer in range(config.users) for creator in world.follows[viewer]],
    )
    trending = Trending(size=config.reels)
    feed = _Feed(config, world)
    seen = np.zeros((config.users, config.reels), bool)
    finished_by_category = np.ones((config.users, config.categories))
    pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    next_refresh = config.start
    for start, viewer in _session_starts(config, world, rng):
        if start >= next_refresh:
            # The feed's lists are recomputed hourly, as an aggregator would.
            for reels, times, completed in pending:
                trending.update(reels, times, completed)
            pending.clear()
            feed.refresh(start, trending.scores(start, config.reels))
            next_refresh = start + 3600.0
        reels, sources = feed.serve(rng, viewer, seen[viewer], finished_by_category[viewer])
        if len(reels) == 0:
            continue
        watch_ratio, timestamps, liked, not_interested, reported = _watch(world, rng, viewer, reels, start)
        seen[viewer, reels] = True
        completed = watch_ratio >= 1.0
        np.add.at(finished_by_category[viewer], world.reel_category[reels[completed]], 1.0)
        pending.append((reels, timestamps, completed))
        for position, (reel, source, ratio, moment, like, nope, report) in enumerate(
            zip(reels, sources, watch_ratio, timestamps, liked, not_interested, reported, strict=True)
        ):
            log.events.append(
                WatchEvent(
                    user_id=f"v{viewer}",
                    item_id=f"r{reel}",
                    timestamp=float(moment),
                    watch_ratio=float(ratio),
                    duration_ms=int(world.reel_duration_s[reel] * 1000),
                    liked=bool(like),
                    not_interested=bool(nope),
                    reported=bool(report),
                )
            )
            log.impressions.append(Impression(f"v{viewer}", f"r{reel}", float(moment), position, SOURCES[source]))
    return log


def _session_starts(config: SimulatorConfig, world: _World, rng: np.random.Generator) -> list[tuple[float, int]]:
    starts: list[tuple[float, int]] = []
    for viewer in range(config.users):
        for day in range(int(np.ceil(config.days))):
            for _ in range(rng.poisson(world.activity[viewer])):
                hour = (world.peak_hour[viewer] + rng.normal(0.0, 3.0)) % 24
                moment = config.start + day * DAY_S + hour * 3600.0
                if moment < config.start + config.days * DAY_S:
                    starts.append((moment, viewer))
    starts.sort()
    return starts


class _Feed:
    """A simple, non-learned feed: trending, categories the viewer finished, followed creators, fresh reels."""

    def __init__(self, config: SimulatorConfig, world: _World) -> None:
        self.config, self.world = config, world
        self.shares = np.asarray(config.source_shares) / sum(config.source_shares)
        self.follow_mask = np.zeros((config.users, config.reels), bool)
        for viewer, creators in enumerate(world.follows):
            self.follow_mask[viewer] = np.isin(world.reel_creator, creators)
        self.weights: dict[str, np.ndarray] = {}

    def refresh(self, now: float, trending_scores: np.ndarray) -> None:
        world = self.world
        published = world.reel_published <= now
        age_days = np.maximum(now - world.reel_published, 0.0) / DAY_S
        self.trending = np.cumsum(published * (trending_scores + 0.05))
        self.fresh_weight = published * 0.5 ** (age_days / 2.0)
        self.fresh = np.cumsum(self.fresh_weight)
        recent = published * 0.5 ** (age_days / 3.0)
        self.by_category = [np.cumsum(recent * (world.reel_category == c)) for c in range(self.config.categories)]

    def serve(
        self, rng: np.random.Generator, viewer: int, seen: np.ndarray, finished_by_category: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The reels shown in one session and the index of each one's source, in order."""
        size = 1 + rng.poisson(self.config.reels_per_session)
        source = rng.choice(len(SOURCES), size, p=self.shares)
        category = rng.choice(self.config.categories, size, p=finished_by_category / finished_by_category.sum())
        following = np.cumsum(self.follow_mask[viewer] * self.fresh_weight)
        picks = np.full(size, -1)
        for position in range(size):
            cumulative = (self.trending, self.by_category[category[position]], following, self.fresh)[source[position]]
            if cumulative[-1] > 0:
                picks[position] = np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right")
        picks = np.minimum(picks, self.config.reels - 1)
        keep = picks >= 0
        keep[keep] &= ~seen[picks[keep]]
        _, first = np.unique(picks, return_index=True)
        unique = np.zeros(size, bool)
        unique[first] = True
        keep &= unique
        return picks[keep], source[keep]


def _watch(
    world: _World, rng: np.random.Generator, viewer: int, reels: np.ndarray, start: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Watch ratio, time, like, "not interested" and report for each reel shown in one session."""
    interest = world.interest(viewer, reels, rng)
    duration = world.reel_duration_s[reels]
    skip = rng.random(len(reels)) < _sigmoid(-1.5 * interest + 0.2)
    watched_s = rng.exponential(world.patience_s[viewer] * np.exp(0.8 * interest))
    watched_s = np.where(skip, rng.uniform(0.3, 2.8, len(reels)), watched_s)
    completed = watched_s >= duration
    loops = np.where(
        completed & (rng.random(len(reels)) < _sigmoid(interest - 1.0)), rng.uniform(0.0, 1.0, len(reels)), 0.0
    )
    watch_ratio = np.where(completed, 1.0 + loops, watched_s / duration).round(3)
    liked = (watch_ratio >= 0.8) & (rng.random(len(reels)) < _sigmoid(world.like_bias[viewer] + 1.2 * interest))
    not_interested = skip & (interest < -1.5) & (rng.random(len(reels)) < 0.1)
    reported = skip & (world.reel_quality[reels] < -1.2) & (rng.random(len(reels)) < 0.02)
    spent = np.minimum(watch_ratio, 2.0) * duration + 1.0
    timestamps = start + np.concatenate([[0.0], np.cumsum(spent)[:-1]])
    return watch_ratio, timestamps, liked, not_interested, reported

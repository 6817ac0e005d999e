"""Process settings, read once from `REELS_*` environment variables.

Nothing set means the embedded default: SQLite, in-process queue/cache/pub-sub, media on
local disk and the follow graph in SQL, all under `REELS_DATA_DIR`. Setting a service URL
switches that one port to its production adapter.
"""

from __future__ import annotations

import re
import secrets
from functools import cached_property
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message names the variable."""


_HOST_PORT = re.compile(r"[^\s:/,]+:\d{1,5}|\[[0-9a-fA-F:]+\]:\d{1,5}")


def _asyncpg_url(url: str) -> str:
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+asyncpg://" + url.removeprefix("postgresql://")
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REELS_", extra="ignore")

    data_dir: Path = Path("./var")
    database_url: str | None = None
    redis_url: str | None = None
    neo4j_url: str | None = None
    neo4j_user: str = "neo4j"
    neo4j_password: str = ""
    s3_endpoint_url: str | None = None
    s3_bucket: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_region: str = "us-east-1"
    # Extra stores the media pipeline copies READY outputs to: comma-separated
    # `s3://bucket` (same endpoint and keys) or local directories.
    replica_stores: str = ""
    secret_key: str | None = None
    region_id: int = Field(default=0, ge=0, le=15)  # the 4 region bits of Snowflake ids
    media_base_url: str | None = None
    public_url: str = "http://localhost:8000"

    access_token_ttl_s: int = 7 * 24 * 3600
    max_upload_bytes: int = 512 * 1024 * 1024
    upload_part_bytes: int = 8 * 1024 * 1024
    upload_ttl_s: int = 24 * 3600
    # Uploads one account may have started and not completed (each may be max_upload_bytes).
    max_open_uploads: int = Field(default=5, ge=1)
    max_duration_s: float = 90.0
    transcode_timeout_s: float = 600.0
    worker_concurrency: int = 1
    # A job whose worker stopped sending heartbeats this long ago is taken over by another.
    job_claim_idle_s: float = 60.0
    maintenance_interval_s: float = 60.0
    # A reel still UPLOADED this long after its upload is queued again (its job was lost).
    stuck_upload_requeue_s: int = 3600
    flush_interval_ms: int = 1000
    view_window_s: int = 24 * 3600
    celebrity_followers: int = 10_000
    # The automated checks of uploads and comments: one term (a word or phrase) a line, and a
    # classifier named "package.module:callable" (see reels.moderation.hooks).
    blocked_terms_file: Path | None = None
    held_terms_file: Path | None = None
    moderation_hook: str | None = None
    # A reel this many distinct users reported (open reports) is HELD for a moderator's review.
    auto_hide_reports: int = Field(default=5, ge=1)
    # How long live subscriptions ride out a lost Redis before ending with an UNAVAILABLE error.
    pubsub_reconnect_timeout_s: float = 30.0
    # PostgreSQL connections each process opens, at most, and keeps (its replicas' too). Enough
    # for the requests in flight (a page's loaders read on two at once): a connection opened
    # past the pool and closed again after one statement costs more than waiting for one.
    database_pool_size: int = Field(default=30, ge=1)
    # Streaming replicas of the PostgreSQL primary (comma-separated postgresql:// URLs) that take
    # the read-only work; one lagging more than the limit, or down, is skipped.
    database_replica_urls: str = ""
    replica_max_lag_s: float = Field(default=5.0, gt=0)

    # The For You feed (docs/ranking.md, serving): how many reels one ranked list holds and how
    # long a session keeps it; the scoring time budget; how often the published ranker is
    # re-checked; who keeps a following inbox; the share of fresh reels; how long a "not
    # interested" demotes the reel's creator and hashtags; trending's half-life and minimum.
    feed_list_size: int = Field(default=50, ge=10, le=500)
    feed_session_ttl_s: float = Field(default=1800.0, gt=0)
    feed_score_budget_ms: float = Field(default=250.0, gt=0)
    # How long an API process keeps reels' feature counters it read for new lists (0: never).
    feed_features_cache_s: float = Field(default=5.0, ge=0)
    ranker_reload_s: float = Field(default=60.0, gt=0)
    inbox_active_days: float = Field(default=30.0, gt=0)
    inbox_size: int = Field(default=500, ge=10)
    feed_fresh_rate: float = Field(default=0.2, ge=0, le=1)
    not_interested_days: float = Field(default=14.0, gt=0)
    trending_half_life_s: float = Field(default=6 * 3600.0, gt=0)
    trending_min_interactions: int = Field(default=5, ge=1)

    # API limits (also documented in the README).
    max_query_depth: int = 12
    max_query_cost: int = 5000
    max_aliases: int = 30
    max_tokens: int = 2000
    max_page_size: int = 100
    max_subscriptions_per_connection: int = 20
    # The body of one GraphQL request over HTTP (413 beyond it), and the estimated memory the
    # parsed documents kept for reuse may hold.
    max_request_bytes: int = 1024 * 1024
    document_cache_bytes: int = 64 * 1024 * 1024
    # uvicorn's line per request; off where a proxy in front logs the requests (it costs ~2% of
    # the process's time at a few thousand requests a second).
    access_log: bool = True
    requests_per_second: float = 50.0
    request_burst: int = 200
    # The media routes (segments, playlists, part uploads of the embedded store) have a bucket of
    # their own: a player fetches many segments per reel.
    media_requests_per_second: float = 200.0
    media_request_burst: int = 1000
    registrations_per_hour: int = 20
    login_failures_per_account: int = 5
    login_failures_per_address: int = 20
    # Comma-separated addresses or networks of the reverse proxies whose X-Forwarded-For is
    # believed; from anyone else the header is ignored and the peer address is the client.
    trusted_proxies: str = ""
    # Who may read /metrics: clients at these addresses or networks, and anyone sending
    # `Authorization: Bearer <metrics_token>`. Empty networks and no token: nobody.
    metrics_networks: str = "127.0.0.0/8,::1"
    metrics_token: str | None = None
    # Who may run introspection (`__schema`, `__type`): everyone, moderators and admins, or
    # nobody. Unset: everyone on the embedded setup (the playground needs it), staff otherwise.
    introspection: Literal["public", "staff", "off"] | None = None
    # Fake engagement and analytics: anonymous views counted per client address and reel in a
    # view window (a household or an office shares one), and how often the scheduled jobs run.
    anonymous_views_per_address: int = Field(default=10, ge=1)
    engagement_scoring_interval_s: float = Field(default=60.0, gt=0)
    analytics_interval_s: float = Field(default=900.0, gt=0)

    @field_validator(
        "database_url",
        "redis_url",
        "neo4j_url",
        "s3_endpoint_url",
        "media_base_url",
        "blocked_terms_file",
        "held_terms_file",
        "moderation_hook",
        "metrics_token",
        "introspection",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @cached_property
    def trusted_proxy_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        return _networks(self.trusted_proxies, "REELS_TRUSTED_PROXIES")

    @cached_property
    def metrics_network_list(self) -> tuple[IPv4Network | IPv6Network, ...]:
        return _networks(self.metrics_networks, "REELS_METRICS_NETWORKS")

    @property
    def introspection_access(self) -> Literal["public", "staff", "off"]:
        if self.introspection is not None:
            return self.introspection
        return "public" if self.embedded else "staff"

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url is None:
            return f"sqlite+aiosqlite:///{(self.data_dir / 'reels.db').resolve()}"
        url = _asyncpg_url(self.database_url)
        if not url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            raise ConfigError(f"REELS_DATABASE_URL must be a postgresql:// or sqlite+aiosqlite:// URL, got {url!r}")
        return url

    @cached_property
    def resolved_replica_urls(self) -> list[str]:
        urls = [_asyncpg_url(url.strip()) for url in self.database_replica_urls.split(",") if url.strip()]
        if urls and not self.resolved_database_url.startswith("postgresql+asyncpg://"):
            raise ConfigError("REELS_DATABASE_REPLICA_URLS needs a PostgreSQL REELS_DATABASE_URL")
        if not all(url.startswith("postgresql+asyncpg://") for url in urls):
            raise ConfigError(
                f"REELS_DATABASE_REPLICA_URLS must be postgresql:// URLs, got {self.database_replica_urls!r}"
            )
        return urls

    @property
    def embedded(self) -> bool:
        """True when no outside service is configured at all (the demo and a fresh checkout)."""
        return not any((self.database_url, self.redis_url, self.neo4j_url, self.s3_endpoint_url))

    def jwt_secret(self) -> str:
        """The signing secret: REELS_SECRET_KEY, or one generated once and kept in the data dir.

        A shared secret is required as soon as any service is configured: several API
        processes must verify each other's tokens.
        """
        if self.secret_key:
            if len(self.secret_key) < 32:
                raise ConfigError("REELS_SECRET_KEY must be at least 32 characters")
            return self.secret_key
        if not self.embedded:
            raise ConfigError("REELS_SECRET_KEY is required when any outside service is configured")
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()

    def validate_services(self) -> None:
        """Fail early, naming the variable, on a half-configured service."""
        _ = self.resolved_database_url
        _ = self.trusted_proxy_networks
        _ = self.metrics_network_list
        if self.metrics_token is not None and len(self.metrics_token) < 16:
            raise ConfigError("REELS_METRICS_TOKEN must be at least 16 characters")
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://", "redis+cluster://")):
            raise ConfigError(
                f"REELS_REDIS_URL must be a redis:// or redis+cluster://host:port[,host:port...] URL, got {self.redis_url!r}"
            )
        if self.redis_url and self.redis_url.startswith("redis+cluster://"):
            seeds = self.redis_url.removeprefix("redis+cluster://").split(",")
            if not all(_HOST_PORT.fullmatch(seed.strip()) for seed in seeds):
                raise ConfigError(f"REELS_REDIS_URL's cluster seeds must be host:port, got {self.redis_url!r}")
        _ = self.resolved_replica_urls
        if self.neo4j_url and not self.neo4j_url.startswith(("bolt://", "neo4j://", "bolt+s://", "neo4j+s://")):
            raise ConfigError(f"REELS_NEO4J_URL must be a bolt:// or neo4j:// URL, got {self.neo4j_url!r}")
        if self.s3_endpoint_url and not self.s3_bucket:
            raise ConfigError("REELS_S3_BUCKET is required when REELS_S3_ENDPOINT_URL is set")
        if self.s3_bucket and not self.s3_endpoint_url:
            raise ConfigError("REELS_S3_ENDPOINT_URL is required when REELS_S3_BUCKET is set")
        self.jwt_secret()


def _networks(value: str, variable: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """Comma-separated addresses or networks (`10.0.0.0/8`, `::1`)."""
    try:
        return tuple(ip_network(entry.strip()) for entry in value.split(",") if entry.strip())
    except ValueError as error:
        raise ConfigError(f"{variable} must be addresses or networks: {error}") from None

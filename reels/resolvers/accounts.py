"""Accounts: register, login, the viewer, users by name, and any entity by id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select

from reels.db import EntityRead, engine_of
from reels.domain import accounts, avatars
from reels.domain.errors import DomainError, not_found
from reels.domain.models import Role, User
from reels.resolvers.context import Context
from reels.resolvers.reels import visible_reel


@dataclass(frozen=True)
class SignedIn:
    token: str
    user: User


def credential_errors(username: str, password: str) -> list[DomainError]:
    """Every mistake in the credentials at once (registering raises only the first)."""
    return accounts.validate_credentials(username, password)


def _signed_in(context: Context, user: User) -> SignedIn:
    ttl_s = context.platform.settings.access_token_ttl_s
    return SignedIn(token=accounts.issue_token(user, context.platform.jwt_secret, ttl_s), user=user)


async def register(
    context: Context, username: str, password: str, display_name: str | None, region: str | None = None
) -> SignedIn:
    platform = context.platform
    limit = accounts.RegistrationLimit(per_hour=platform.settings.registrations_per_hour)
    await accounts.check_registration_rate(platform.kv, limit, context.client_address)
    user = await accounts.register(platform.sessions, username, password, display_name, region=region)
    return _signed_in(context, user)


async def login(context: Context, username: str, password: str) -> SignedIn:
    platform = context.platform
    throttle = accounts.LoginThrottle(
        failures_per_account=platform.settings.login_failures_per_account,
        failures_per_address=platform.settings.login_failures_per_address,
    )
    user = await accounts.authenticate(
        platform.sessions, platform.kv, throttle, username, password, context.client_address
    )
    return _signed_in(context, user)


async def update_profile(context: Context, *, display_name: str | None, bio: str | None, region: str | None) -> User:
    return await accounts.update_profile(
        context.platform.sessions, context.signed_in, display_name=display_name, bio=bio, region=region
    )


async def set_avatar_from_reel(context: Context, reel_id: int | None, at_ms: int) -> User:
    reel = await visible_reel(context, reel_id)
    if reel is None:
        raise not_found("reel", "reel_id")
    platform = context.platform
    return await avatars.set_from_reel(platform.sessions, platform.store, platform.kv, context.signed_in, reel, at_ms)


async def avatar_url(context: Context, key: str | None, taken_from: int | None) -> str | None:
    if key is None:
        return None
    reel = await context.loaders.reel_by_id.load(taken_from) if taken_from is not None else None
    return context.platform.store.url(key) if avatars.shown(reel) else None


async def logout(context: Context) -> bool:
    """Revoke the token this request was signed in with (on HTTP and on every open socket)."""
    if context.access_token is None:
        raise RuntimeError("logout must be guarded by a permission class")
    await accounts.revoke_token(context.platform.sessions, context.platform.pubsub, context.access_token)
    return True


# Built once (a profile built this statement afresh on every request: ~7 % of its CPU), and run
# on the driver.
_USER_BY_USERNAME = EntityRead(select(User).where(User.username == bindparam("username")))


async def user_by_username(context: Context, username: str) -> User | None:
    name = accounts.normalize_username(username)
    if not accounts.USERNAME_PATTERN.match(name):
        return None
    user: User | None = await _USER_BY_USERNAME.one_or_none(engine_of(context.reads), {"username": name})
    if user is None or (await context.loaders.viewer_relation_to.load(user.id)).blocked_either_way:
        return None
    context.loaders.user_by_id.prime(user.id, user)
    return user


async def node(context: Context, type_name: str, db_id: int) -> Any:
    """The row of any entity by type and id; None for an unknown or invisible one."""
    loaders = context.loaders
    if type_name == "Reel":
        return await visible_reel(context, db_id)
    if type_name == "User":
        user = await loaders.user_by_id.load(db_id)
        return user if user and not (await loaders.viewer_relation_to.load(db_id)).blocked_either_way else None
    if type_name == "Comment":
        comment = await loaders.comment_by_id.load(db_id)
        if comment is None or comment.deleted_at is not None or await visible_reel(context, comment.reel_id) is None:
            return None
        return comment
    if type_name == "Hashtag":
        return await loaders.hashtag_by_id.load(db_id)
    if type_name == "Audio":
        return await loaders.audio_by_id.load(db_id)
    if type_name == "Report":
        return await loaders.report_by_id.load(db_id) if accounts.can_moderate(context.viewer) else None
    if type_name == "ModerationLogEntry":
        is_admin = context.viewer is not None and context.viewer.role == Role.ADMIN
        return await loaders.moderation_log_by_id.load(db_id) if is_admin else None
    return None

"""Accounts: registration, password login, access tokens, roles and suspension."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import CursorResult, bindparam, delete, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from reels.db import EntityRead
from reels.domain import audit, search
from reels.domain.errors import AuthenticationError, DomainError, ErrorCode, not_found, rate_limited
from reels.domain.events import SessionChanged, SessionReason, publish
from reels.domain.models import BIO_MAX_CHARS, AuditAction, RevokedToken, Role, User
from reels.ports.kv import KeyValue
from reels.ports.pubsub import PubSub, PubSubUnavailable

log = logging.getLogger(__name__)

USERNAME_PATTERN = re.compile(r"^[a-z0-9_.]{3,30}$")
PASSWORD_MIN, PASSWORD_MAX = 10, 200
DISPLAY_NAME_MAX = 60
# Not allowed in a display name: control characters (Cc), line and paragraph separators, and
# the bidirectional controls that can make a name read as someone else's ("\u202e" reverses
# what follows). Zero-width joiners and variation selectors stay: emoji sequences need them.
UNSHOWABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
JWT_ALGORITHM = "HS256"

_hasher = PasswordHasher()
# Verifying against this keeps a login for an unknown user as slow as for a known one.
_DUMMY_HASH = _hasher.hash("reels-timing-equaliser")
# argon2 runs in threads of its own, at most one per core: a flood of logins neither stalls the
# event loop nor takes the default pool's threads from everything else.
_HASHING = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="argon2")


def normalize_username(username: str) -> str:
    return username.strip().lower()


def validate_credentials(username: str, password: str) -> list[DomainError]:
    errors = []
    if not USERNAME_PATTERN.match(normalize_username(username)):
        errors.append(
            DomainError(ErrorCode.INVALID, "username must be 3–30 characters of a–z, 0–9, '_' and '.'", "username")
        )
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        errors.append(
            DomainError(ErrorCode.INVALID, f"password must be {PASSWORD_MIN}–{PASSWORD_MAX} characters", "password")
        )
    return errors


async def register(
    sessions: async_sessionmaker[AsyncSession],
    username: str,
    password: str,
    display_name: str | None = None,
    role: Role = Role.USER,
    region: str | None = None,
) -> User:
    """Create an account; raises the first DomainError (use `validate_credentials` for all)."""
    if errors := validate_credentials(username, password):
        raise errors[0]
    name = normalize_username(username)
    display = (display_name or "").strip() or name
    if error := display_name_error(display):
        raise error
    region_code = _region_code(region) if region is not None else None
    async with sessions() as session:
        if await session.scalar(select(User.id).where(User.username == name)) is not None:
            raise _taken()
    user = User(
        username=name,
        display_name=display,
        role=role,
        region=region_code,
        password_hash=await asyncio.get_running_loop().run_in_executor(_HASHING, _hasher.hash, password),
    )
    try:
        async with sessions.begin() as session:
            session.add(user)
            await session.flush()
            await search.index_names(session, user)
    except IntegrityError:  # a concurrent registration won the race
        raise _taken() from None
    return user


def display_name_error(display: str) -> DomainError | None:
    """Why `display` cannot be a display name (too long, or holding control or bidi-override
    characters), or None when it can."""
    if len(display) > DISPLAY_NAME_MAX:
        return DomainError(
            ErrorCode.TOO_LONG, f"display name is limited to {DISPLAY_NAME_MAX} characters", "display_name"
        )
    if UNSHOWABLE.search(display):
        return DomainError(
            ErrorCode.INVALID,
            "display name may not hold control characters, line breaks or text-direction overrides",
            "display_name",
        )
    return None


REGION_PATTERN = re.compile(r"[A-Za-z]{2}")


async def update_profile(
    sessions: async_sessionmaker[AsyncSession],
    user: User,
    *,
    display_name: str | None,
    bio: str | None,
    region: str | None,
) -> User:
    """Change what was given; an empty region clears it. Raises the first DomainError."""
    values: dict[str, str | None] = {}
    if display_name is not None:
        display = display_name.strip()
        if not display:
            raise DomainError(ErrorCode.INVALID, "display name cannot be empty", "display_name")
        if error := display_name_error(display):
            raise error
        values["display_name"] = display
    if bio is not None:
        text = bio.strip()
        if len(text) > BIO_MAX_CHARS:
            raise DomainError(ErrorCode.TOO_LONG, f"a bio is limited to {BIO_MAX_CHARS} characters", "bio")
        values["bio"] = text
    if region is not None:
        values["region"] = _region_code(region)
    async with sessions.begin() as session:
        row = await session.get(User, user.id)
        if row is None:
            raise DomainError(ErrorCode.NOT_FOUND, "user not found")
        for name, value in values.items():
            setattr(row, name, value)
        if "display_name" in values:
            await session.flush()
            await search.index_names(session, row)
    return row


def _region_code(region: str) -> str | None:
    """An ISO 3166-1 alpha-2 code, upper-cased; None for an empty one (no region)."""
    code = region.strip()
    if code and not REGION_PATTERN.fullmatch(code):
        raise DomainError(ErrorCode.INVALID, "region must be an ISO 3166-1 alpha-2 code, e.g. IN", "region")
    return code.upper() or None


def _taken() -> DomainError:
    return DomainError(ErrorCode.TAKEN, "this username is taken", "username")


@dataclass(frozen=True)
class RegistrationLimit:
    """Registrations per client address: a token bucket of `per_hour`, refilled over the hour."""

    per_hour: int


async def check_registration_rate(kv: KeyValue, limit: RegistrationLimit, address: str) -> None:
    taken, retry_after = await kv.take_token(
        f"ratelimit:register:{address}", rate_per_s=limit.per_hour / 3600, burst=limit.per_hour
    )
    if not taken:
        raise rate_limited("too many registrations from this address", retry_after)


@dataclass(frozen=True)
class LoginThrottle:
    """Failed logins per account and per client address: `free_failures` in `window_s`, then
    each further failure makes that account (or address) wait, doubling from 1 s up to
    `max_wait_s`; a correct password during the wait is refused too, so guessing gains nothing."""

    failures_per_account: int
    failures_per_address: int
    window_s: float = 900.0
    max_wait_s: float = 900.0


def _failures_key(scope: str, subject: str) -> str:
    return f"login:failures:{scope}:{subject}"


def _wait_key(scope: str, subject: str) -> str:
    return f"login:wait:{scope}:{subject}"


async def _check_login_wait(kv: KeyValue, subjects: dict[str, str]) -> None:
    """RATE_LIMITED while the account or the address waits out its backoff."""
    waits_until = await kv.get_many([_wait_key(scope, subject) for scope, subject in subjects.items()])
    remaining = max((float(until) - time.time() for until in waits_until if until is not None), default=0.0)
    if remaining > 0:
        raise rate_limited("too many failed logins", remaining)


async def _count_login_failure(kv: KeyValue, throttle: LoginThrottle, subjects: dict[str, str]) -> None:
    free = {"account": throttle.failures_per_account, "address": throttle.failures_per_address}
    for scope, subject in subjects.items():
        failures = await kv.incr(_failures_key(scope, subject), ttl_s=throttle.window_s)
        if failures > free[scope]:
            wait_s = min(throttle.max_wait_s, 2.0 ** (failures - free[scope] - 1))
            await kv.set(_wait_key(scope, subject), str(time.time() + wait_s), ttl_s=wait_s)


async def authenticate(
    sessions: async_sessionmaker[AsyncSession],
    kv: KeyValue,
    throttle: LoginThrottle,
    username: str,
    password: str,
    address: str,
) -> User:
    """The account of these credentials; failures are throttled per account and per address."""
    name = normalize_username(username)
    subjects = {"account": name, "address": address}
    await _check_login_wait(kv, subjects)
    async with sessions() as session:
        user = await session.scalar(select(User).where(User.username == name))
    try:
        stored_hash = user.password_hash if user else _DUMMY_HASH
        await asyncio.get_running_loop().run_in_executor(_HASHING, _hasher.verify, stored_hash, password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None:
        await _count_login_failure(kv, throttle, subjects)
        raise DomainError(ErrorCode.INVALID_CREDENTIALS, "wrong username or password")
    await kv.delete(_failures_key("account", name))
    if user.suspended_at is not None:
        # The same code a suspended account's token gets on every request.
        raise DomainError(ErrorCode.UNAUTHENTICATED, "this account is suspended")
    return user


@dataclass(frozen=True)
class AccessToken:
    """What a verified token says: whose it is, its id (for revocation) and when it expires."""

    user_id: int
    token_id: str
    expires_at: datetime


def issue_token(user: User, secret: str, ttl_s: int) -> str:
    now = datetime.now(UTC)
    claims = {"sub": str(user.id), "jti": uuid.uuid4().hex, "iat": now, "exp": now + timedelta(seconds=ttl_s)}
    return jwt.encode(claims, secret, algorithm=JWT_ALGORITHM)


def read_token(token: str, secret: str) -> AccessToken:
    """A token's claims once its signature and expiry hold; AuthenticationError for a forged or
    expired one (revocation and the account are checked by `authorize`)."""
    access = _verified(token, secret)
    if access.expires_at <= datetime.now(UTC):  # a verdict may be remembered past the token's life
        raise AuthenticationError("the access token has expired; log in again")
    return access


# A client sends the same token with every request; checking its signature again each time was
# a few per cent of a request's CPU. Only good signatures are remembered (a failure raises).
@functools.lru_cache(maxsize=8192)
def _verified(token: str, secret: str) -> AccessToken:
    try:
        claims = jwt.decode(token, secret, algorithms=[JWT_ALGORITHM], options={"require": ["exp", "sub"]})
        token_id = claims.get("jti")
        if not isinstance(token_id, str):  # every token is revocable, so it must have an id
            raise ValueError("the token has no id")
        return AccessToken(int(claims["sub"]), token_id, datetime.fromtimestamp(claims["exp"], UTC))
    except jwt.ExpiredSignatureError:
        raise AuthenticationError("the access token has expired; log in again") from None
    except (jwt.InvalidTokenError, ValueError, TypeError):
        raise AuthenticationError("the access token is not valid") from None


# Every signed-in request runs it: built once, and run on the driver (db.DriverStatement). The
# token's revocation is read with the account, in the same round trip.
_ACCOUNT = EntityRead(
    select(User, exists().where(RevokedToken.token_id == bindparam("token_id")).label("revoked")).where(
        User.id == bindparam("user_id")
    )
)


async def authorize(primary: AsyncEngine, access: AccessToken) -> User:
    """The account a verified token acts for, read from the primary (`primary`, a read engine);
    AuthenticationError once the account is gone or suspended or the token is revoked."""
    rows = await _ACCOUNT.all(primary, {"user_id": access.user_id, "token_id": access.token_id})
    if not rows:
        raise AuthenticationError("the access token's account no longer exists")
    ((found, revoked),) = rows
    user: User = found
    if revoked:
        raise AuthenticationError("the access token was revoked; log in again")
    if user.suspended_at is not None:
        raise AuthenticationError("this account is suspended")
    return user


async def revoke_token(sessions: async_sessionmaker[AsyncSession], bus: PubSub, access: AccessToken) -> None:
    """Refuse the token from now on, everywhere: its revocation is kept as long as the token would
    have lived (`prune_revocations`), and the user's open sockets are told to check theirs."""
    if access.expires_at > datetime.now(UTC):
        async with sessions() as session:
            session.add(RevokedToken(token_id=access.token_id, expires_at=access.expires_at))
            try:
                await session.commit()
            except IntegrityError:
                pass  # revoked already: two logouts with the same token raced
    await session_changed(bus, access.user_id, SessionReason.TOKEN_REVOKED)


async def prune_revocations(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Forget the revocations of tokens that have expired since (they are refused as expired);
    returns how many."""
    async with sessions() as session:
        result = await session.execute(delete(RevokedToken).where(RevokedToken.expires_at <= datetime.now(UTC)))
        await session.commit()
    return cast(CursorResult[Any], result).rowcount  # DML gives a CursorResult


async def set_role(
    sessions: async_sessionmaker[AsyncSession],
    bus: PubSub,
    role: Role,
    *,
    username: str | None = None,
    user_id: int | None = None,
    by: User | None = None,
) -> User:
    """Give the account (by username or id) `role`, logged as `by` an admin or, without one, as
    the command line; its open sockets run their next operations with it."""
    if by is not None and by.role != Role.ADMIN:
        raise DomainError(ErrorCode.FORBIDDEN, "only an admin can change roles")
    found = User.username == normalize_username(username) if username is not None else User.id == user_id
    async with sessions.begin() as session:
        user = await session.scalar(select(User).where(found)) if username is not None or user_id else None
        if user is None:
            raise not_found("user", "username" if username is not None else "user_id")
        if by is not None and user.id == by.id:
            raise DomainError(ErrorCode.INVALID, "you cannot change your own role", "user_id")
        if user.role != role:
            why = f"{user.role.value} → {role.value}"
            user.role = role
            audit.record(
                session,
                AuditAction.SET_ROLE,
                why,
                by=by,
                check=None if by is not None else audit.COMMAND_LINE,
                user_id=user.id,
            )
    await session_changed(bus, user.id, SessionReason.ROLE_CHANGED)
    return user


async def session_changed(bus: PubSub, user_id: int, reason: SessionReason) -> None:
    """Tell every API process that the user's open sockets must authorize again."""
    try:
        await publish(bus, SessionChanged(user_id, reason))
    except PubSubUnavailable:
        # HTTP requests check the account on each request already; sockets opened from now on do too.
        log.warning("open sockets of user %s were not told of %s: pub/sub is unreachable", user_id, reason)


def can_moderate(user: User | None) -> bool:
    return user is not None and user.role in (Role.MODERATOR, Role.ADMIN)

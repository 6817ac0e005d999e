"""Accounts: registration, password login, access tokens, roles and suspension."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reels.domain.errors import AuthenticationError, DomainError, ErrorCode
from reels.domain.models import Role, User

USERNAME_PATTERN = re.compile(r"^[a-z0-9_.]{3,30}$")
PASSWORD_MIN, PASSWORD_MAX = 10, 200
DISPLAY_NAME_MAX = 60
JWT_ALGORITHM = "HS256"

_hasher = PasswordHasher()
# Verifying against this keeps a login for an unknown user as slow as for a known one.
_DUMMY_HASH = _hasher.hash("reels-timing-equaliser")


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
) -> User:
    """Create an account; raises the first DomainError (use `validate_credentials` for all)."""
    if errors := validate_credentials(username, password):
        raise errors[0]
    name = normalize_username(username)
    display = (display_name or "").strip() or name
    if len(display) > DISPLAY_NAME_MAX:
        raise DomainError(
            ErrorCode.TOO_LONG, f"display name is limited to {DISPLAY_NAME_MAX} characters", "display_name"
        )
    async with sessions() as session:
        if await session.scalar(select(User.id).where(User.username == name)) is not None:
            raise _taken()
    user = User(
        username=name,
        display_name=display,
        role=role,
        password_hash=await asyncio.to_thread(_hasher.hash, password),
    )
    try:
        async with sessions.begin() as session:
            session.add(user)
    except IntegrityError:  # a concurrent registration won the race
        raise _taken() from None
    return user


def _taken() -> DomainError:
    return DomainError(ErrorCode.TAKEN, "this username is taken", "username")


async def authenticate(sessions: async_sessionmaker[AsyncSession], username: str, password: str) -> User:
    async with sessions() as session:
        user = await session.scalar(select(User).where(User.username == normalize_username(username)))
    try:
        await asyncio.to_thread(_hasher.verify, user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None:
        raise DomainError(ErrorCode.INVALID_CREDENTIALS, "wrong username or password")
    if user.suspended_at is not None:
        # The same code a suspended account's token gets on every request.
        raise DomainError(ErrorCode.UNAUTHENTICATED, "this account is suspended")
    return user


def issue_token(user: User, secret: str, ttl_s: int) -> str:
    now = datetime.now(UTC)
    claims = {"sub": str(user.id), "iat": now, "exp": now + timedelta(seconds=ttl_s)}
    return jwt.encode(claims, secret, algorithm=JWT_ALGORITHM)


def user_id_from_token(token: str, secret: str) -> int:
    """The user id a token was issued to; AuthenticationError for a forged or expired token."""
    try:
        claims = jwt.decode(token, secret, algorithms=[JWT_ALGORITHM], options={"require": ["exp", "sub"]})
        return int(claims["sub"])
    except jwt.ExpiredSignatureError:
        raise AuthenticationError("the access token has expired; log in again") from None
    except (jwt.InvalidTokenError, ValueError):
        raise AuthenticationError("the access token is not valid") from None


async def user_for_token(session: AsyncSession, token: str, secret: str) -> User:
    user = await session.get(User, user_id_from_token(token, secret))
    if user is None:
        raise AuthenticationError("the access token's account no longer exists")
    if user.suspended_at is not None:
        raise AuthenticationError("this account is suspended")
    return user


def can_moderate(user: User | None) -> bool:
    return user is not None and user.role in (Role.MODERATOR, Role.ADMIN)

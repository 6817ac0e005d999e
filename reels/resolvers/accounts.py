"""Accounts: register, login, viewer, users by name, and `node(id:)`."""

from __future__ import annotations

from sqlalchemy import select
from strawberry.types import Info

from reels.domain import accounts
from reels.domain.models import User as UserRow
from reels.resolvers.mutations import attempt, user_error
from reels.schema.context import Context
from reels.schema.globalid import from_global_id
from reels.schema.inputs import LoginInput, RegisterInput
from reels.schema.payloads import AuthPayload
from reels.schema.types import Audio, Comment, Hashtag, Node, Report, User


def _signed_in(info: Info[Context, None], row: UserRow) -> AuthPayload:
    settings = info.context.platform.settings
    token = accounts.issue_token(row, info.context.platform.jwt_secret, settings.access_token_ttl_s)
    return AuthPayload(token=token, user=User.from_row(row))


async def register(info: Info[Context, None], input: RegisterInput) -> AuthPayload:
    if errors := accounts.validate_credentials(input.username, input.password):
        return AuthPayload(user_errors=[user_error(error) for error in errors])

    async def action() -> AuthPayload:
        async with info.context.platform.sessions() as session:
            row = await accounts.register(session, input.username, input.password, input.display_name)
        return _signed_in(info, row)

    return await attempt(AuthPayload, action)


async def login(info: Info[Context, None], input: LoginInput) -> AuthPayload:
    async def action() -> AuthPayload:
        async with info.context.platform.sessions() as session:
            row = await accounts.authenticate(session, input.username, input.password)
        return _signed_in(info, row)

    return await attempt(AuthPayload, action)


def viewer(info: Info[Context, None]) -> User | None:
    return User.from_row(info.context.viewer) if info.context.viewer else None


async def user_by_username(info: Info[Context, None], username: str) -> User | None:
    name = accounts.normalize_username(username)
    if not accounts.USERNAME_PATTERN.match(name):
        return None
    async with info.context.platform.sessions() as session:
        row = await session.scalar(select(UserRow).where(UserRow.username == name))
    if row is None or await info.context.loaders.viewer_blocked_either_way.load(row.id):
        return None
    info.context.loaders.user_by_id.prime(row.id, row)
    return User.from_row(row)


async def node(info: Info[Context, None], id: str) -> Node | None:
    """Any entity by global id; null for a malformed, unknown or invisible one."""
    from reels.resolvers import reels

    parsed = from_global_id(id)
    if parsed is None:
        return None
    type_name, db_id = parsed
    loaders = info.context.loaders
    if type_name == "Reel":
        return await reels.visible_reel(info, db_id)
    if type_name == "User":
        row = await loaders.user_by_id.load(db_id)
        return User.from_row(row) if row and not await loaders.viewer_blocked_either_way.load(db_id) else None
    if type_name == "Comment":
        row = await loaders.comment_by_id.load(db_id)
        if row is None or row.deleted_at is not None or await reels.visible_reel(info, row.reel_id) is None:
            return None
        return Comment.from_row(row)
    if type_name == "Hashtag":
        row = await loaders.hashtag_by_id.load(db_id)
        return Hashtag.from_row(row) if row else None
    if type_name == "Audio":
        row = await loaders.audio_by_id.load(db_id)
        return Audio.from_row(row) if row else None
    if type_name == "Report":
        if not accounts.can_moderate(info.context.viewer):
            return None
        row = await loaders.report_by_id.load(db_id)
        return Report.from_row(row) if row else None
    return None

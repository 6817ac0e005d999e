"""JSON columns are decoded by orjson, and by json where orjson refuses what json wrote: a value
reads back as it was stored either way."""

from __future__ import annotations

import math
from pathlib import Path

from sqlalchemy import select

from reels.db import Base, create_engine, session_factory
from reels.domain.models import Reel, ReelStatus, User


async def test_a_json_column_reads_back_what_json_wrote(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'reels.db'}")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        plain = {"hls": "reels/1/hls/master.m3u8", "renditions": [{"width": 720, "bandwidth": 3_000_000}]}
        refused_by_orjson = {"fps": math.inf, "duration": -math.inf}  # json writes them; orjson reads neither
        async with session_factory(engine).begin() as session:
            creator = User(username="maker", display_name="maker", password_hash="-")
            session.add(creator)
            await session.flush()
            for media in (plain, refused_by_orjson):
                session.add(Reel(creator_id=creator.id, caption="", status=ReelStatus.READY, media=media))
        async with session_factory(engine)() as session:
            stored = (await session.scalars(select(Reel.media).order_by(Reel.id))).all()
        assert stored == [plain, refused_by_orjson]
    finally:
        await engine.dispose()

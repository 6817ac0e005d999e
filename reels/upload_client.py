"""The client side of the upload protocol: PUT each part of a file to its presigned URL and
collect the ETags for completeUpload. Used by the demo, the benchmarks and the tests, the way a
mobile app does it."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import httpx


class PartUrl(Protocol):
    @property
    def part_number(self) -> int: ...

    @property
    def url(self) -> str: ...


async def put_parts(
    client: httpx.AsyncClient, path: Path, part_size: int, parts: Iterable[PartUrl]
) -> list[tuple[int, str]]:
    """PUT the given parts of `path`; returns (part number, etag) pairs."""
    done = []
    with path.open("rb") as source:
        for part in parts:
            source.seek((part.part_number - 1) * part_size)
            response = await client.put(part.url, content=source.read(part_size))
            response.raise_for_status()
            done.append((part.part_number, response.headers["etag"]))
    return done

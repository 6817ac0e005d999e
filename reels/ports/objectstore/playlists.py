"""Signed URLs inside HLS playlists.

A playlist names its renditions, segments and init sections by relative URI. Behind a public CDN
that just works; behind signed URLs it does not, because the signature in the playlist's query
string is lost when the player resolves `720p/index.m3u8` against it. Serving a playlist through
`sign_playlist` replaces each relative URI by the signed URL of the object it names.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable

from reels.ports.objectstore.base import InvalidKey, check_key

_URI_ATTRIBUTE = re.compile(r'URI="([^"]*)"')


def sign_playlist(text: str, playlist_key: str, url_for: Callable[[str], str]) -> str:
    """`text` with every relative URI resolved against `playlist_key` and passed to `url_for`."""
    folder = posixpath.dirname(playlist_key)

    def sign(uri: str) -> str:
        if not uri or "://" in uri or uri.startswith("/"):
            return uri
        try:
            # No normalisation: `..` fails the key rule, so a playlist can only grant access to
            # objects in its own folder or below.
            return url_for(check_key(posixpath.join(folder, uri)))
        except InvalidKey:
            return uri

    lines = []
    for line in text.splitlines():
        if line.startswith("#"):
            lines.append(_URI_ATTRIBUTE.sub(lambda match: f'URI="{sign(match[1])}"', line))
        else:
            lines.append(sign(line.strip()) if line.strip() else line)
    return "\n".join(lines) + "\n"

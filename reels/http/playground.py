"""The GraphQL playground at /graphql: GraphiQL served from the package, so it works offline.

The page loads only files under /static/: GraphiQL, its explorer plugin and React, vendored
by scripts/vendor_playground.py (versions and licences in static/graphiql/VENDORED.md), and its
own playground.js and .css. It opens with one example tab per area of the API and has a sign-in
bar: the token goes into every request's Authorization header and into the websocket's
connection_init payload, so subscriptions run from the page as the signed-in user.
"""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_ROOT = Path(__file__).parent / "static"
URL_PREFIX = "/static"
#: the script's output: one folder per package and version, so a file's URL never changes content
VENDORED_FOLDER = "graphiql"
#: every folder of vendored packages under /static: the playground's and the web client's
VENDORED_ROOTS = ((VENDORED_FOLDER,), ("web", "vendor"))

STYLESHEETS = [
    "graphiql/graphiql-3.8.3/graphiql.min.css",
    "graphiql/graphiql-plugin-explorer-1.0.2/style.css",
    "playground/playground.css",
]
SCRIPTS = [
    "graphiql/react-18.2.0/react.production.min.js",
    "graphiql/react-dom-18.2.0/react-dom.production.min.js",
    "graphiql/graphiql-3.8.3/graphiql.min.js",
    "graphiql/graphiql-plugin-explorer-1.0.2/index.umd.js",
    "playground/playground.js",
]

# Nothing but this server: scripts and styles from /static/, requests to /graphql (HTTP and
# websocket). GraphiQL styles its widgets inline and embeds its fonts as data: URLs.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)


@dataclass(frozen=True)
class ExampleTab:
    query: str
    variables: dict[str, Any]


PLACEHOLDER_REEL = "paste a reel id from the Feed tab"

EXAMPLE_TABS = [
    ExampleTab(
        """# The For You feed. Works anonymously (trending and new reels); sign in above for your own.
# Each edge says why the reel is there (`reason`); pass `after` to page, leave it out to refresh.
# Run Feed, then copy a reel's `id` into the other tabs' variables.
query Feed($first: Int, $after: String, $context: FeedContext) {
  feed(first: $first, after: $after, context: $context) {
    edges {
      cursor
      reason { source score }
      node {
        id
        caption
        creator { username displayName }
        hashtags { name }
        audio { id title }
        durationMs
        thumbnailUrl
        playback { hlsUrl startupSegmentUrl renditions { width height bandwidth } }
        counts { likes views comments shares }
        viewerHasLiked
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}

query Viewer {
  viewer { id username displayName role followerCount followingCount }
}
""",
        {"first": 10, "after": None, "context": {"network": "FAST", "device": "HIGH", "region": "IN"}},
    ),
    ExampleTab(
        """# Uploading a reel (sign in first):
# 1. CreateUpload answers the part URLs. PUT each part's bytes to its url, e.g.
#      curl -sS -D - -X PUT --data-binary @part1 "<url>"
#    and note the ETag response header of each.
# 2. CompleteUpload with every part's number and etag; processing starts.
# 3. ReelStatus follows it live until READY (or FAILED). ResumeUpload lists the parts still missing.
# 4. Once READY, SetAvatar makes the frame at `atMs` your avatar.
mutation CreateUpload($upload: CreateUploadInput!) {
  createUpload(input: $upload) {
    reel { id status }
    uploadId
    partSize
    parts { partNumber url }
    userErrors { field message code }
  }
}

mutation CompleteUpload($complete: CompleteUploadInput!) {
  completeUpload(input: $complete) {
    reel { id status }
    userErrors { field message code }
  }
}

mutation ResumeUpload($resume: ResumeUploadInput!) {
  resumeUpload(input: $resume) {
    uploadId
    missingParts { partNumber url }
    userErrors { field message code }
  }
}

subscription ReelStatus($reelId: ID!) {
  reelStatus(reelId: $reelId) { id status statusReason durationMs playback { hlsUrl } }
}

mutation SetAvatar($avatar: SetAvatarFromReelInput!) {
  setAvatarFromReel(input: $avatar) {
    user { username avatarUrl }
    userErrors { field message code }
  }
}
""",
        {
            "upload": {
                "caption": "first reel #hello",
                "visibility": "PUBLIC",
                "fileSize": 1048576,
                "contentType": "video/mp4",
            },
            "complete": {"uploadId": "the uploadId CreateUpload answered", "parts": [{"partNumber": 1, "etag": "..."}]},
            "resume": {"uploadId": "the uploadId CreateUpload answered"},
            "reelId": "the reel id CreateUpload answered",
            "avatar": {"reelId": "the reel id CreateUpload answered", "atMs": 1000},
        },
    ),
    ExampleTab(
        """# Likes and shares (sign in first). Liking twice counts once.
mutation LikeReel($reel: ReelInput!) {
  likeReel(input: $reel) {
    reel { id viewerHasLiked counts { likes } }
    userErrors { field message code }
  }
}

mutation UnlikeReel($reel: ReelInput!) {
  unlikeReel(input: $reel) {
    reel { id viewerHasLiked counts { likes } }
    userErrors { field message code }
  }
}

mutation ShareReel($reel: ReelInput!) {
  shareReel(input: $reel) {
    reel { id counts { shares } }
    userErrors { field message code }
  }
}
""",
        {"reel": {"reelId": PLACEHOLDER_REEL}},
    ),
    ExampleTab(
        """# Comments: add one (sign in first), read them, delete your own.
mutation AddComment($comment: AddCommentInput!) {
  addComment(input: $comment) {
    comment { id text author { username } createdAt }
    userErrors { field message code }
  }
}

query Comments($reelId: ID!) {
  reel(id: $reelId) {
    id
    comments(first: 20) {
      totalCount
      edges { node { id text author { username } createdAt } }
      pageInfo { hasNextPage endCursor }
    }
  }
}

mutation DeleteComment($delete: DeleteCommentInput!) {
  deleteComment(input: $delete) {
    comment { id }
    userErrors { field message code }
  }
}
""",
        {
            "comment": {"reelId": PLACEHOLDER_REEL, "text": "Nice one!"},
            "reelId": PLACEHOLDER_REEL,
            "delete": {"commentId": "a comment id from Comments"},
        },
    ),
    ExampleTab(
        """# Live counts over the websocket (graphql-transport-ws). Run it, then like or comment on
# the reel from another tab or browser: an event arrives soon after each change.
subscription ReelCounts($reelId: ID!) {
  reelCounts(reelId: $reelId) { reelId likes views comments shares }
}
""",
        {"reelId": PLACEHOLDER_REEL},
    ),
    ExampleTab(
        """# Your notifications as they happen (sign in first): new reels of people you follow,
# follows, likes, comments, and your uploads becoming READY or FAILED.
subscription Notifications {
  notifications {
    kind
    actor { username }
    reel { id caption status }
    createdAt
  }
}
""",
        {},
    ),
    ExampleTab(
        """# Moderation. Anyone signed in may report a reel; the rest is for moderators and admins
# (the demo's `mod` and `admin`).
mutation ReportReel($report: ReportReelInput!) {
  reportReel(input: $report) {
    report { id status }
    userErrors { field message code }
  }
}

query Reports {
  reports(status: OPEN, first: 20) {
    edges {
      node {
        id
        reason
        details
        createdAt
        reporter { username }
        reel { id caption status creator { id username } }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}

mutation ModerateReel($moderate: ModerateReelInput!) {
  moderateReel(input: $moderate) {
    reel { id status statusReason }
    userErrors { field message code }
  }
}

mutation ResolveReport($resolve: ResolveReportInput!) {
  resolveReport(input: $resolve) {
    report { id status }
    userErrors { field message code }
  }
}

mutation SuspendUser($suspend: SuspendUserInput!) {
  suspendUser(input: $suspend) {
    user { id username }
    userErrors { field message code }
  }
}
""",
        {
            "report": {"reelId": PLACEHOLDER_REEL, "reason": "SPAM", "details": "the same clip posted ten times"},
            "moderate": {"reelId": PLACEHOLDER_REEL, "action": "BLOCK", "reason": "spam"},
            "resolve": {"reportId": "a report id from Reports", "status": "ACTIONED", "note": "blocked"},
            "suspend": {"userId": "a user id from Reports", "reason": "repeated spam"},
        },
    ),
    ExampleTab(
        """# People, hashtags, sounds and what is trending.
query Profile($username: String!) {
  user(username: $username) {
    id
    username
    displayName
    followerCount
    followingCount
    viewerIsFollowing
    reels(first: 10) { edges { node { id caption status } } }
  }
}

query Search($query: String!) {
  search(query: $query) {
    users(first: 5) { id username displayName }
    hashtags(first: 5) { name reelCount }
    audio(first: 5) { id title useCount }
    reels(first: 5) { id caption }
  }
}

query Trending {
  trendingHashtags(first: 10) { hashtag { name reelCount } score uses24h }
  trendingAudio(first: 5) { audio { id title } score uses24h }
}

mutation Follow($user: UserInput!) {
  follow(input: $user) {
    user { id username viewerIsFollowing followerCount }
    userErrors { field message code }
  }
}
""",
        {"username": "alice", "query": "a", "user": {"userId": "a user id from Profile"}},
    ),
]


def _page(root_path: str) -> str:
    def url(asset: str) -> str:
        return html.escape(f"{root_path}{URL_PREFIX}/{asset}")

    stylesheets = "\n".join(f'    <link rel="stylesheet" href="{url(asset)}">' for asset in STYLESHEETS)
    scripts = "\n".join(f'    <script src="{url(asset)}"></script>' for asset in SCRIPTS)
    tabs = [{"query": tab.query, "variables": tab.variables} for tab in EXAMPLE_TABS]
    # Inside <script>, only "</" could end the element early; JSON may spell "<" as \u003c.
    tabs_json = json.dumps(tabs).replace("<", "\\u003c")
    return f"""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Reels API playground</title>
    <link rel="icon" href="data:,">
{stylesheets}
  </head>
  <body>
    <header class="playground-bar">
      <h1>Reels API playground</h1>
      <form id="sign-in" class="playground-sign-in" aria-label="Sign in">
        <label>Username <input name="username" autocomplete="username" required></label>
        <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
        <button type="submit" value="login">Sign in</button>
        <button type="submit" value="register">Create account</button>
      </form>
      <div id="signed-in" class="playground-signed-in" hidden>
        Signed in as <strong id="viewer-name"></strong>
        <button type="button" id="sign-out">Sign out</button>
      </div>
      <output id="sign-in-message" class="playground-message" aria-live="polite"></output>
    </header>
    <main id="graphiql" class="playground-editor">Loading…</main>
    <script type="application/json" id="playground-tabs">{tabs_json}</script>
{scripts}
  </body>
</html>
"""


def playground_page(request: Request) -> Response:
    return HTMLResponse(
        _page(request.scope.get("root_path", "")),
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
        },
    )


class PlaygroundFiles(StaticFiles):
    """The vendored files (the playground's and the web client's) live in folders named by
    version: cached for a year. The pages' own files (and VENDORED.md) change with the code:
    revalidated on each load (ETag)."""

    def file_response(
        self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        relative = Path(full_path).resolve().relative_to(STATIC_ROOT.resolve())
        parts = relative.parts
        versioned = any(parts[: len(root)] == root and len(parts) > len(root) + 1 for root in VENDORED_ROOTS)
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable" if versioned else "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def playground_routes() -> list[BaseRoute]:
    return [Mount(URL_PREFIX, app=PlaygroundFiles(directory=STATIC_ROOT), name="static")]

"""Search, explore and a POPULAR page: their SQL count does not grow with the page size."""

from __future__ import annotations

from tests.api.test_query_counts import counting_statements
from tests.conftest import Api
from tests.discovery.conftest import set_counts, tagged_reel

REEL = "id creator { username followerCount } hashtags { name } audio { title } counts { likes }"
QUERIES = {
    # One list a request: two lists' loaders may or may not share a batch, as their timing falls.
    "search reels": f'query D($n: Int!) {{ search(query: "comet") {{ reels(first: $n) {{ {REEL} }} }} }}',
    "search users": 'query D($n: Int!) { search(query: "comet") { users(first: $n) { username followerCount } } }',
    "explore": f"""query D($n: Int!) {{ explore(first: $n) {{ edges {{ node {{
      ... on Reel {{ {REEL} }} ... on HashtagTrend {{ hashtag {{ name reelCount }} }} ... on User {{ username }}
    }} }} }} }}""",
    "popular": f"""query D($n: Int!) {{
      hashtag(name: "comet") {{ reels(first: $n, sort: POPULAR) {{ edges {{ node {{ {REEL} }} }} }} }}
    }}""",
}


def test_discovery_statements_do_not_grow_with_page_size(api: Api) -> None:
    token, _ = api.register("comet_watcher")
    creators = [api.register(f"comet{n}") for n in range(3)]
    for n in range(24):
        creator_token, creator = creators[n % len(creators)]
        reel = tagged_reel(api, creator_token, creator["id"], f"comet {n} #comet")
        set_counts(api, reel, likes=n, views=10 * n)

    def run(query: str, size: int) -> int:
        with counting_statements(api) as statements:
            api.data(query, {"n": size}, token=token)
        return len(statements)

    for name, query in QUERIES.items():
        run(query, 20)  # trends and counts are computed once, then read from the cache
        small, large = run(query, 6), run(query, 20)  # six: explore's first page holds a trending hashtag too
        assert large == small, f"{name}: {small} statements for 6 rows but {large} for 20"

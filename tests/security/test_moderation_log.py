"""The moderation log: every moderator action and automated decision (reports holding a reel)
is recorded with who or which check, what, when and why; only admins read it, nobody edits it.
Admins grant and revoke the moderator role, and that is logged too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reels.settings import Settings
from tests.api.test_query_counts import counting_statements
from tests.conftest import Api, insert_ready_reel, staff_token
from tests.security.conftest import ApiOf
from tests.test_migrations import reels_cli

SET_ROLE = """mutation R($input: SetUserRoleInput!) {
  setUserRole(input: $input) { user { username role } userErrors { field code message } } }"""
REPORT = """mutation P($id: ID!) { reportReel(input: {reelId: $id, reason: SPAM}) { userErrors { code } } }"""
MODERATE = (
    """mutation M($input: ModerateReelInput!) { moderateReel(input: $input) { reel { status } userErrors { code } } }"""
)
SUSPEND = """mutation S($input: SuspendUserInput!) { suspendUser(input: $input) { userErrors { code } } }"""
LOG = """query L($first: Int, $after: String) { moderationLog(first: $first, after: $after) {
  edges { cursor node { id action check reason createdAt actor { username } reel { id status } user { username } } }
  pageInfo { hasNextPage endCursor } } }"""
NODE = "query N($id: ID!) { node(id: $id) { ... on ModerationLogEntry { action } } }"


def _log(api: Api, token: str, first: int = 20, after: str | None = None) -> dict[str, Any]:
    return dict(api.data(LOG, {"first": first, "after": after}, token=token)["moderationLog"])


def test_every_action_is_logged_newest_first_for_admins_only(api_of: ApiOf) -> None:
    with api_of(auto_hide_reports=2) as api:
        admin = staff_token(api, "the_admin", "ADMIN")
        mod_token, mod = api.register("soon_mod")
        _, creator = api.register("creator")
        reported, blocked = (insert_ready_reel(api, creator["id"]) for _ in range(2))

        promoted = api.data(SET_ROLE, {"input": {"userId": mod["id"], "role": "MODERATOR"}}, token=admin)
        assert promoted["setUserRole"] == {"user": {"username": "soon_mod", "role": "MODERATOR"}, "userErrors": []}
        for name in ("reporter1", "reporter2"):  # the second report holds the reel
            assert api.data(REPORT, {"id": reported}, token=api.register(name)[0])["reportReel"]["userErrors"] == []
        for action in ("BLOCK", "RESTORE"):
            moderated = {"reelId": blocked, "action": action, "reason": f"{action.lower()} it"}
            assert api.data(MODERATE, {"input": moderated}, token=mod_token)["moderateReel"]["userErrors"] == []
        suspended = {"userId": creator["id"], "reason": "spam account"}
        assert api.data(SUSPEND, {"input": suspended}, token=mod_token)["suspendUser"]["userErrors"] == []

        first = _log(api, admin, first=3)
        rest = _log(api, admin, first=3, after=first["pageInfo"]["endCursor"])
        assert first["pageInfo"]["hasNextPage"] is True and rest["pageInfo"]["hasNextPage"] is False
        entries = [edge["node"] for edge in first["edges"] + rest["edges"]]
        shown = [
            (e["action"], e["check"], (e["actor"] or {}).get("username"), e["reason"], e["reel"], e["user"])
            for e in entries
        ]
        assert shown == [
            ("SUSPEND_USER", None, "soon_mod", "spam account", None, {"username": "creator"}),
            ("RESTORE_REEL", None, "soon_mod", "restore it", {"id": blocked, "status": "READY"}, None),
            ("BLOCK_REEL", None, "soon_mod", "block it", {"id": blocked, "status": "READY"}, None),
            (
                "HOLD_REEL",
                "reports",
                None,
                "held for review: reported by 2 users",
                {"id": reported, "status": "HELD"},
                None,
            ),
            ("SET_ROLE", None, "the_admin", "USER → MODERATOR", None, {"username": "soon_mod"}),
        ]
        assert all(e["createdAt"].endswith("Z") for e in entries)
        assert api.data(NODE, {"id": entries[0]["id"]}, token=admin)["node"] == {"action": "SUSPEND_USER"}
        assert api.data(NODE, {"id": entries[0]["id"]}, token=mod_token)["node"] is None

        for token, code in ((mod_token, "FORBIDDEN"), (None, "UNAUTHENTICATED")):
            refused = api(LOG, {"first": 5}, token=token)
            assert refused["data"] is None
            assert [e["extensions"]["code"] for e in refused["errors"]] == [code]

        # Nothing in the API writes the log but the actions themselves.
        mutations = api.data("{ __schema { mutationType { fields { name type { ofType { name } } } } } }")
        fields = mutations["__schema"]["mutationType"]["fields"]
        assert not [f for f in fields if "ModerationLog" in f["type"]["ofType"]["name"] or "Log" in f["name"]]


def test_only_admins_change_roles_and_never_their_own(api_of: ApiOf) -> None:
    with api_of() as api:
        admin = staff_token(api, "the_admin", "ADMIN")
        moderator = staff_token(api, "the_mod", "MODERATOR")
        _, user = api.register("someone")
        me = api.data("{ viewer { id } }", token=admin)["viewer"]["id"]

        def refusal(token: str | None, user_id: str, role: str = "MODERATOR") -> list[tuple[list[str], str]]:
            payload = api.data(SET_ROLE, {"input": {"userId": user_id, "role": role}}, token=token)["setUserRole"]
            assert payload["user"] is None
            return [(e["field"], e["code"]) for e in payload["userErrors"]]

        assert refusal(moderator, user["id"]) == [([], "FORBIDDEN")]
        assert refusal(None, user["id"]) == [([], "UNAUTHENTICATED")]
        assert refusal(admin, me, "USER") == [(["input", "userId"], "INVALID")]
        assert refusal(admin, "VXNlcjo5OTk5") == [(["input", "userId"], "NOT_FOUND")]
        assert refusal(admin, "not an id") == [(["input", "userId"], "NOT_FOUND")]
        assert _log(api, admin)["edges"] == []  # refusals change nothing, so log nothing


def test_the_log_costs_the_same_statements_for_any_page_size(api_of: ApiOf) -> None:
    with api_of() as api:
        admin = staff_token(api, "the_admin", "ADMIN")
        for n in range(8):
            _, user = api.register(f"user{n}")
            role = {"input": {"userId": user["id"], "role": "MODERATOR"}}
            assert api.data(SET_ROLE, role, token=admin)["setUserRole"]["userErrors"] == []

        def statements(size: int) -> int:
            with counting_statements(api) as seen:
                assert len(_log(api, admin, first=size)["edges"]) == size
            return len(seen)

        assert statements(2) == statements(8)


def test_a_role_set_on_the_command_line_is_logged_as_such(api_of: ApiOf, embedded_settings: Settings) -> None:
    with api_of() as api:
        admin = staff_token(api, "the_admin", "ADMIN")
        api.register("cli_mod")
        env = {"REELS_DATA_DIR": str(Path(embedded_settings.data_dir).resolve())}
        changed = reels_cli("set-role", "cli_mod", "moderator", env=env)
        assert (changed.returncode, changed.stdout.strip()) == (0, "cli_mod is now moderator"), changed.stderr
        entry = _log(api, admin)["edges"][0]["node"]
        assert (entry["action"], entry["check"], entry["actor"], entry["user"]) == (
            "SET_ROLE",
            "command_line",
            None,
            {"username": "cli_mod"},
        )

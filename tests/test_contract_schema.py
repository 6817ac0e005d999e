"""The served schema must contain the whole public contract, with the same types.

The contract lives in the repository, at `api/contract.graphql`: it is a document for the clients
and for review, which the server never reads at run time, so it sits at the top beside the code
rather than inside the package; a fresh clone carries it and these tests need nothing beside it.

Given that copy, when `reels schema` prints the served SDL, then every type, field, argument, enum
value, input field and interface of the contract is there with the same type. When the contract the
clients were handed sits beside the checkout (`../shared/api/contract.graphql`), the repository's
copy must contain all of it too: the copy may grow, never drift from what clients were promised.
"""

from __future__ import annotations

import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    build_schema,
)

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = ROOT / "api" / "contract.graphql"
CLIENTS_CONTRACT = ROOT.parent / "shared" / "api" / "contract.graphql"


@cache
def served_sdl() -> str:
    return subprocess.run(
        [sys.executable, "-m", "reels.cli", "schema"], check=True, capture_output=True, text=True, cwd=ROOT
    ).stdout


def gaps(contract: GraphQLSchema, served: GraphQLSchema) -> list[str]:
    """Everything the contract has that the served schema lacks or types differently."""
    missing = []
    for name, ctype in contract.type_map.items():
        if name.startswith("__"):
            continue
        stype = served.type_map.get(name)
        if stype is None or type(stype) is not type(ctype):
            missing.append(f"type {name}")
            continue
        if isinstance(ctype, GraphQLEnumType):
            missing += [f"enum value {name}.{v}" for v in ctype.values if v not in stype.values]
        if isinstance(ctype, GraphQLObjectType | GraphQLInterfaceType):
            missing += [
                f"{name} implements {i.name}"
                for i in ctype.interfaces
                if i.name not in {s.name for s in stype.interfaces}
            ]
        if isinstance(ctype, GraphQLUnionType):
            missing += [f"{name} member {t.name}" for t in ctype.types if t.name not in {s.name for s in stype.types}]
        if isinstance(ctype, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, cfield in ctype.fields.items():
                sfield = stype.fields.get(field_name)
                if sfield is None or str(sfield.type) != str(cfield.type):
                    missing.append(f"field {name}.{field_name}: {cfield.type}")
                    continue
                for arg_name, carg in getattr(cfield, "args", {}).items():
                    sarg = sfield.args.get(arg_name)
                    if sarg is None or str(sarg.type) != str(carg.type):
                        missing.append(f"argument {name}.{field_name}({arg_name}: {carg.type})")
                    elif sarg.default_value != carg.default_value:
                        missing.append(f"default of {name}.{field_name}({arg_name})")
                if isinstance(ctype, GraphQLObjectType | GraphQLInterfaceType):
                    extra = [
                        a
                        for a, sarg in sfield.args.items()
                        if a not in cfield.args and str(sarg.type).endswith("!") and sarg.default_value is None
                    ]
                    missing += [f"new required argument {name}.{field_name}({a})" for a in extra]
    return missing


def test_served_schema_covers_the_whole_contract() -> None:
    contract = build_schema(CONTRACT.read_text())
    served = build_schema(served_sdl())
    assert gaps(contract, served) == []


@pytest.mark.skipif(not CLIENTS_CONTRACT.exists(), reason=f"no clients' contract at {CLIENTS_CONTRACT}")
def test_repository_contract_covers_the_clients_contract() -> None:
    clients = build_schema(CLIENTS_CONTRACT.read_text())
    repository = build_schema(CONTRACT.read_text())
    assert gaps(clients, repository) == []


def test_the_diff_catches_a_gap() -> None:
    """Guard against a diff that cannot fail: drop one field and one argument and expect both named."""
    contract = build_schema(CONTRACT.read_text())
    served_text = (
        served_sdl()
        .replace("  viewerHasLiked: Boolean!\n", "")
        .replace("trending(region: String = null, ", "trending(")
    )
    found = gaps(contract, build_schema(served_text))
    assert "field Reel.viewerHasLiked: Boolean!" in found
    assert any(item.startswith("argument Query.trending(region") for item in found)

"""The user docs keep up with the contract: docs/api.md has a section for every operation of
api/contract.graphql, and the README links the docs."""

from __future__ import annotations

import re
from pathlib import Path

from graphql import ObjectTypeDefinitionNode, ObjectTypeExtensionNode, parse

ROOT = Path(__file__).resolve().parent.parent
ROOT_TYPES = {"Query", "Mutation", "Subscription"}


def operations_of_the_contract() -> dict[str, set[str]]:
    document = parse((ROOT / "api" / "contract.graphql").read_text())
    operations: dict[str, set[str]] = {name: set() for name in ROOT_TYPES}
    for definition in document.definitions:
        if isinstance(definition, ObjectTypeDefinitionNode | ObjectTypeExtensionNode):
            if definition.name.value in ROOT_TYPES:
                operations[definition.name.value] |= {field.name.value for field in definition.fields or ()}
    return operations


def test_every_operation_of_the_contract_has_a_section_in_the_api_docs() -> None:
    text = (ROOT / "docs" / "api.md").read_text()
    sections = {"Query": "Queries", "Mutation": "Mutations", "Subscription": "Subscriptions"}
    chapters = dict(re.findall(r"^## (Queries|Mutations|Subscriptions)\n(.*?)(?=^## |\Z)", text, re.M | re.S))
    missing = [
        f"{root}.{name}"
        for root, names in operations_of_the_contract().items()
        for name in sorted(names)
        if f"### `{name}`\n" not in chapters.get(sections[root], "")
    ]
    assert not missing, f"docs/api.md has no section for {missing}"
    assert len(operations_of_the_contract()["Mutation"]) > 20  # the contract was read


def test_the_readme_links_the_docs() -> None:
    readme = (ROOT / "README.md").read_text()
    for page in ("docs/api.md", "docs/operations.md", "docs/architecture.md"):
        assert f"]({page}" in readme, page
        assert (ROOT / page).is_file(), page

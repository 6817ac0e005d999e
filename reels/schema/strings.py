"""Text a client sends must be Unicode text: a lone UTF-16 surrogate (JSON allows "\\ud800") in
the variables is refused as INVALID before execution, once for every string input of every
operation. (In the document itself, graphql-core's lexer already refuses one as a syntax error.)

Python keeps a lone surrogate in a `str`, but nothing downstream can encode it: the database
driver, the JSON answer and the search index would each fail with an internal error. A valid
pair ("\\ud83d\\ude00") arrives already joined into one code point, so any surrogate left is lone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

_SURROGATE = re.compile("[\ud800-\udfff]")
NOT_TEXT = "text must be valid Unicode: a lone UTF-16 surrogate is not a character"


def has_lone_surrogate(value: object) -> bool:
    """Whether `value` (a string, or a list or object of them, as JSON decodes) holds a lone surrogate."""
    if isinstance(value, str):
        return _SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(has_lone_surrogate(key) or has_lone_surrogate(item) for key, item in value.items())
    if isinstance(value, list):
        return any(has_lone_surrogate(item) for item in value)
    return False


def _refusal(where: str) -> GraphQLError:
    return GraphQLError(f"{where}: {NOT_TEXT}", extensions={"code": "INVALID"})


class RefuseLoneSurrogates(SchemaExtension):
    """Checks the variables and the operation name where validation runs, but outside the
    validation rules: their verdict is kept per document, and variables differ per request."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if context.pre_execution_errors is None:
            refusals = [
                _refusal(where)
                for where, value in (("variables", context.variables), ("operationName", context.operation_name))
                if has_lone_surrogate(value)
            ]
            if refusals:
                context.pre_execution_errors = refusals
        yield

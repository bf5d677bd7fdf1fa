"""Checks API answers against the OpenAPI schema the project serves, so the schema stays true.

`answer_problem(response)` finds the operation a test client's response belongs to and
validates its JSON body against the schema declared for its status (OpenAPI 3.0 turned into
JSON Schema: `nullable` becomes a null alternative, and an object with declared properties
allows no others, so an undocumented field is a mismatch as much as a missing one).
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import jsonschema
from drf_spectacular.generators import SchemaGenerator


@functools.cache
def openapi() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def _strict(node: Any) -> Any:
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _strict(value) for key, value in node.items()}
    if node.get("type") == "object" and "properties" in node:
        node.setdefault("additionalProperties", False)
    if node.pop("nullable", False):
        node = {"anyOf": [node, {"type": "null"}]}
    return node


@functools.cache
def _components() -> dict:
    return _strict(openapi()["components"]["schemas"])


@functools.cache
def _operations() -> list[tuple[re.Pattern, str, dict]]:
    """(path pattern, template, operations), templates with fewer parameters first."""
    found = []
    for template, operations in openapi()["paths"].items():
        pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$")
        found.append((pattern, template, operations))
    return sorted(found, key=lambda item: item[1].count("{"))


def operation_for(method: str, path: str) -> tuple[str, dict] | None:
    for pattern, template, operations in _operations():
        if pattern.match(path) and method.lower() in operations:
            return template, operations[method.lower()]
    return None


def answer_problem(response) -> str | None:
    """What is wrong with this answer by the schema, or None. Statuses an operation does not
    declare are not checked when they are errors (405, 413, 415; DRF's 400, 401, 403 and 404
    are declared where they occur by annotate.api.errors.declare_refusals)."""
    request = response.request
    method, path = request["REQUEST_METHOD"], request["PATH_INFO"]
    found = operation_for(method, path)
    if found is None:
        return None
    template, operation = found
    declared = operation["responses"].get(str(response.status_code))
    where = f"{method} {template} answered {response.status_code}"
    if declared is None:
        return (
            f"{where}, a status the schema does not declare" if response.status_code < 400 else None
        )
    content_type = response.get("Content-Type", "").split(";")[0]
    if content_type != "application/json":
        return None
    schema = declared.get("content", {}).get("application/json", {}).get("schema")
    if schema is None:
        return f"{where} with a JSON body the schema does not describe"
    body = json.loads(response.content)
    root = {"allOf": [_strict(schema)], "components": {"schemas": _components()}}
    error = jsonschema.exceptions.best_match(jsonschema.Draft7Validator(root).iter_errors(body))
    if error is None:
        return None
    at = "/".join(str(part) for part in error.absolute_path) or "(the body)"
    return f"{where}: at {at}: {error.message}"

"""Every path and method the client calls is in the server's OpenAPI schema with the answer
the client expects, and each answer type has the schema component's fields with its types.
The schema comes from drf-spectacular's generator in this process (tests/schema_check.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing

import pytest
from annotate_client import ENDPOINTS
from annotate_client.types import ANSWER_TYPES

from tests.schema_check import openapi

BY_COMPONENT = {cls.SCHEMA: cls for cls in ANSWER_TYPES}


def component(ref: str) -> dict:
    return openapi()["components"]["schemas"][ref.rsplit("/", 1)[-1]]


def ref_name(node: dict) -> str | None:
    return node["$ref"].rsplit("/", 1)[-1] if "$ref" in node else None


def expected_type(node: dict) -> str:
    """A schema property as the client's annotation would be written ("int | None")."""
    nullable = bool(node.get("nullable"))
    for key in ("allOf", "oneOf", "anyOf"):
        if key in node:
            options = [n for n in node[key] if ref_name(n) != "NullEnum"]
            nullable = nullable or len(options) < len(node[key])
            kinds = {expected_type(n) for n in options}
            (kind,) = kinds
            return f"{kind} | None" if nullable else kind
    name = ref_name(node)
    if name:
        target = component(node["$ref"])
        kind = "str" if "enum" in target else name
    elif node.get("type") == "array":
        kind = f"list[{expected_type(node['items'])}]"
    elif node.get("type") in (None, "object") and "properties" not in node:
        return "Any"
    elif node.get("type") == "object":  # an inline object with properties of its own
        kind = "dict"
    else:
        kind = {
            "integer": "int",
            "number": "float",
            "boolean": "bool",
            "string": {"date-time": "datetime", "date": "date"}.get(node.get("format"), "str"),
        }[node["type"]]
    return f"{kind} | None" if nullable else kind


def annotation(hint: object) -> str:
    if hint is typing.Any:
        return "Any"
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [annotation(a) for a in typing.get_args(hint) if a is not type(None)]
        return " | ".join(inner) + " | None"
    if origin is list:
        return f"list[{annotation(typing.get_args(hint)[0])}]"
    if origin is dict:
        return "dict"
    if hint in (dt.datetime, dt.date):
        return hint.__name__
    if dataclasses.is_dataclass(hint):
        return hint.SCHEMA
    return hint.__name__


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_every_endpoint_the_client_calls_is_in_the_schema_with_its_answer(name):
    endpoint = ENDPOINTS[name]
    operation = openapi()["paths"][endpoint.path][endpoint.method.lower()]
    content = operation["responses"][str(endpoint.status)].get("content", {})

    if endpoint.answer is None:
        assert any(m["schema"].get("format") == "binary" for m in content.values())
        return
    schema = content["application/json"]["schema"]
    if endpoint.shape == "list":
        assert schema["type"] == "array"
        schema = schema["items"]
    elif endpoint.shape == "page":
        schema = component(schema["$ref"])["properties"]["results"]["items"]
    assert ref_name(schema) == endpoint.answer.SCHEMA


@pytest.mark.parametrize("cls", ANSWER_TYPES, ids=lambda cls: cls.__name__)
def test_every_answer_type_has_the_fields_and_types_of_its_schema_component(cls):
    schema = openapi()["components"]["schemas"][cls.SCHEMA]
    properties, required = schema["properties"], set(schema.get("required", []))
    fields = {field.name: field for field in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)

    assert set(fields) == set(properties)
    without_default = {
        name
        for name, field in fields.items()
        if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
    }
    assert without_default <= required, "a field the server may leave out needs a default"
    for name in fields:
        assert annotation(hints[name]) == expected_type(properties[name]), name


def test_the_errors_the_client_reads_are_the_fields_of_the_error_component():
    error = openapi()["components"]["schemas"]["Error"]["properties"]

    assert {"detail", "code", "errors", "retry_after"} <= set(error)
    assert error["errors"]["additionalProperties"]["items"]["type"] == "string"

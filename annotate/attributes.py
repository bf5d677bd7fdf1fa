"""Shape attributes, as CVAT has them: each class may declare attributes (a checkbox, a select,
a number or a text), and every box or skeleton of that class carries a value for each.
A `mutable` attribute may change from frame to frame along a track (its value is keyframed:
it holds from a keyframe to the next); an immutable one is the same on every shape of a track.

A schema is a list of {"name", "input", "mutable", "default", and for a select "values", for a
number "min", "max", "step"}. Pure: no Django, no database; the model validates a class's
schema with `schema_problems`, the shape validator checks values with `value_problem`.
"""

from __future__ import annotations

import math

INPUTS = ("checkbox", "select", "number", "text")
MAX_ATTRIBUTES = 30
MAX_NAME = 64
MAX_TEXT = 1000
MAX_VALUES = 100
RESERVED = frozenset({"occluded", "track_id", "keyframe", "rotation"})
FIELDS = frozenset({"name", "input", "mutable", "default", "values", "min", "max", "step"})


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def schema_problems(schema: object) -> list[str]:
    """What is wrong with an attribute schema, in words ([] when it is right)."""
    if not isinstance(schema, list):
        return ["The attributes are a list of objects."]
    if len(schema) > MAX_ATTRIBUTES:
        return [f"At most {MAX_ATTRIBUTES} attributes per class."]
    problems: list[str] = []
    seen: set[str] = set()
    for i, spec in enumerate(schema):
        where = f"Attribute {i + 1}"
        if not isinstance(spec, dict):
            problems.append(f"{where} must be an object.")
            continue
        unknown = sorted(
            set(spec) - {"name", "input", "mutable", "default", "values", "min", "max", "step"}
        )
        if unknown:
            problems.append(f"{where}: unknown field(s) {', '.join(unknown)}.")
        name = spec.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
            problems.append(f"{where} needs a name of 1 to {MAX_NAME} characters.")
            continue
        where = f"Attribute '{name}'"
        if name in seen:
            problems.append(f"{where} is declared twice.")
        if name in RESERVED:
            problems.append(
                f"{where}: the name is taken by the formats (CVAT and COCO write "
                f"{', '.join(sorted(RESERVED))} beside the attributes)."
            )
        seen.add(name)
        kind = spec.get("input")
        if kind not in INPUTS:
            problems.append(f"{where}: input must be one of {', '.join(INPUTS)}.")
            continue
        if not isinstance(spec.get("mutable", False), bool):
            problems.append(f"{where}: mutable must be true or false.")
        if kind == "select":
            values = spec.get("values")
            if (
                not isinstance(values, list)
                or not values
                or len(values) > MAX_VALUES
                or not all(isinstance(v, str) and v for v in values)
                or len(set(values)) != len(values)
            ):
                problems.append(
                    f"{where}: a select needs 1 to {MAX_VALUES} different, non-empty values."
                )
                continue
        if kind == "number":
            bounds = [spec.get(k) for k in ("min", "max", "step")]
            if not all(_is_number(v) for v in bounds):
                problems.append(f"{where}: a number needs min, max and step numbers.")
                continue
            low, high, step = bounds
            if low > high or step <= 0:
                problems.append(f"{where}: min must be at most max, and step above 0.")
                continue
        if "default" in spec:
            problem = value_problem(spec, spec["default"])
            if problem:
                problems.append(f"{where}: the default {problem[0].lower()}{problem[1:]}")
    return problems


def default_value(spec: dict) -> object:
    if "default" in spec:
        return spec["default"]
    return {
        "checkbox": False,
        "select": (spec.get("values") or [""])[0],
        "number": spec.get("min", 0),
        "text": "",
    }[spec["input"]]


def value_problem(spec: dict, value: object) -> str | None:
    """Why `value` does not fit the attribute, or None."""
    kind = spec["input"]
    if kind == "checkbox":
        return None if isinstance(value, bool) else "Must be true or false."
    if kind == "select":
        values = spec.get("values") or []
        if isinstance(value, str) and value in values:
            return None
        return f"Must be one of: {', '.join(values)}."
    if kind == "number":
        if not _is_number(value):
            return "Must be a finite number."
        if not spec["min"] <= value <= spec["max"]:
            return f"Must be between {spec['min']:g} and {spec['max']:g}."
        steps = (value - spec["min"]) / spec["step"]
        if abs(steps - round(steps)) > 1e-6:
            return f"Must be {spec['min']:g} plus a multiple of {spec['step']:g}."
        return None
    if not isinstance(value, str):
        return "Must be text."
    if len(value) > MAX_TEXT:
        return f"At most {MAX_TEXT} characters."
    return None


def from_text(spec: dict, text: str) -> object:
    """A value as formats write it in text (CVAT XML: "true", "3.5", "red") in its own type;
    what cannot be read is returned as it is, for value_problem to refuse in words."""
    kind = spec["input"]
    if kind == "checkbox":
        lowered = text.strip().lower()
        return {"true": True, "false": False}.get(lowered, text)
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            return text
        return int(number) if number.is_integer() else number
    return text


def as_text(value: object) -> str:
    """The inverse of from_text, as CVAT writes values."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def complete(schema: list[dict], values: dict) -> dict:
    """Every attribute of the schema, the defaults where `values` has none, in schema order."""
    return {
        spec["name"]: values[spec["name"]] if spec["name"] in values else default_value(spec)
        for spec in schema
    }

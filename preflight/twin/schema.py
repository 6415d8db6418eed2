"""Check a scenario against its published JSON Schema (docs/scenario.schema.json) before the twin starts.

The schema is the documentation of a scenario's shape; this module is a small interpreter of the part of JSON
Schema it uses — ``type``, ``properties``, ``required``, ``additionalProperties``, ``patternProperties``,
``items``, ``minimum`` — so the product needs no ``jsonschema`` at run time (it is a test dependency only, and
tests/twin/test_scenario_schema.py checks that both agree). Anything else in the schema is refused when the
schema is loaded, so a keyword added to the file without code here fails loudly instead of being ignored.

Each problem is one message starting with the JSON path of the bad value (``tenant.id``,
``roleAssignments[2].properties.scope``), the same style as the rest of scenario validation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

# keywords this interpreter implements; the rest are annotations without effect on validity
KEYWORDS = frozenset(
    {"type", "properties", "required", "additionalProperties", "patternProperties", "items", "minimum"}
)
ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "title", "description"})
# JSON Schema type name → the Python types json.loads produces for it (bool is not an integer in JSON)
TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}
ARTICLES = {"object": "an object", "array": "a list", "integer": "an integer", "null": "null"}


@cache
def scenario_schema() -> Mapping[str, Any]:
    """The published schema (shipped in the package; docs/scenario.schema.json links to the same file)."""
    text = resources.files("preflight.twin.data").joinpath("scenario.schema.json").read_text("utf-8")
    schema: Mapping[str, Any] = json.loads(text)
    check_supported(schema)
    return schema


def validate(document: Any, schema: Mapping[str, Any] | None = None) -> list[str]:
    """Every way ``document`` breaks ``schema`` (default: the scenario schema), each starting with its path."""
    errors: list[str] = []
    _check(document, scenario_schema() if schema is None else schema, "", errors)
    return errors


def _check(value: Any, schema: Mapping[str, Any], path: str, errors: list[str]) -> None:
    wanted = schema.get("type")
    if wanted is not None:  # (one type is the common case: no generator for it — 100k-assignment scenarios)
        names = [wanted] if isinstance(wanted, str) else list(wanted)
        if not (_is(value, wanted) if isinstance(wanted, str) else any(_is(value, name) for name in names)):
            what = " or ".join(ARTICLES.get(name, f"a {name}") for name in names)
            errors.append(f"{path or '(document)'}: must be {what}, not {_json_type(value)}")
            return
    if "minimum" in schema and _is(value, "number") and value < schema["minimum"]:
        errors.append(f"{path}: must be at least {schema['minimum']}")
    if isinstance(value, dict):
        _check_object(value, schema, path, errors)
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            _check(item, schema["items"], f"{path}[{index}]", errors)


def _check_object(value: dict[str, Any], schema: Mapping[str, Any], path: str, errors: list[str]) -> None:
    prefix = f"{path}." if path else ""
    for key in schema.get("required", ()):
        if key not in value:
            errors.append(f"{prefix}{key}: required")
    properties: Mapping[str, Any] = schema.get("properties", {})
    patterns: Mapping[str, Any] = schema.get("patternProperties", {})
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        matched = [sub for pattern, sub in patterns.items() if re.search(pattern, key)] if patterns else []
        known = properties.get(key)
        if known:  # an empty schema ({}) accepts anything: nothing to walk
            _check(item, known, f"{prefix}{key}", errors)
        for sub in matched:
            if sub:
                _check(item, sub, f"{prefix}{key}", errors)
        if known is not None or matched:
            continue
        if extra is False:
            errors.append(f"{prefix}{key}: unknown key (allowed: {', '.join(properties)})")
        elif isinstance(extra, Mapping):
            _check(item, extra, f"{prefix}{key}", errors)


def _is(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return name == "boolean"
    return isinstance(value, TYPES[name])


def _json_type(value: Any) -> str:
    return next(
        name for name in ("boolean", "object", "array", "string", "integer", "number", "null") if _is(value, name)
    )


def check_supported(schema: Mapping[str, Any], path: str = "") -> None:
    """Refuse (ValueError) a schema that uses a keyword this interpreter would silently ignore."""
    unknown = set(schema) - KEYWORDS - ANNOTATIONS
    if unknown:
        raise ValueError(f"scenario schema at {path or '/'}: unsupported keywords {sorted(unknown)}")
    for key in ("properties", "patternProperties"):
        for name, sub in schema.get(key, {}).items():
            check_supported(sub, f"{path}/{key}/{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), Mapping):
            check_supported(schema[key], f"{path}/{key}")

"""JSON Schema validation that reports every problem as ``file: $.json.path: message``."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources


@cache
def load_schema(name: str) -> dict:
    """Load a schema shipped in ``flanzh/spec/schemas`` (``task_spec`` or ``templates``)."""
    text = resources.files("flanzh.spec.schemas").joinpath(f"{name}.schema.json").read_text("utf-8")
    return json.loads(text)


def json_path(parts) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def schema_problems(document, schema_name: str, label: str) -> list[str]:
    """Every schema violation in ``document``, sorted by location, as ``label: $.path: message``."""
    # imported here: a build's pool workers get their specs loaded and never validate one
    import jsonschema
    from jsonschema.exceptions import best_match

    validator = jsonschema.Draft202012Validator(load_schema(schema_name))
    problems = []
    for error in validator.iter_errors(document):
        # oneOf/anyOf failures say only "is not valid under any of the given schemas";
        # the closest sub-error says what is actually wrong.
        while error.context:
            # The deepest sub-error is in the branch the author meant (a mapping where a
            # mapping is allowed), not "is not one of" from a branch for another type.
            deepest = max(len(e.absolute_path) for e in error.context)
            error = best_match(e for e in error.context if len(e.absolute_path) == deepest)
        problems.append((list(error.absolute_path), f"{label}: {json_path(error.absolute_path)}: {error.message}"))
    problems.sort(key=lambda p: [str(x) for x in p[0]])
    return [text for _, text in problems]

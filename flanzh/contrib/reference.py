"""Reference pages generated from the code, so they cannot drift from it (``flanzh catalog``
writes them; ``flanzh catalog --check`` and a test fail when one is stale):

- ``docs/spec.md``: every key a task spec and a template file may hold, from their JSON schemas
  (type, allowed values, default, what it does);
- ``docs/mixture.md``: the same for the corpus policy (``mixture.yaml``).
"""

from __future__ import annotations

import json
from pathlib import Path

SCHEMAS = Path(__file__).parents[1] / "spec" / "schemas"
PAGES = {
    "docs/spec.md": (("task spec", "task_spec.schema.json", "task_specs/<task_id>.yaml"),
                     ("template file", "templates.schema.json", "templates/<task_id>.yaml")),
    "docs/mixture.md": (("corpus policy", "mixture.schema.json", "mixture.yaml"),),
}


def _load(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text("utf-8"))


def _resolve(node: dict, root: dict) -> dict:
    while isinstance(node, dict) and "$ref" in node:
        path = node["$ref"].removeprefix("#/").split("/")
        target = root
        for part in path:
            target = target[part]
        extra = {k: v for k, v in node.items() if k != "$ref"}
        node = {**target, **extra}
    return node


def _type(node: dict, root: dict) -> str:
    node = _resolve(node, root)
    if "enum" in node:
        return "one of " + ", ".join(f"`{v}`" for v in node["enum"])
    if "const" in node:
        return f"`{node['const']}`"
    for key in ("oneOf", "anyOf"):
        if key in node:
            return " or ".join(_type(n, root) for n in node[key])
    kind = node.get("type")
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind == "array":
        return f"list of {_type(node.get('items', {}), root)}"
    if kind == "object":
        extra = node.get("additionalProperties")
        if isinstance(extra, dict) and not node.get("properties"):
            return f"mapping to {_type(extra, root)}"
        return "mapping"
    if kind == "string" and "pattern" in node:
        return f"string matching `{node['pattern']}`"
    bounds = [f"≥ {node['minimum']}" for _ in [0] if "minimum" in node] + \
             [f"≤ {node['maximum']}" for _ in [0] if "maximum" in node]
    return (kind or "any") + (f" ({', '.join(bounds)})" if bounds else "")


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def _rows(node: dict, root: dict, path: str, required: set[str], out: list) -> None:
    node = _resolve(node, root)
    for key, child in node.get("properties", {}).items():
        resolved = _resolve(child, root)
        here = f"{path}.{key}" if path else key
        default = resolved.get("default")
        out.append((here, _type(child, root), "yes" if key in required else "",
                    "" if default is None else f"`{json.dumps(default, ensure_ascii=False)}`",
                    resolved.get("description") or child.get("description") or ""))
        for suffix, sub in (("", resolved), (".<name>", resolved.get("additionalProperties")),
                            ("[]", resolved.get("items"))):
            if isinstance(sub, dict):
                for variant in _variants(sub, root):
                    if variant.get("properties"):
                        _rows(variant, root, here + suffix, set(variant.get("required", [])), out)


def _variants(node: dict, root: dict) -> list[dict]:
    """The shapes a schema node allows: itself and its oneOf / anyOf alternatives."""
    node = _resolve(node, root)
    return [node] + [_resolve(v, root) for v in node.get("oneOf", []) + node.get("anyOf", [])]


def render_reference(page: str) -> str:
    title = {"docs/spec.md": "Task spec and template reference",
             "docs/mixture.md": "Corpus policy reference"}[page]
    lines = [f"# {title}", "",
             "Generated from the JSON schemas in `flanzh/spec/schemas/` by `flanzh catalog`; do not edit "
             "by hand. `flanzh validate` checks files against the same schemas.", ""]
    for name, schema_file, where in PAGES[page]:
        schema = _load(schema_file)
        rows: list = []
        _rows(schema, schema, "", set(schema.get("required", [])), rows)
        seen = set()
        lines += [f"## The {name} (`{where}`)", "", schema.get("description", "").strip(), "",
                  "| key | type | required | default | what it does |", "|---|---|---|---|---|"]
        for key, kind, required, default, text in rows:
            if key in seen:
                continue
            seen.add(key)
            lines.append(f"| `{key}` | {_cell(kind)} | {required} | {_cell(default)} | "
                         f"{_cell(text)} |")
        lines.append("")
    if page == "docs/spec.md":
        lines += _template_language()
    while lines[-1] == "":
        lines.pop()
    return "\n".join(line for line in lines) + "\n"


def _template_language() -> list[str]:
    """What a template may use, from the sandbox's allowlists and flanzh's own filters."""
    from ..render.options import FILTERS
    from ..render.sandbox import ALLOWED_FILTERS, ALLOWED_TESTS

    lines = ["## What a template may use", "",
             "Templates run in a sandbox (`flanzh/render/sandbox.py`) that allows only these; anything "
             "else is refused by `flanzh validate` and `flanzh lint`.", "",
             "flanzh's own filters:", "", "| filter | what it does |", "|---|---|"]
    for name, function in FILTERS.items():
        doc = " ".join((function.__doc__ or "").split())
        lines.append(f"| `{name}` | {_cell(doc)} |")
    builtin = sorted(ALLOWED_FILTERS - set(FILTERS))
    lines += ["", "jinja2 built-in filters: " + ", ".join(f"`{n}`" for n in builtin) + ".", "",
              "Tests (`is ...`): " + ", ".join(f"`{n}`" for n in sorted(ALLOWED_TESTS)) + ".", ""]
    return lines

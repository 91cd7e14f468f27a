"""``flanzh catalog``: the generated docs (a test fails when one is stale): docs/tasks.md from the
specs, docs/spec.md and docs/mixture.md from the schemas, docs/drop-reasons.md from
flanzh/spec/reasons.py."""

from __future__ import annotations

from ..project import Project
from ..spec.specs import load_tasks

CATALOG = "docs/tasks.md"


def render_catalog(project: Project) -> str:
    tasks = load_tasks(project)
    lines = [
        "# Tasks",
        "",
        "Generated from `task_specs/` by `flanzh catalog`; do not edit by hand.",
        "",
        f"{len(tasks)} tasks.",
        "",
        "| task | 名称 | category | source | raw format | hub copy | license | templates | OpenBA share % |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for t in tasks:
        hub = t.source.get("hub")
        hub_text = f"`{hub['path']}`" + (f" ({hub['name']})" if hub.get("name") else "") if hub else "—"
        share = t.spec.get("mixture", {}).get("openba_share")
        lines.append(
            f"| `{t.id}` | {t.name_zh} | {t.category} | {t.source['dataset']} | "
            f"{t.source['format']} | {hub_text} | {t.source['license'].strip()} | "
            f"{len(t.templates)} | {'—' if share is None else share} |")
    return "\n".join(lines) + "\n"


def generated_docs(project: Project) -> dict[str, str]:
    """Every generated page: path (relative to the project) -> text."""
    from ..spec.reasons import render_reasons
    from .reference import PAGES, render_reference

    docs = {CATALOG: render_catalog(project)}
    docs.update({page: render_reference(page) for page in PAGES})
    docs["docs/drop-reasons.md"] = render_reasons()
    return docs

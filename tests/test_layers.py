"""The package follows the build's layers: no module imports from a higher layer, modules do not
import each other in a cycle, and the pipeline holds only the order of steps."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "flanzh"
# bottom to top; the package itself, errors, project and hashing are shared by every layer
LAYERS = ["base", "spec", "read", "render", "corpus", "build", "publish", "contrib", "cli"]
BASE = {"flanzh", "flanzh.errors", "flanzh.project", "flanzh.hashing", "flanzh.encoding",
        "flanzh.executors", "flanzh.digests"}
# The one import against the layers, with its reason; it must stay inside a function.
ALLOWED_UPWARD = {
    ("flanzh.spec.specs", "flanzh.read.readers"):
        "a spec's source.format must name a reader, and the readers are found by scanning "
        "read/readers/ (imported inside the check, so loading a spec stays cheap)",
}


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def layer(module: str) -> int:
    if module in BASE:
        return 0
    if module == "flanzh.cli":
        return LAYERS.index("cli")
    top = module.split(".")[1]
    assert top in LAYERS, f"{module} is in no layer: put it under one of {LAYERS[1:-1]}"
    return LAYERS.index(top)


def imports(module: str, path: Path) -> list[tuple[int, str]]:
    """(line, module imported) for every flanzh import, module-level or local."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "flanzh"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "flanzh":
                continue
            known = modules()
            for alias in node.names:           # `from flanzh.x import submodule`
                sub = f"{target}.{alias.name}"
                found.append((node.lineno, sub if sub in known else target))
    return found


def owner(target: str, known: dict) -> str:
    while target not in known:
        target = target.rpartition(".")[0]
    return target


def test_no_module_imports_from_a_higher_layer():
    known = modules()
    wrong = sorted({f"{path.relative_to(PACKAGE.parent)}:{line}: {module} "
                    f"({LAYERS[layer(module)]}) imports {owner(target, known)} ({LAYERS[layer(owner(target, known))]})"
                    for module, path in known.items() for line, target in imports(module, path)
                    if layer(owner(target, known)) > layer(module)
                    and (module, owner(target, known)) not in ALLOWED_UPWARD})
    assert wrong == []


def test_the_allowed_upward_imports_are_local_and_still_needed():
    known = modules()
    for (module, target), reason in ALLOWED_UPWARD.items():
        tree = ast.parse(known[module].read_text("utf-8"))
        top = {n.lineno for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))}
        lines = [line for line, t in imports(module, known[module]) if owner(t, known) == target]
        assert lines, f"{module} no longer imports {target}: drop it from ALLOWED_UPWARD"
        assert not top & set(lines), f"{module} imports {target} at module level ({reason})"


def test_module_level_imports_have_no_cycle():
    known = modules()
    graph = {}
    for module, path in known.items():
        tree = ast.parse(path.read_text("utf-8"))
        top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        lines = {n.lineno for n in top}
        graph[module] = {owner(t, known) for line, t in imports(module, path) if line in lines}
        graph[module] -= {module, "flanzh"}
    cycles = []

    def visit(module, trail):
        for nxt in sorted(graph[module]):
            if nxt in trail:
                cycles.append(" -> ".join(trail[trail.index(nxt):] + [nxt]))
            elif len(trail) < 12:
                visit(nxt, trail + [nxt])

    for module in graph:
        visit(module, [module])
    assert cycles == []


def test_checks_and_render_do_not_import_each_other():
    known = modules()
    pair = ("flanzh.render.checks", "flanzh.render.templates")
    edges = {(m, owner(t, known)) for m in pair for _, t in imports(m, known[m])}
    assert not ({pair, pair[::-1]} <= edges)
    assert (pair[0], pair[1]) not in edges          # checks is below the templates


def test_pipeline_holds_only_the_order_of_steps():
    tree = ast.parse((PACKAGE / "build" / "pipeline.py").read_text("utf-8"))
    classes = [n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
    assert classes == [], f"types belong with their stage, not in pipeline.py: {classes}"
    for node in tree.body:
        assert isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.Assign,
                                 ast.AnnAssign, ast.Expr)), ast.dump(node)[:80]


def test_every_module_is_in_a_layer():
    for module in modules():
        layer(module)
    flat = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert flat == ["__init__.py", "cli.py", "digests.py", "encoding.py", "errors.py", "executors.py",
                    "hashing.py", "project.py"]


def test_the_layer_check_catches_an_upward_import(tmp_path):
    path = tmp_path / "specs.py"
    path.write_text("from ..build.pipeline import build\nfrom ..errors import SpecError\n")
    targets = [t for _, t in imports("flanzh.spec.specs", path)]
    assert targets == ["flanzh.build.pipeline", "flanzh.errors"]
    assert [layer(t) > layer("flanzh.spec.specs") for t in targets] == [True, False]

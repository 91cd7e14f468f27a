"""Templates are contributed text: this is the jinja2 environment they run in, and the policy a
template must pass before it runs.

Checked when compiled (``flanzh validate``, ``lint``, ``build``), as an allowlist:
- only the node types in ALLOWED_NODES: text, fields, filters, tests, ``if``, ``for``
  (not recursive), ``set``, literals, comparisons and arithmetic. No calls at all (``x.upper()``,
  ``u()``, ``x['upper']()``: use a filter), no macros, blocks, imports, includes or extends;
- only the filters in ALLOWED_FILTERS and the tests in ALLOWED_TESTS (no ``random``: builds are
  deterministic), also when named inside ``map``, ``select``, ``selectattr``, ...;
- no attribute or item whose name starts with ``_``, no attribute of a text, number or list
  field (theirs are all methods);
- at most MAX_DEPTH levels of nesting.

Enforced when run, per template and row (``render_bounded``), whatever reaches the renderer:
- jinja2's immutable sandbox, StrictUndefined, no globals (no ``range``, ``cycler``, ...);
- only the allowed filters and tests exist; calling anything is refused; an attribute or item
  that is a method is refused; a missing attribute or item fails the row (it never prints as
  ``Undefined``);
- ``*`` may not build a string or list over MAX_PRODUCT items, ``**`` may not use an exponent over
  MAX_EXPONENT, integers may not grow over MAX_INT_BITS bits, ``%`` may not format text;
- no text or list the template builds, and not its output, may exceed MAX_TEXT_CHARS characters
  plus GROWTH times the row's own text;
- rendering may not take over MAX_RENDER_SECONDS.
A template over a run-time bound fails the build with an error naming the template and the row
(``RenderLimit``, a ``SecurityError``).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator

import jinja2
from jinja2 import nodes
from jinja2.defaults import DEFAULT_FILTERS, DEFAULT_TESTS
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import pass_context
from jinja2.visitor import NodeTransformer

from .options import FILTERS

MAX_PRODUCT = 100_000
MAX_EXPONENT = 64
MAX_INT_BITS = 4096
MAX_TEXT_CHARS = 1_000_000      # plus GROWTH times the row's own text (a long field is data)
GROWTH = 4
MAX_RENDER_SECONDS = 2.0
MAX_DEPTH = 32

ALLOWED_NODES = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Const, nodes.Filter,
    nodes.Test, nodes.If, nodes.For, nodes.Assign, nodes.CondExpr, nodes.Compare,
    nodes.Operand, nodes.Getattr, nodes.Getitem, nodes.Slice, nodes.Neg, nodes.Pos, nodes.Not,
    nodes.And, nodes.Or, nodes.Concat, nodes.Add, nodes.Sub, nodes.Mul, nodes.Div,
    nodes.FloorDiv, nodes.Mod, nodes.Pow, nodes.Keyword, nodes.Pair, nodes.Tuple, nodes.List,
    nodes.Dict,
)
ALLOWED_FILTERS = frozenset({
    "first", "join", "last", "length", "list", "lower", "map", "reject", "rejectattr",
    "replace", "select", "selectattr", "trim", "unique", "upper",
}) | frozenset(FILTERS)
ALLOWED_TESTS = frozenset({"divisibleby", "eq", "equalto", "even", "in", "ne", "none",
                           "number", "odd", "string"})
# filters that take the name of a filter or test: (position of the name, filter or test)
_NAMED = {"map": (0, "filter"), "select": (0, "test"), "reject": (0, "test"),
          "selectattr": (1, "test"), "rejectattr": (1, "test")}

_FORBIDDEN_TAGS = {nodes.Macro: "{% macro %}", nodes.CallBlock: "{% call %}",
                   nodes.Import: "{% import %}", nodes.FromImport: "{% from ... import %}",
                   nodes.Include: "{% include %}", nodes.Extends: "{% extends %}",
                   nodes.Block: "{% block %}", nodes.FilterBlock: "{% filter %}",
                   nodes.With: "{% with %}", nodes.AssignBlock: "{% set %}...{% endset %}",
                   nodes.ExprStmt: "{% do %}", nodes.Scope: "a scope",
                   nodes.ScopedEvalContextModifier: "{% autoescape %}"}

_ITER, _CONCAT = "__flanzh_iter", "__flanzh_concat"     # internal: bounded loops and ``~``


class RenderLimit(SecurityError):
    """A template went over a time or size bound while rendering."""


_run = threading.local()      # the deadline and text limit of the render running in this thread
OVER_TEXT = (f"would build more text than allowed per template and row ({MAX_TEXT_CHARS:,} "
             f"characters plus {GROWTH} times the row's own text)")


def _limit() -> int:
    return getattr(_run, "limit", MAX_TEXT_CHARS)


def _check_time() -> None:
    deadline = getattr(_run, "deadline", None)
    if deadline is not None and time.monotonic() > deadline:
        raise RenderLimit(f"rendering took over {MAX_RENDER_SECONDS:g} s, the limit per "
                          "template and row")


def _size(value, budget: int | None = None, depth: int = 0) -> int:
    """About how many characters ``str(value)`` has, counted up to just over ``budget``
    (default: the current limit)."""
    kind = type(value)
    if kind is str:
        return len(value)
    if kind in _CONTAINERS:
        if budget is None:
            budget = _limit()
        if depth > MAX_DEPTH:
            return budget + 1
        total = 2
        for item in (value.items() if kind is dict else value):
            total += 4 + (len(item) if type(item) is str else _size(item, budget - total, depth + 1))
            if total > budget:
                break
        return total
    if kind is int:
        return value.bit_length() // 3 + 1
    if isinstance(value, str):
        return len(value)
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        return _size(kind.__bases__[0](value) if kind is not dict else dict(value), budget, depth)
    return 8


_CONTAINERS = frozenset({list, tuple, dict, set, frozenset})


def _check_size(value, what: str) -> None:
    if _size(value) > _limit():
        raise RenderLimit(f"{what} {OVER_TEXT}")


def _check_int(value, what: str) -> None:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise RenderLimit(f"{what} would build a number of over {MAX_INT_BITS} bits")


def _bounded_items(items: Iterator, what: str, sized: bool = True) -> Iterator:
    """``items``, checked for time and (``sized``: they are new values) for the size of what
    has been produced so far."""
    produced = 0
    for item in items:
        _check_time()
        if sized:
            produced += 2 + _size(item)
            if produced > _limit():
                raise RenderLimit(f"{what} {OVER_TEXT}")
        yield item


def _precheck(name: str, values: list, kwargs: dict) -> None:
    """Filters whose output can be much larger than their input."""
    if name == "replace" and len(values) >= 3:
        text, old, new = (str(v) for v in values[:3])
        count = text.count(old) if old else len(text) + 1
        if len(text) + count * max(len(new) - len(old), 0) > _limit():
            raise RenderLimit(f"filter 'replace' {OVER_TEXT}")
    if name == "join" and values and isinstance(values[0], (list, tuple)):
        separator = values[1] if len(values) > 1 else kwargs.get("d", "")
        if len(values[0]) * _size(separator) > _limit():
            raise RenderLimit(f"filter 'join' {OVER_TEXT}")


def _bounded_filter(name: str, func):
    """``func`` with its output bounded. Its inputs need no check: every value a template makes
    is checked when made, and the row's own values are within the limit by its definition."""
    @functools.wraps(func)          # keeps jinja's pass_context/eval_context marks
    def bounded(*args, **kwargs):
        _check_time()
        if name in ("replace", "join"):
            _precheck(name, [a for a in args if not isinstance(
                a, (jinja2.runtime.Context, jinja2.nodes.EvalContext, jinja2.Environment))], kwargs)
        result = func(*args, **kwargs)
        if isinstance(result, Iterator):          # map, select, ...: lazy, checked as consumed
            return _bounded_items(result, f"filter '{name}'", sized=name == "map")
        _check_size(result, f"filter '{name}'")
        return result
    return bounded


@pass_context
def _iter(context, iterable):
    """What a ``for`` loop walks: checked per step."""
    return _bounded_items(iter(iterable), "a for loop", sized=False)


@pass_context
def _concat(context, parts):
    """``a ~ b ~ c``, as jinja2 joins them, with the size checked first."""
    total = 0
    for part in parts:
        total += _size(part)
        if total > _limit():
            raise RenderLimit(f"'~' {OVER_TEXT}")
    return "".join(map(str, parts))


class _Bound(NodeTransformer):
    """Rewrite a parsed template so its loops and ``~`` go through the bounded helpers."""

    def visit_For(self, node: nodes.For) -> nodes.For:
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, _ITER, [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Filter:
        self.generic_visit(node)
        return nodes.Filter(nodes.List(node.nodes, lineno=node.lineno), _CONCAT, [], [], None,
                            None, lineno=node.lineno)


class TemplateEnvironment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset(["*", "**", "+", "%"])

    def _generate(self, source, name, filename, defer_init=False):
        source = _Bound().visit(source)
        source.set_environment(self)
        return super()._generate(source, name, filename, defer_init=defer_init)

    def call_binop(self, context, operator, left, right):
        _check_time()
        numbers = all(isinstance(v, int) and not isinstance(v, bool) for v in (left, right))
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
            raise SecurityError(f"exponent {right} is over the limit of {MAX_EXPONENT}")
        if operator == "**" and numbers and right > 0 \
                and left.bit_length() * right > MAX_INT_BITS:
            raise RenderLimit(f"'**' would build a number of over {MAX_INT_BITS} bits")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(times, int) \
                        and len(seq) * times > MAX_PRODUCT:
                    raise SecurityError(f"'*' would build {len(seq) * times} items, over the "
                                        f"limit of {MAX_PRODUCT}")
            if numbers and left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise RenderLimit(f"'*' would build a number of over {MAX_INT_BITS} bits")
        if operator == "%" and isinstance(left, str):
            raise SecurityError("'%' may not format text in templates; join text with '~'")
        if operator == "+" and isinstance(left, (str, list, tuple)) \
                and isinstance(right, (str, list, tuple)) and _size(left) + _size(right) > \
                _limit():
            raise RenderLimit(f"'+' {OVER_TEXT}")
        result = super().call_binop(context, operator, left, right)
        _check_int(result, f"'{operator}'")
        _check_size(result, f"'{operator}'")
        return result

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 (jinja2's signature)
        raise SecurityError("calling is not allowed in templates; use a filter")

    def getattr(self, obj, attribute):
        _check_time()
        return self._looked_up(obj, attribute, super().getattr(obj, attribute))

    def getitem(self, obj, argument):
        _check_time()
        return self._looked_up(obj, argument, super().getitem(obj, argument))

    @staticmethod
    def _looked_up(obj, name, value):
        """A missing attribute fails here (not later, printed as ``Undefined`` inside a list);
        a method is refused (it could be called through a variable)."""
        if isinstance(value, jinja2.Undefined):
            value._fail_with_undefined_error()
        if callable(value):
            raise SecurityError(f"{name!r} of {type(obj).__name__} is a method; templates may "
                                "not use methods (use a filter)")
        return value

    def call_filter(self, name, value, args=None, kwargs=None, context=None, eval_ctx=None):
        if name not in ALLOWED_FILTERS:
            raise SecurityError(f"filter {name!r} is not allowed in templates")
        return super().call_filter(name, value, args, kwargs, context, eval_ctx)

    def call_test(self, name, value, args=None, kwargs=None, context=None, eval_ctx=None):
        if name not in ALLOWED_TESTS:
            raise SecurityError(f"test {name!r} is not allowed in templates")
        return super().call_test(name, value, args, kwargs, context, eval_ctx)


def make_environment() -> TemplateEnvironment:
    env = TemplateEnvironment(undefined=jinja2.StrictUndefined, autoescape=False,
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False)
    env.globals.clear()
    available = {**DEFAULT_FILTERS, **FILTERS}
    env.filters = {name: _bounded_filter(name, available[name]) for name in ALLOWED_FILTERS}
    env.filters[_ITER], env.filters[_CONCAT] = _iter, _concat
    env.tests = {name: DEFAULT_TESTS[name] for name in ALLOWED_TESTS}
    return env


def text_limit(context: dict) -> int:
    """How much text one render of ``context`` may build: MAX_TEXT_CHARS plus GROWTH times the
    row's own text (a long field is the data's business: the build's checks drop its record)."""
    return MAX_TEXT_CHARS + GROWTH * _size(context, budget=1 << 62)


OVER_OUTPUT = (f"the output would be longer than allowed per template and row "
               f"({MAX_TEXT_CHARS:,} characters plus {GROWTH} times the row's own text)")


def render_bounded(template: jinja2.Template, context: dict, limit: int | None = None) -> str:
    """``template.render(context)`` within MAX_RENDER_SECONDS and ``limit`` characters
    (default: text_limit(context)) of text built and output; over either raises RenderLimit."""
    outer = getattr(_run, "deadline", None), getattr(_run, "limit", MAX_TEXT_CHARS)
    _run.limit = limit if limit is not None else text_limit(context)
    _run.deadline = time.monotonic() + MAX_RENDER_SECONDS
    try:
        pieces, size = [], 0
        for piece in template.generate(context):
            size += len(piece)
            if size > _run.limit:
                raise RenderLimit(OVER_OUTPUT)
            _check_time()
            pieces.append(piece)
        return "".join(pieces)
    finally:
        _run.deadline, _run.limit = outer


def depth(ast: nodes.Node) -> int:
    """How deeply the syntax tree nests (without recursion), counted up to MAX_DEPTH + 1."""
    deepest, stack = 0, [(ast, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            break
        stack.extend((child, level + 1) for child in node.iter_child_nodes())
    return deepest


TOO_DEEP = (f"refused: nested more than {MAX_DEPTH} levels deep (brackets, filters, "
            "conditions, loops); write it flatter, e.g. with {% set %}")


def _named(node: nodes.Filter) -> list[str]:
    """Problems with a filter or test named inside map/select/selectattr/..."""
    position, kind = _NAMED[node.name]
    if len(node.args) <= position:
        return []                   # map(attribute=...), select() with no test
    arg = node.args[position]
    allowed = ALLOWED_FILTERS if kind == "filter" else ALLOWED_TESTS
    if not (isinstance(arg, nodes.Const) and isinstance(arg.value, str)):
        return [f"refused: the {kind} given to '{node.name}' must be written out as a quoted name"]
    if arg.value not in allowed:
        return [f"refused: {kind} '{arg.value}' is not allowed; allowed: "
                f"{', '.join(sorted(allowed))}"]
    return []


def policy_problems(ast: nodes.Template, field_types: dict[str, str] | None = None) -> list[str]:
    """What a parsed template does that templates may not do (``field_types``: the task's
    declared fields and their types, to refuse attributes of text, numbers and lists: theirs
    are all methods)."""
    if depth(ast) > MAX_DEPTH:
        return [TOO_DEEP]
    problems = []
    scalar = {name for name, kind in (field_types or {}).items() if kind != "dict"}
    callees = {id(call.node) for call in ast.find_all(nodes.Call)}
    for node in ast.find_all(nodes.Node):
        if id(node) in callees and isinstance(node, nodes.Getattr) \
                and not node.attr.startswith("_"):
            continue                # reported as a method call
        if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            problems.append(f"refused: access to '{node.attr}'")
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) \
                and isinstance(node.arg.value, str) and node.arg.value.startswith("_"):
            problems.append(f"refused: access to '{node.arg.value}'")
        elif isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr):
            problems.append(f"refused: method call '.{node.node.attr}()'; use a filter instead")
        elif isinstance(node, nodes.Call):
            problems.append("refused: calls are not allowed in templates; use a filter instead")
        elif isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name) \
                and node.node.name in scalar:
            problems.append(f"refused: '{node.node.name}' is a {field_types[node.node.name]} "
                            f"field; it has no attribute '{node.attr}'")
        elif isinstance(node, nodes.Getitem) and isinstance(node.node, nodes.Name) \
                and node.node.name in scalar and isinstance(node.arg, nodes.Const) \
                and isinstance(node.arg.value, str):
            problems.append(f"refused: '{node.node.name}' is a {field_types[node.node.name]} "
                            f"field; it has no item '{node.arg.value}'")
        elif isinstance(node, nodes.Filter) and node.name not in ALLOWED_FILTERS:
            problems.append(f"refused: filter '{node.name}' is not allowed; allowed: "
                            f"{', '.join(sorted(ALLOWED_FILTERS))}")
        elif isinstance(node, nodes.Test) and node.name not in ALLOWED_TESTS:
            problems.append(f"refused: test '{node.name}' is not allowed; allowed: "
                            f"{', '.join(sorted(ALLOWED_TESTS))}")
        elif isinstance(node, nodes.For) and node.recursive:
            problems.append("refused: recursive loops are not allowed in templates")
        elif not isinstance(node, ALLOWED_NODES):
            tag = next((tag for kind, tag in _FORBIDDEN_TAGS.items() if isinstance(node, kind)),
                       type(node).__name__)
            problems.append(f"refused: {tag} is not allowed in templates")
        if isinstance(node, nodes.Filter) and node.name in _NAMED:
            problems += _named(node)
    return list(dict.fromkeys(problems))

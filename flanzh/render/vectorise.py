"""Render many rows at once: a template made only of text, fields, simple filters and simple
conditionals is compiled from its jinja2 AST into one polars expression, evaluated over every row
that uses it. Anything else (loops, tests, other filters, lists shown whole, ...) raises
Unsupported and keeps the per-row jinja2 path. A test checks both paths give identical text for
every template in the repo.
"""

from __future__ import annotations

import polars as pl
from jinja2 import nodes

from .options import ABC, CIRCLED, JIAYI, NUMBERS
from ..spec.specs import Task

OPTIONS = "__options"
GOLD_INDEX = "__gold_index"   # the answer's position among the row's options (null if absent)
# What Python's str.strip() removes, so stripping here matches the jinja2 path exactly.
WHITESPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680" + "".join(
    chr(c) for c in range(0x2000, 0x200B)) + "\u2028\u2029\u202f\u205f\u3000"

_MARKED = {  # filter: (markers, text after the marker, separator between options)
    "abc": (ABC, ". ", "\n"), "abc_inline": (ABC, ". ", "  "), "jiayi": (JIAYI, "、", "\n"),
    "circled": (CIRCLED, "", " "), "numbered": (NUMBERS, ". ", "\n"),
}
_JOINED = {"dunhao": "、", "lines": "\n"}
_LETTER_STYLES = {"abc": ABC, "jiayi": JIAYI, "circled": CIRCLED, "numbered": NUMBERS}


def options_bound(task: Task) -> int | None:
    """The most options a row of ``task`` is shown (row_options and options_column give no more),
    or None when its per-row lists are not capped."""
    if task.choices is not None:
        return len(task.choices) if task.max_options is None else min(len(task.choices),
                                                                      task.max_options)
    return task.max_options if task.choices_field is not None else None


def _marked_options(markers, after: str, between: str, bound: int | None = None) -> pl.Expr:
    """The options, each after its marker, joined. With ``bound`` (options_bound: the most
    options a row of the task has) one text per position up to it, not a ``list.eval`` over every
    row's list (3-4x less CPU on 15 options, measured); without one (per-row lists of any
    length), the ``list.eval``, rather than a text for each of up to 99 markers. A row with more
    options than the style can number gets null, as the template filter fails on it (and so
    would one over the bound, never silently cut short); a missing option shows as None, as in
    jinja2; no options give an empty text."""
    options = pl.col(OPTIONS)
    count = options.list.len()
    if bound is None:
        marker = pl.int_range(pl.len()).replace_strict(
            dict(enumerate(markers)), default=None, return_dtype=pl.Utf8)
        return pl.when(count <= len(markers)).then(options.list.eval(pl.concat_str(
            [marker, pl.lit(after), pl.element().fill_null("None")])).list.join(between))
    # null past a row's last option (guarded: cheaper than list.get's own bounds check), and
    # a null part is left out of the join
    parts = [pl.when(count > i).then(pl.concat_str([
        pl.lit(marker + after), options.list.get(i, null_on_oob=True).fill_null("None")]))
        for i, marker in enumerate(markers[:bound])]
    return pl.when(count <= len(parts)).then(
        pl.concat_str(parts, separator=between, ignore_nulls=True))


class Unsupported(Exception):
    """The template needs the per-row jinja2 path."""


# The per-row text limit in the frame a template's expression runs over (templates.py sets it:
# MAX_TEXT_CHARS plus GROWTH times the row's own text)
LIMIT = "__limit"


class _Compiler:
    def __init__(self, task: Task):
        self.task = task
        self.loop_var: str | None = None     # inside a for loop over a list field
        self.loop_records = False            # ... of records (a "list" field)
        self.loop_field: str | None = None   # ... named by this field
        self.indexed = 0                     # text indices compiled (``c[0]``: may fail)
        self.read_items = False              # ... whose body read a record's attribute, or
                                             # sliced or indexed a text item
        # (field, attribute or None) of the record lists read: the template renders in bulk only
        # when the frame holds such a field as a list of structs with those text attributes
        self.needs: list[tuple[str, str | None]] = []
        # (expression true for a row whose text would grow over LIMIT, what grows): checked over
        # every row before the template's text is built, as the sandbox checks before a filter
        self.guards: list[tuple[pl.Expr, str]] = []

    def statements(self, body: list[nodes.Node]) -> list[pl.Expr]:
        parts = []
        for node in body:
            if isinstance(node, nodes.Output):
                parts += [self.value(child) for child in node.nodes]
            elif isinstance(node, nodes.If):
                parts.append(self.branch(node))
            elif isinstance(node, nodes.For):
                parts.append(self.loop(node))
            else:
                raise Unsupported(type(node).__name__)
        return parts

    def _list_field(self, node: nodes.Node, records: bool = False) -> pl.Expr:
        """A list[str] field, or a slice of one with constant bounds (``history[:-1]``);
        with ``records``, also a list of records (a ``list`` field), whose items are never
        shown whole."""
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Slice):
            return _sliced(self._list_field(node.node, records), node.arg)
        if isinstance(node, nodes.Name) and node.name in self.task.fields \
                and self.task.fields[node.name].type == "list[str]" and self.loop_var is None:
            return pl.col(node.name)
        if records and self._record_list(node) is not None:
            self.needs.append((node.name, None))
            return pl.col(node.name)
        if isinstance(node, nodes.Name) and node.name == "options" and self.loop_var is None:
            return pl.col(OPTIONS)
        raise Unsupported("not a list[str] field")

    def _record_list(self, node: nodes.Node) -> str | None:
        """The name of the ``list`` field (of records) ``node`` names outside a loop."""
        if isinstance(node, nodes.Name) and self.loop_var is None and node.name in self.task.fields \
                and self.task.fields[node.name].type == "list":
            return node.name
        return None

    def _attribute(self, node: nodes.Getattr, fill_none: bool) -> pl.Expr | None:
        """A text attribute of a record: the loop's item (``t.subject``) or a list item at a
        constant position (``entities[0].text``); None for other attributes. A missing record
        (None) fails the row, as jinja2's undefined attribute does; a missing value shows as
        None."""
        if node.attr.startswith("_") or hasattr(dict, node.attr):
            # a dict's own attribute (``t.items``) is a method: refused by the sandbox
            raise Unsupported("attribute")
        if isinstance(node.node, nodes.Name) and self.loop_records \
                and node.node.name == self.loop_var:
            self.needs.append((self.loop_field, node.attr))
            self.read_items = True
            value = pl.element().struct.field(node.attr)
            return value.fill_null("None") if fill_none else value
        if isinstance(node.node, nodes.Getitem) and self.loop_var is None:
            field = self._record_list(node.node.node)
            index = _int_constant(node.node.arg)
            if field is None or index is None:
                return None
            self.needs.append((field, node.attr))
            items = pl.col(field)
            present = (items.list.len() > index) if index >= 0 else (items.list.len() >= -index)
            record = items.list.get(index, null_on_oob=True)
            value = record.struct.field(node.attr)
            return pl.when(present & record.is_not_null()).then(
                value.fill_null("None") if fill_none else value)
        return None

    def _item(self, node: nodes.Getitem, fill_none: bool) -> pl.Expr:
        """``list_field[i]`` for a constant i; out of range is an error in jinja2, so null here
        (the row is dropped, as on the jinja2 path)."""
        index = _int_constant(node.arg)
        if index is None:
            raise Unsupported("Getitem")
        items = self._list_field(node.node)
        present = (items.list.len() > index) if index >= 0 else (items.list.len() >= -index)
        value = items.list.get(index, null_on_oob=True)
        return pl.when(present).then(value.fill_null("None") if fill_none else value)

    def _number(self, node: nodes.Node) -> pl.Expr:
        """An integer-valued node: ``list | length``, an int field or a constant."""
        if isinstance(node, nodes.Filter) and node.name == "length" and not node.args:
            field = self.task.fields.get(node.node.name) \
                if isinstance(node.node, nodes.Name) and self.loop_var is None else None
            if field is not None and (field.type == "str" or field.label_map is not None):
                # a missing value is an error in jinja2; required fields are never missing
                if field.optional:
                    raise Unsupported("length of an optional text field")
                return pl.col(field.name).str.len_chars().cast(pl.Int64)
            return self._list_field(node.node, records=True).list.len().cast(pl.Int64)
        if isinstance(node, nodes.Name) and node.name in self.task.fields \
                and self.task.fields[node.name].type == "int":
            return pl.col(node.name)
        if isinstance(node, nodes.Const) and type(node.value) is int:
            return pl.lit(node.value, dtype=pl.Int64)
        raise Unsupported("not a number")

    def loop(self, node: nodes.For) -> pl.Expr:
        """``{% for x in list_field %}...{% endfor %}``: the body over the list's elements."""
        if node.recursive or not isinstance(node.target, nodes.Name) or (
                node.test is not None and any(n.name == "loop"
                                              for n in node.test.find_all(nodes.Name))):
            raise Unsupported("for loop with a filter, recursion or unpacking")
        items = self._list_field(node.iter, records=True)
        field = node.iter
        while isinstance(field, nodes.Getitem):
            field = field.node
        self.loop_records = self._record_list(field) is not None
        self.loop_field = getattr(field, "name", None)
        self.loop_var = node.target.name
        self.read_items = False
        try:
            # ``for x in items if test``: jinja2 filters the items first (loop.* and else see
            # only the kept ones)
            indexed = self.indexed
            test = self.condition(node.test) if node.test is not None else None
            if self.indexed != indexed:     # an index out of range would only drop the item
                raise Unsupported("for loop with a filter, recursion or unpacking")
            body = _concat(self.statements(node.body))
            read_items = self.read_items
        finally:
            self.loop_var, self.loop_records, self.read_items = None, False, False
        all_items = items
        if test is not None:
            items = items.list.eval(pl.element().filter(test))
        parts = items.list.eval(body)
        rendered = parts.list.join("")
        if read_items:
            # an attribute, slice or index of a missing item (None), or an index out of range,
            # fails the row in jinja2 (join would skip the item)
            broken = all_items.list.eval(pl.element().is_null()).list.any() \
                | parts.list.eval(pl.element().is_null()).list.any()
            rendered = pl.when(broken).then(pl.lit(None, dtype=pl.Utf8)).otherwise(rendered)
        if node.else_:
            rendered = pl.when(items.list.len() == 0).then(
                _concat(self.statements(node.else_))).otherwise(rendered)
        return rendered

    def _loop_attribute(self, node: nodes.Node) -> pl.Expr | None:
        """``loop.index`` and friends inside a loop body (None for anything else)."""
        if not (self.loop_var and isinstance(node, nodes.Getattr)
                and isinstance(node.node, nodes.Name) and node.node.name == "loop"):
            return None
        index0 = pl.int_range(pl.len())
        attributes = {"index0": index0, "index": index0 + 1, "revindex0": pl.len() - index0 - 1,
                      "revindex": pl.len() - index0, "first": index0 == 0,
                      "last": index0 == pl.len() - 1, "length": pl.len() + 0 * index0}
        if node.attr not in attributes:
            raise Unsupported(f"loop.{node.attr}")
        return attributes[node.attr]

    def branch(self, node: nodes.If) -> pl.Expr:
        otherwise = _concat(self.statements(node.else_))
        for elif_ in reversed(node.elif_):
            otherwise = pl.when(self.condition(elif_.test)).then(
                _concat(self.statements(elif_.body))).otherwise(otherwise)
        return pl.when(self.condition(node.test)).then(
            _concat(self.statements(node.body))).otherwise(otherwise)

    def condition(self, node: nodes.Node) -> pl.Expr:
        if isinstance(node, nodes.Compare) and len(node.ops) == 1 \
                and node.ops[0].op in ("eq", "ne") and isinstance(node.ops[0].expr, nodes.Const) \
                and isinstance(node.ops[0].expr.value, str):
            value = self.text(node.expr, fill_none=False)
            test = value == pl.lit(node.ops[0].expr.value)
            return test.fill_null(False) if node.ops[0].op == "eq" else (~test).fill_null(True)
        if isinstance(node, nodes.Name) and node.name in self.task.fields:
            spec = self.task.fields[node.name]
            column = pl.col(node.name)
            if spec.type == "str":
                return (column.is_not_null() & (column != "")).fill_null(False)
            if spec.type.startswith("list"):
                if spec.type == "list":
                    self.needs.append((node.name, None))
                return (column.is_not_null() & (column.list.len() > 0)).fill_null(False)
        if isinstance(node, nodes.Compare) and len(node.ops) == 1 \
                and node.ops[0].op in _NUMERIC_OPS:
            try:
                left, right = self._number(node.expr), self._number(node.ops[0].expr)
                return _NUMERIC_OPS[node.ops[0].op](left, right).fill_null(False)
            except Unsupported:
                if node.ops[0].op not in ("eq", "ne"):
                    raise
            left = self.text(node.expr, fill_none=False)
            right = self.text(node.ops[0].expr, fill_none=False)
            # jinja2 compares None with a string as unequal, and None with None as equal
            same = (left == right).fill_null(left.is_null() & right.is_null())
            return same if node.ops[0].op == "eq" else ~same
        if isinstance(node, nodes.Name) and node.name in self.task.fields \
                and self.task.fields[node.name].type == "bool":
            return pl.col(node.name).fill_null(False)
        if isinstance(node, nodes.Test) and node.name in ("even", "odd") and not node.args:
            number = self._loop_attribute(node.node)
            if number is None:
                try:
                    number = self._number(node.node)
                except Unsupported:
                    raise Unsupported("test on something other than loop or a number") from None
            return (number % 2 == 0) if node.name == "even" else (number % 2 == 1)
        if isinstance(node, nodes.Getattr):
            flag = self._loop_attribute(node)
            if flag is not None and node.attr in ("first", "last"):
                return flag
            if flag is None:
                value = self._attribute(node, fill_none=False)
                if value is not None:       # a text attribute: true when present and not empty
                    return (value.is_not_null() & (value != "")).fill_null(False)
        if isinstance(node, nodes.Not):
            return ~self.condition(node.node)
        if isinstance(node, nodes.And):
            return self.condition(node.left) & self.condition(node.right)
        if isinstance(node, nodes.Or):
            return self.condition(node.left) | self.condition(node.right)
        raise Unsupported(f"condition {type(node).__name__}")

    def value(self, node: nodes.Node) -> pl.Expr:
        if isinstance(node, nodes.TemplateData):
            return pl.lit(node.data)
        if isinstance(node, nodes.CondExpr) and node.expr2 is not None:
            return pl.when(self.condition(node.test)).then(self.value(node.expr1)) \
                .otherwise(self.value(node.expr2))
        if isinstance(node, nodes.Or):
            # ``a or b`` is a when a is true (as a condition), else b
            return pl.when(self.condition(node.left)).then(self.value(node.left)) \
                .otherwise(self.value(node.right))
        if isinstance(node, nodes.Concat):
            # ``~`` shows every operand as text, None as "None"; an operand that fails (null)
            # fails the whole, as the error does in jinja2
            return pl.concat_str([self.value(child) for child in node.nodes])
        return self.text(node)

    def text(self, node: nodes.Node, fill_none: bool = True) -> pl.Expr:
        """A node that renders as text."""
        if isinstance(node, nodes.Const) and isinstance(node.value, str):
            return pl.lit(node.value)
        if isinstance(node, nodes.Name) and self.loop_var is not None:
            if node.name != self.loop_var:
                raise Unsupported("a field inside a loop body")
            if self.loop_records:
                raise Unsupported("a record shown whole")
            return pl.element().fill_null("None") if fill_none else pl.element()
        if isinstance(node, nodes.Getattr):
            number = self._loop_attribute(node)
            if number is not None and node.attr not in ("first", "last"):
                return number.cast(pl.Utf8)
            value = self._attribute(node, fill_none) if number is None else None
            if value is None:
                raise Unsupported("attribute")
            return value
        if isinstance(node, nodes.Name) and node.name in self.task.fields:
            if self.loop_var is not None:
                raise Unsupported("a field inside a loop body")
            spec = self.task.fields[node.name]
            if spec.type == "str" or spec.label_map is not None:
                column = pl.col(node.name)
            elif spec.type == "int":
                column = pl.col(node.name).cast(pl.Utf8)
            else:
                raise Unsupported(f"{spec.type} field shown whole")
            return column.fill_null("None") if fill_none else column   # as jinja2 prints None
        if isinstance(node, nodes.Filter):
            return self.filter(node, fill_none)
        if isinstance(node, nodes.Getitem):
            part = self._text_part(node)
            if part is not None:
                return part
        if isinstance(node, nodes.Getitem) and self.loop_var is None:
            return self._item(node, fill_none)
        raise Unsupported(type(node).__name__)

    def _text_part(self, node: nodes.Getitem) -> pl.Expr | None:
        """``text[a:b]`` (constant bounds of 0 or more, no step) or ``text[i]`` of a text field
        or of a text loop item; None for anything else. A missing text fails the row (jinja2
        cannot slice None), and so does an index out of range."""
        if not isinstance(node.node, nodes.Name):
            return None
        name = node.node.name
        if self.loop_var is None and name in self.task.fields \
                and self.task.fields[name].type == "str" and self.task.fields[name].label_map is None:
            text = pl.col(name)
        elif self.loop_var is not None and name == self.loop_var and not self.loop_records:
            text = pl.element()
            self.read_items = True
        else:
            return None
        if isinstance(node.arg, nodes.Slice):
            if node.arg.step is not None:
                return None
            start = 0 if node.arg.start is None else _int_constant(node.arg.start)
            stop = None if node.arg.stop is None else _int_constant(node.arg.stop)
            if start is None or start < 0 or (node.arg.stop is not None
                                              and (stop is None or stop < 0)):
                return None
            return text.str.slice(start) if stop is None \
                else text.str.slice(start, max(stop - start, 0))
        index = _int_constant(node.arg)
        if index is None:
            return None
        self.indexed += 1
        count = text.str.len_chars()
        return pl.when((count > index) if index >= 0 else (count >= -index)).then(
            text.str.slice(index, 1))

    def _plain_field(self, node: nodes.Node) -> bool:
        """A text or int field named outside a loop (its value is the row's own data)."""
        if not (isinstance(node, nodes.Name) and self.loop_var is None):
            return False
        spec = self.task.fields.get(node.name)
        return spec is not None and (spec.type in ("str", "int") or spec.label_map is not None)

    def filter(self, node: nodes.Filter, fill_none: bool) -> pl.Expr:
        if node.kwargs or node.dyn_args or node.dyn_kwargs:
            raise Unsupported("filter keyword arguments")
        args = node.args
        is_options = isinstance(node.node, nodes.Name) and node.node.name == "options"
        if is_options and node.name in _JOINED and not args:
            return pl.col(OPTIONS).list.join(_JOINED[node.name])
        if is_options and node.name == "huo" and not args:
            options = pl.col(OPTIONS)
            return pl.when(options.list.len() < 2).then(options.list.join("")).otherwise(
                pl.concat_str([options.list.slice(0, options.list.len() - 1).list.join("、"),
                               pl.lit("或"), options.list.last()]))
        if is_options and node.name in _MARKED and not args:
            return _marked_options(*_MARKED[node.name], bound=options_bound(self.task))
        if is_options and node.name == "letter_of" and 1 <= len(args) <= 2 \
                and isinstance(args[0], nodes.Name) and args[0].name == self.task.answer_field:
            style = "abc"
            if len(args) == 2:
                if not isinstance(args[1], nodes.Const) or args[1].value not in _LETTER_STYLES:
                    raise Unsupported("letter_of style")
                style = args[1].value
            markers = _LETTER_STYLES[style]
            # null, as the filter fails, when the row has more options than the style numbers
            return pl.when(pl.col(OPTIONS).list.len() <= len(markers)).then(
                pl.col(GOLD_INDEX).replace_strict(dict(enumerate(markers)), default=None,
                                                  return_dtype=pl.Utf8))
        if node.name == "length" and not args:
            return self._number(node).cast(pl.Utf8)
        if node.name == "join" and len(args) <= 1 and not is_options:
            items = self._list_field(node.node)
            separator = ""
            if args:
                if not isinstance(args[0], nodes.Const) or not isinstance(args[0].value, str):
                    raise Unsupported("join separator")
                separator = args[0].value
            return items.list.eval(pl.element().fill_null("None")).list.join(separator)
        if node.name == "trim" and len(args) <= 1:
            chars = WHITESPACE
            if args:
                if not isinstance(args[0], nodes.Const) or not isinstance(args[0].value, str):
                    raise Unsupported("trim argument")
                chars = args[0].value
            return self.text(node.node, fill_none).str.strip_chars(chars)
        if node.name == "replace" and len(args) == 2 and isinstance(args[0], nodes.Const) \
                and isinstance(args[0].value, str):
            if not args[0].value:
                raise Unsupported("replace of an empty string")
            if isinstance(args[1], nodes.Const) and isinstance(args[1].value, str):
                value = pl.lit(args[1].value)
            elif self._plain_field(node.node) and self._plain_field(args[1]):
                # A field as the replacement can multiply the text (a long value for each of
                # many matches): refused per row before anything is built, with the sandbox's
                # bound and message (its _precheck), over the text as str() shows it.
                text, value = self.text(node.node), self.text(args[1])
                old = args[0].value
                grown = text.str.len_chars().cast(pl.Int64) + text.str.count_matches(
                    old, literal=True).cast(pl.Int64) * pl.max_horizontal(
                    value.str.len_chars().cast(pl.Int64) - len(old), pl.lit(0, dtype=pl.Int64))
                self.guards.append((grown > pl.col(LIMIT), "filter 'replace'"))
            else:
                raise Unsupported("replace argument")
            return self.text(node.node, fill_none).str.replace_all(
                args[0].value, value, literal=True)
        raise Unsupported(f"filter {node.name}")


_NUMERIC_OPS = {"eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "gt": lambda a, b: a > b,
                "gteq": lambda a, b: a >= b, "lt": lambda a, b: a < b, "lteq": lambda a, b: a <= b}


def _sliced(items: pl.Expr, bounds: nodes.Slice) -> pl.Expr:
    """``items[start:stop]`` with Python's rules for missing and negative bounds."""
    for bound in (bounds.start, bounds.stop, bounds.step):
        if bound is not None and _int_constant(bound) is None:
            raise Unsupported("slice bounds")
    if bounds.step is not None:
        raise Unsupported("slice step")
    length = items.list.len().cast(pl.Int64)

    def position(bound, default):
        if bound is None:
            return default
        value = _int_constant(bound)
        return (pl.min_horizontal(pl.lit(value, dtype=pl.Int64), length) if value >= 0
                else pl.max_horizontal(length + value, pl.lit(0, dtype=pl.Int64)))

    start = position(bounds.start, pl.lit(0, dtype=pl.Int64))
    stop = position(bounds.stop, length)
    return items.list.slice(start, pl.max_horizontal(stop - start, pl.lit(0, dtype=pl.Int64)))


def _int_constant(node: nodes.Node) -> int | None:
    """The value of an integer constant; jinja2 parses ``-1`` as Neg(Const(1))."""
    sign = 1
    while isinstance(node, (nodes.Neg, nodes.Pos)):
        sign = -sign if isinstance(node, nodes.Neg) else sign
        node = node.node
    if isinstance(node, nodes.Const) and type(node.value) is int:
        return sign * node.value
    return None


def _concat(parts: list[pl.Expr]) -> pl.Expr:
    if not parts:
        return pl.lit("")
    return pl.concat_str(parts) if len(parts) > 1 else parts[0]


def compile_expression(task: Task, ast: nodes.Template,
                       guards: list[tuple[pl.Expr, str]] | None = None,
                       needs: list[tuple[str, str | None]] | None = None,
                       checked: bool = False) -> pl.Expr:
    """The polars expression that renders ``ast`` (stripped, as the jinja2 path strips).
    A template the sandbox's policy refuses is never compiled here either. ``guards`` receives
    the template's (over the limit, what) expressions, to check on every row (reading column
    LIMIT) before the text is built; ``needs`` the record lists it reads (see ``fits``).
    ``checked``: the caller has already found no policy problem in ``ast`` (compile_templates,
    with the task's fields and options)."""
    from .sandbox import policy_problems

    if not checked and policy_problems(ast, {name: f.type for name, f in task.fields.items()}):
        raise Unsupported("refused by the sandbox's policy")
    compiler = _Compiler(task)
    body, strip_start, strip_end = _stripped_ends(list(ast.body))
    expression = _concat(compiler.statements(body))
    if strip_start and strip_end:
        expression = expression.str.strip_chars(WHITESPACE)
    elif strip_start:
        expression = expression.str.strip_chars_start(WHITESPACE)
    elif strip_end:
        expression = expression.str.strip_chars_end(WHITESPACE)
    if guards is not None:
        guards += compiler.guards
    if needs is not None:
        needs += compiler.needs
    return expression


def _stripped_ends(body: list[nodes.Node]) -> tuple[list[nodes.Node], bool, bool]:
    """The output is stripped as the jinja2 path strips it. Where it begins (ends) with template
    text that is not all whitespace, that text is stripped here, once, and the rows' text needs
    no stripping on that side: a pass over every record saved. Returns the body (copied where
    changed; the jinja2 path keeps the original) and whether each side still needs stripping."""
    import copy

    def literal(node: nodes.Node, at: int) -> nodes.TemplateData | None:
        if isinstance(node, nodes.Output) and node.nodes \
                and isinstance(node.nodes[at], nodes.TemplateData):
            return node.nodes[at]
        return None

    def replaced(output: nodes.Output, at: int, data: str) -> nodes.Output:
        output = copy.copy(output)
        output.nodes = list(output.nodes)
        text = copy.copy(output.nodes[at])
        text.data = data
        output.nodes[at] = text
        return output

    strip_start = strip_end = True
    if body and (first := literal(body[0], 0)) is not None and first.data.lstrip():
        body[0] = replaced(body[0], 0, first.data.lstrip())
        strip_start = False
    if body and (last := literal(body[-1], -1)) is not None and last.data.rstrip():
        body[-1] = replaced(body[-1], -1, last.data.rstrip())
        strip_end = False
    return body, strip_start, strip_end


def fits(needs, schema) -> bool:
    """Whether a frame of ``schema`` holds the record lists a template reads (``needs`` from
    compile_expression) as lists of structs with text attributes; when not, the template renders
    row by row."""
    for field, attribute in needs:
        dtype = schema.get(field)
        if not isinstance(dtype, pl.List):
            return False
        if attribute is not None:
            inner = dtype.inner
            if not isinstance(inner, pl.Struct):
                return False
            kinds = {f.name: f.dtype for f in inner.fields}
            if kinds.get(attribute) != pl.Utf8:
                return False
    return True


# Why a template stays on the per-row jinja2 path, by what compile_expression refused. Every
# refusal a repo template hits needs an entry (tests/test_speed.py checks the table in
# docs/performance.md against the templates).
ROW_PATH_REASONS = {
    "not a list[str] field": "loops over or joins a list the template builds (`selectattr` or "
                             "`map(attribute=...)` over records, `company + government`): a "
                             "small query language, kept in jinja2",
    "Assign": "`{% set %}` with `selectattr`/`map`/`reject`/`unique` over records or a dict "
              "literal: a small query language, kept in jinja2",
    "attribute": "reads a record at a position computed from the row (`arguments[...].role`, the "
                 "index from the text's length)",
    "condition Compare": "an `in` test: jinja2 raises on a missing value and drops the row, and "
                         "a polars form would have to reproduce that error per row",
    "for loop with a filter, recursion or unpacking": "a loop unpacking its items, or whose `if` "
                                                      "filter indexes them (jinja2 fails the row "
                                                      "on an item out of range)",
    "Getitem": "indexes a list at a computed position, or a list inside a loop",
    "replace argument": "`replace` of or with a value the template builds (only constants and "
                        "plain fields are checked for growth before the text is built)",
}


def row_path_reason(task: Task, asts: list[nodes.Template]) -> str | None:
    """What keeps a template (its input and target ASTs) on the per-row path, None if nothing."""
    for ast in asts:
        try:
            compile_expression(task, ast)
        except Unsupported as refused:
            return str(refused)
    return None

"""A small KQL (Kusto Query Language) subset for the twin's Resource Graph: parse, then evaluate over rows.

Resource Graph answers KQL over its tables; the product's queries (preflight/azure/resource_graph.py) have a fast
path in resource_graph.py, and everything else a person types into ``az graph query`` is evaluated here, so a
query means what KQL says instead of matching fixed strings. Supported (KQL semantics, per the KQL reference:
learn.microsoft.com/kusto/query/ — tabular operators, scalar functions, string operators):

- a table name (case-insensitive in Resource Graph), then ``| operator`` stages: ``where``, ``project``
  (``name``, ``name = expr``), ``project-away``, ``extend``, ``summarize`` (``count()``, ``countif()``,
  ``dcount()``, ``make_list()``, ``make_set()``, ``min()``, ``max()``, ``sum()``, ``take_any()``, optional
  ``by`` columns or ``name = expr``), ``join [kind=inner|innerunique|leftouter] (subquery) on col |
  $left.a == $right.b``, ``order by`` / ``sort by`` (``asc``/``desc``, default ``desc``), ``take`` / ``limit``,
  ``top N by``, ``distinct``, ``count``;
- expressions: ``and`` / ``or`` / ``not()``, ``==`` ``!=`` ``=~`` ``!~`` ``<`` ``<=`` ``>`` ``>=``, the string
  operators ``contains`` ``has`` ``startswith`` ``endswith`` (each with ``!`` and ``_cs`` forms), ``in`` / ``in~``
  / ``!in`` / ``!in~`` (list), literals (strings, numbers, ``true``/``false``, ``dynamic(null)``), columns with
  ``.name`` / ``['name']`` / ``[index]`` access, and the functions ``tolower`` ``toupper`` ``tostring``
  ``toint`` ``tolong`` ``isempty`` ``isnotempty`` ``isnull`` ``isnotnull`` ``strcat`` ``strlen`` ``iff`` /
  ``iif`` ``coalesce`` ``split`` ``array_length`` ``pack`` / ``bag_pack`` ``tobool`` ``substring``.

Anything else raises :class:`KqlError`, which the route answers with Resource Graph's 400 ``BadRequest`` /
``InvalidQuery`` body.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Row = dict[str, Any]


class KqlError(ValueError):
    """A query outside the subset (or not KQL): the message says where."""


# ------------------------------------------------------------------------------------------------ tokens

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
     |(?P<num>\d+(?:\.\d+)?)
     |(?P<op>==|!=|=~|!~|<=|>=|\$left|\$right|[|(),.\[\]=<>+\-*/])
     |(?P<word>!?[A-Za-z_][\w\-]*(?<!-)~?)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # str | num | op | word | end
    text: str
    value: Any = None


def tokenize(text: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise KqlError(f"unexpected character {text[pos:].lstrip()[:1]!r} at position {pos}")
        pos = m.end()
        kind = m.lastgroup or ""
        raw = m[kind]
        if kind == "str":
            tokens.append(Token("str", raw, re.sub(r"\\(.)", r"\1", raw[1:-1])))
        elif kind == "num":
            tokens.append(Token("num", raw, float(raw) if "." in raw else int(raw)))
        else:
            tokens.append(Token(kind, raw))
    tokens.append(Token("end", ""))
    return tokens


# ------------------------------------------------------------------------------------------------ AST

Expr = Callable[[Mapping[str, Any]], Any]


@dataclass
class Stage:
    op: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class Pipeline:
    table: str
    stages: list[Stage]

    def tables(self) -> set[str]:
        found = {self.table}
        for stage in self.stages:
            if stage.op == "join":
                found |= stage.args["right"].tables()
        return found


_TABLES = ("resources", "authorizationresources", "resourcecontainers")
_STRING_OPS = ("contains", "has", "startswith", "endswith")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        import json

        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _compare(op: str, left: Any, right: Any) -> bool:
    if isinstance(left, dict | list) or isinstance(right, dict | list):
        raise KqlError(f"cannot compare a dynamic array or property bag with {op}")
    if op in ("==", "!="):
        mixed = isinstance(left, str) != isinstance(right, str) and left is not None and right is not None
        same = _text(left) == _text(right) if mixed else left == right
        return same if op == "==" else not same
    if op in ("=~", "!~"):
        same = _text(left).lower() == _text(right).lower()
        return same if op == "=~" else not same
    if left is None or right is None:
        return False
    try:
        if op == "<":
            return bool(left < right)
        if op == "<=":
            return bool(left <= right)
        if op == ">":
            return bool(left > right)
        return bool(left >= right)
    except TypeError:
        return False


def _string_op(name: str, left: Any, right: Any) -> bool:
    negate = name.startswith("!")
    base = name.lstrip("!")
    case_sensitive = base.endswith("_cs")
    base = base.removesuffix("_cs")
    a, b = _text(left), _text(right)
    if not case_sensitive:
        a, b = a.lower(), b.lower()
    if base == "contains":
        result = b in a
    elif base == "startswith":
        result = a.startswith(b)
    elif base == "endswith":
        result = a.endswith(b)
    else:  # has: a whole term (KQL terms are alphanumeric runs)
        result = bool(re.search(r"(?<![0-9a-z])" + re.escape(b) + r"(?![0-9a-z])", a, 0 if case_sensitive else re.I))
    return result != negate


def _member(value: Any, key: Any) -> Any:
    if isinstance(value, Mapping) and isinstance(key, str):
        return value.get(key)
    if isinstance(value, list) and isinstance(key, int):
        return value[key] if -len(value) <= key < len(value) else None
    return None


def _to_int(value: Any) -> Any:
    try:
        return int(float(_text(value))) if value is not None and _text(value) != "" else None
    except ValueError:
        return None


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "tolower": lambda v: _text(v).lower() if v is not None else None,
    "toupper": lambda v: _text(v).upper() if v is not None else None,
    "tostring": lambda v: _text(v),
    "toint": _to_int,
    "tolong": _to_int,
    "tobool": lambda v: {"true": True, "false": False}.get(_text(v).lower()),
    "isempty": lambda v: v is None or _text(v) == "",
    "isnotempty": lambda v: not (v is None or _text(v) == ""),
    "isnull": lambda v: v is None,
    "isnotnull": lambda v: v is not None,
    "strcat": lambda *vs: "".join(_text(v) for v in vs),
    "strlen": lambda v: len(_text(v)),
    "iff": lambda c, a, b: a if c is True else b,
    "iif": lambda c, a, b: a if c is True else b,
    "coalesce": lambda *vs: next((v for v in vs if v is not None and v != ""), None),
    "split": lambda v, sep: _text(v).split(_text(sep)),
    "array_length": lambda v: len(v) if isinstance(v, list) else None,
    "pack": lambda *vs: {_text(vs[i]): vs[i + 1] for i in range(0, len(vs) - 1, 2)},
    "bag_pack": lambda *vs: {_text(vs[i]): vs[i + 1] for i in range(0, len(vs) - 1, 2)},
    "substring": lambda v, start, length=None: _text(v)[
        int(start) : None if length is None else int(start) + int(length)
    ],
    "not": lambda v: not v,
}
_AGGREGATES = ("count", "countif", "dcount", "make_list", "make_set", "min", "max", "sum", "take_any")


# ------------------------------------------------------------------------------------------------ parser


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0

    # -- token helpers
    def peek(self, offset: int = 0) -> Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def next(self) -> Token:
        token = self.peek()
        self.i += 1
        return token

    def at(self, *texts: str) -> bool:
        token = self.peek()
        return token.kind in ("op", "word") and token.text in texts

    def expect(self, text: str) -> Token:
        token = self.next()
        if token.text != text or token.kind not in ("op", "word"):
            raise KqlError(f"expected {text!r}, got {token.text or 'end of query'!r}")
        return token

    def name(self) -> str:
        token = self.next()
        if token.kind != "word" or token.text.startswith("!") or token.text.endswith("~"):
            raise KqlError(f"expected a name, got {token.text or 'end of query'!r}")
        return token.text

    # -- pipeline
    def pipeline(self, closing: str = "") -> Pipeline:
        table = self.name().lower()
        if table not in _TABLES:
            raise KqlError(f"table {table!r} is not one of {', '.join(_TABLES)}")
        stages = []
        while self.at("|"):
            self.next()
            stages.append(self.stage())
        end = self.peek()
        if (closing and end.text != closing) or (not closing and end.kind != "end"):
            raise KqlError(f"unexpected {end.text or 'end of query'!r}")
        return Pipeline(table, stages)

    def stage(self) -> Stage:
        word = self.name()
        if word in ("sort", "order"):
            self.expect("by")
            return Stage("order", {"keys": self.sort_keys()})
        handlers: dict[str, Callable[[], Stage]] = {
            "where": lambda: Stage("where", {"expr": self.expr()}),
            "project": lambda: Stage("project", {"items": self.assignments(allow_bare=True)}),
            "project-away": lambda: Stage("project-away", {"names": self.names()}),
            "extend": lambda: Stage("extend", {"items": self.assignments(allow_bare=False)}),
            "summarize": self.summarize,
            "join": self.join,
            "take": lambda: Stage("take", {"n": self.number()}),
            "limit": lambda: Stage("take", {"n": self.number()}),
            "top": self.top,
            "distinct": lambda: Stage("distinct", {"names": self.names()}),
            "count": lambda: Stage("count"),
        }
        handler = handlers.get(word)
        if handler is None:
            raise KqlError(f"the operator {word!r} is not supported")
        return handler()

    def number(self) -> int:
        token = self.next()
        if token.kind != "num" or not isinstance(token.value, int):
            raise KqlError(f"expected a whole number, got {token.text!r}")
        return int(token.value)

    def names(self) -> list[str]:
        names = [self.name()]
        while self.at(","):
            self.next()
            names.append(self.name())
        return names

    def sort_keys(self) -> list[tuple[Expr, bool]]:
        keys = []
        while True:
            expr = self.expr()
            descending = True
            if self.at("asc", "desc"):
                descending = self.next().text == "desc"
            keys.append((expr, descending))
            if not self.at(","):
                return keys
            self.next()

    def top(self) -> Stage:
        n = self.number()
        self.expect("by")
        return Stage("top", {"n": n, "keys": self.sort_keys()})

    def assignments(self, *, allow_bare: bool) -> list[tuple[str, Expr]]:
        items = []
        while True:
            if self.peek().kind == "word" and self.peek(1).text == "=" and self.peek(1).kind == "op":
                name = self.name()
                self.next()
                items.append((name, self.expr()))
            elif allow_bare:
                start = self.i
                expr = self.expr()
                items.append((_default_name(self.tokens[start : self.i]), expr))
            else:
                raise KqlError("extend needs name = expression")
            if not self.at(","):
                return items
            self.next()

    def summarize(self) -> Stage:
        aggregates = []
        while True:
            name = ""
            if self.peek().kind == "word" and self.peek(1).text == "=":
                name = self.name()
                self.next()
            function = self.name()
            if function not in _AGGREGATES:
                raise KqlError(f"the aggregation {function!r} is not supported")
            self.expect("(")
            start = self.i
            args = self.arguments()
            aggregates.append((name or _aggregate_name(function, self.tokens[start : self.i - 1]), function, args))
            if not self.at(","):
                break
            self.next()
        by: list[tuple[str, Expr]] = []
        if self.at("by"):
            self.next()
            by = self.assignments(allow_bare=True)
        return Stage("summarize", {"aggregates": aggregates, "by": by})

    def join(self) -> Stage:
        kind = "innerunique"
        if self.at("kind"):
            self.next()
            self.expect("=")
            kind = self.name().lower()
            if kind not in ("inner", "innerunique", "leftouter"):
                raise KqlError(f"join kind {kind!r} is not supported")
        self.expect("(")
        right = self.pipeline(closing=")")
        self.expect(")")
        self.expect("on")
        keys = []
        while True:
            if self.at("$left"):
                self.next()
                self.expect(".")
                left = self.name()
                self.expect("==")
                self.expect("$right")
                self.expect(".")
                keys.append((left, self.name()))
            else:
                column = self.name()
                keys.append((column, column))
            if not self.at(","):
                break
            self.next()
        return Stage("join", {"kind": kind, "right": right, "keys": keys})

    # -- expressions
    def expr(self) -> Expr:
        left = self.conjunction()
        while self.at("or"):
            self.next()
            right, first = self.conjunction(), left
            left = _either(first, right)
        return left

    def conjunction(self) -> Expr:
        left = self.comparison()
        while self.at("and"):
            self.next()
            right, first = self.comparison(), left
            left = _both(first, right)
        return left

    def comparison(self) -> Expr:
        left = self.primary()
        token = self.peek()
        text = token.text
        if token.kind == "op" and text in ("==", "!=", "=~", "!~", "<", "<=", ">", ">="):
            self.next()
            right = self.primary()
            return lambda row: _compare(text, left(row), right(row))
        if token.kind == "word" and text.lstrip("!").removesuffix("_cs") in _STRING_OPS:
            self.next()
            right = self.primary()
            return lambda row: _string_op(text, left(row), right(row))
        if token.kind == "word" and text in ("in", "in~", "!in", "!in~"):
            self.next()
            self.expect("(")
            values = self.arguments()
            insensitive, negate = text.endswith("~"), text.startswith("!")

            def member(row: Mapping[str, Any]) -> bool:
                value = _text(left(row))
                pool = [_text(v(row)) for v in values]
                found = value.lower() in {p.lower() for p in pool} if insensitive else value in pool
                return found != negate

            return member
        return left

    def arguments(self) -> list[Expr]:
        args: list[Expr] = []
        if self.at(")"):
            self.next()
            return args
        while True:
            args.append(self.expr())
            if self.at(")"):
                self.next()
                return args
            self.expect(",")

    def primary(self) -> Expr:
        token = self.next()
        if token.kind in ("str", "num"):
            value = token.value
            return lambda row: value
        if token.text == "(" and token.kind == "op":
            inner = self.expr()
            self.expect(")")
            return self.accessors(inner)
        if token.kind != "word":
            raise KqlError(f"unexpected {token.text or 'end of query'!r}")
        word = token.text
        if word in ("true", "false"):
            flag = word == "true"
            return lambda row: flag
        if word == "dynamic" and self.at("("):
            self.next()
            literal = self.next()
            self.expect(")")
            if literal.text != "null":
                raise KqlError("only dynamic(null) is supported")
            return lambda row: None
        if self.at("(") and word not in ("and", "or"):
            if word not in _FUNCTIONS:
                raise KqlError(f"the function {word!r} is not supported")
            self.next()
            args = self.arguments()
            function = _FUNCTIONS[word]

            def call(row: Mapping[str, Any]) -> Any:
                try:
                    return function(*(a(row) for a in args))
                except TypeError as exc:
                    raise KqlError(f"{word}(): wrong number of arguments") from exc

            return self.accessors(call)
        column = word

        def resolve(row: Mapping[str, Any]) -> Any:
            if column not in row:  # KQL resolves names against the schema: an unknown column is an error
                raise KqlError(f"Failed to resolve scalar expression named '{column}'")
            return row[column]

        return self.accessors(resolve)

    def accessors(self, base: Expr) -> Expr:
        while self.at(".", "["):
            if self.next().text == ".":
                key: Any = self.name()
            else:
                literal = self.next()
                if literal.kind not in ("str", "num"):
                    raise KqlError("expected a string or an index in [ ]")
                key = literal.value
                self.expect("]")
            base = _access(base, key)
        return base


def _either(a: Expr, b: Expr) -> Expr:
    return lambda row: a(row) is True or b(row) is True


def _both(a: Expr, b: Expr) -> Expr:
    return lambda row: a(row) is True and b(row) is True


def _access(base: Expr, key: Any) -> Expr:
    return lambda row: _member(base(row), key)


def _default_name(tokens: Sequence[Token]) -> str:
    """KQL's name for ``project a.b`` / ``a['b']``: the last member name (``b``); ``Column1`` for an expression."""
    names = [t for t in tokens if t.kind == "word" or (t.kind == "str" and len(tokens) > 1)]
    if not tokens or tokens[0].kind != "word" or any(t.kind == "op" and t.text not in ".[]" for t in tokens):
        return "Column1"
    last = names[-1]
    return str(last.value if last.kind == "str" else last.text)


def _aggregate_name(function: str, tokens: Sequence[Token]) -> str:
    """KQL's default column of an unnamed aggregate: ``count_``, ``list_x`` for ``make_list(x)``, ``max_x`` …"""
    if function in ("count", "countif", "dcount"):
        return f"{function}_"
    prefix = {"make_list": "list", "make_set": "set", "take_any": "any"}.get(function, function)
    bare = len(tokens) == 1 and tokens[0].kind == "word"
    return f"{prefix}_{tokens[0].text}" if bare else f"{prefix}_"


def parse(text: str) -> Pipeline:
    """Parse one query; :class:`KqlError` names what is outside the subset."""
    if not text.strip():
        raise KqlError("the query is empty")
    return _Parser(text).pipeline()


# ------------------------------------------------------------------------------------------------ evaluation


def evaluate(pipeline: Pipeline, tables: Callable[[str], list[Row]]) -> list[Row]:
    """Run ``pipeline`` over ``tables(name)`` (the caller's visible rows of that table)."""
    rows = [dict(r) for r in tables(pipeline.table)]
    for stage in pipeline.stages:
        rows = _STAGES[stage.op](rows, stage.args, tables)
    return rows


def _where(rows: list[Row], args: dict[str, Any], _: Any) -> list[Row]:
    return [r for r in rows if args["expr"](r) is True]


def _project(rows: list[Row], args: dict[str, Any], _: Any) -> list[Row]:
    return [{name: expr(r) for name, expr in args["items"]} for r in rows]


def _project_away(rows: list[Row], args: dict[str, Any], _: Any) -> list[Row]:
    drop = set(args["names"])
    return [{k: v for k, v in r.items() if k not in drop} for r in rows]


def _extend(rows: list[Row], args: dict[str, Any], _: Any) -> list[Row]:
    out = []
    for r in rows:
        row = dict(r)
        for name, expr in args["items"]:
            row[name] = expr(row)
        out.append(row)
    return out


def _aggregate(function: str, args: list[Expr], members: list[Row]) -> Any:
    values = [args[0](m) for m in members] if args else []
    present = [v for v in values if v is not None]
    if function == "count":
        return len(members)
    if function == "countif":
        return sum(1 for v in values if v is True)
    if function == "dcount":
        return len({_text(v) for v in present})
    if function in ("make_list", "make_set"):
        limit = int(args[1]({})) if len(args) > 1 else 1_048_576
        if function == "make_set":
            seen: dict[str, Any] = {}
            for v in present:
                seen.setdefault(_text(v), v)
            present = list(seen.values())
        return present[:limit]
    if function == "take_any":
        return present[0] if present else None
    if function == "sum":
        return sum(v for v in present if isinstance(v, int | float))
    numbers = [v for v in present if isinstance(v, int | float | str)]
    try:
        return (min if function == "min" else max)(numbers) if numbers else None
    except TypeError:
        return None


def _summarize(rows: list[Row], args: dict[str, Any], _: Any) -> list[Row]:
    groups: dict[tuple[str, ...], tuple[list[Any], list[Row]]] = {}
    for r in rows:
        values = [expr(r) for _, expr in args["by"]]
        if any(isinstance(v, dict | list) for v in values):
            raise KqlError("summarize cannot group by a dynamic value (use tostring())")
        groups.setdefault(tuple(_text(v) for v in values), (values, []))[1].append(r)
    if not args["by"] and not groups:
        groups[()] = ([], [])
    out = []
    for values, members in groups.values():
        row: Row = {name: value for (name, _), value in zip(args["by"], values, strict=True)}
        for name, function, fargs in args["aggregates"]:
            row[name] = _aggregate(function, fargs, members)
        out.append(row)
    return out


def _join(rows: list[Row], args: dict[str, Any], tables: Callable[[str], list[Row]]) -> list[Row]:
    right_rows = evaluate(args["right"], tables)
    keys = args["keys"]
    if args["kind"] == "innerunique":  # KQL's default: the left side deduplicated on the keys first
        seen: dict[tuple[str, ...], Row] = {}
        for r in rows:
            seen.setdefault(tuple(_text(r.get(left)) for left, _ in keys), r)
        rows = list(seen.values())
    index: dict[tuple[str, ...], list[Row]] = {}
    for r in right_rows:
        index.setdefault(tuple(_text(r.get(right)) for _, right in keys), []).append(r)
    out = []
    for r in rows:
        matches = index.get(tuple(_text(r.get(left)) for left, _ in keys), [])
        for m in matches:
            out.append(_merge(r, m))
        if not matches and args["kind"] == "leftouter":
            out.append(_merge(r, {k: None for row in right_rows[:1] for k in row}))
    return out


def _merge(left: Row, right: Row) -> Row:
    """KQL's join output: the left columns, then the right ones, a clashing name suffixed ``1``."""
    row = dict(left)
    for key, value in right.items():
        name = key
        while name in row:
            name += "1"
        row[name] = value
    return row


def _sort_key(keys: list[tuple[Expr, bool]]) -> Callable[[Row], Any]:
    def key(row: Row) -> Any:
        parts = []
        for expr, descending in keys:
            value = expr(row)
            rank = (value is None, value if isinstance(value, int | float) else _text(value))
            parts.append(_Reverse(rank) if descending else rank)
        return parts

    return key


class _Reverse:
    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _Reverse) -> bool:
        try:
            return bool(other.value < self.value)
        except TypeError:
            return str(other.value) < str(self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reverse) and bool(other.value == self.value)

    __hash__ = None  # type: ignore[assignment]


def _order(rows: list[Row], args: dict[str, Any], _: Any) -> list[Row]:
    try:
        return sorted(rows, key=_sort_key(args["keys"]))
    except TypeError as exc:
        raise KqlError("order by: values of different types") from exc


def _take(rows: list[Row], args: dict[str, Any], _: Any) -> list[Row]:
    return rows[: args["n"]]


def _top(rows: list[Row], args: dict[str, Any], tables: Any) -> list[Row]:
    return _order(rows, args, tables)[: args["n"]]


def _distinct(rows: list[Row], args: dict[str, Any], _: Any) -> list[Row]:
    seen: dict[tuple[str, ...], Row] = {}
    for r in rows:
        picked = {n: r.get(n) for n in args["names"]}
        seen.setdefault(tuple(_text(v) for v in picked.values()), picked)
    return list(seen.values())


def _count(rows: list[Row], args: dict[str, Any], _: Any) -> list[Row]:
    return [{"Count": len(rows)}]


_STAGES: dict[str, Callable[[list[Row], dict[str, Any], Callable[[str], list[Row]]], list[Row]]] = {
    "where": _where,
    "project": _project,
    "project-away": _project_away,
    "extend": _extend,
    "summarize": _summarize,
    "join": _join,
    "order": _order,
    "take": _take,
    "top": _top,
    "distinct": _distinct,
    "count": _count,
}

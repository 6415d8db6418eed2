"""ABAC conditions on role assignments, as the twin's data plane honours them.

A role assignment may carry a ``condition`` (``conditionVersion`` 2.0) that narrows its grant. The shape the
Azure documentation uses (https://learn.microsoft.com/azure/role-based-access-control/conditions-format) is one
or more *action blocks* joined by ``AND``::

    (
     (
      !(ActionMatches{'<action>'} [OR ActionMatches{'<action>'} …])
     )
     OR
     (
      <expression over @Resource[…] / @Request[…] / @Principal[…] / @Environment[…] attributes>
     )
    )

For an action no ``ActionMatches`` names, ``!(…)`` is true and the grant applies unchanged; for a named action the
grant applies only if the expression is true. The twin evaluates the expression in three values (true, false,
unknown) and lets the grant apply only when it is **provably true**:

* an attribute is known only if the request tells it — see :func:`data_plane_attributes` (the account's name and
  the deployment a request names). Azure OpenAI publishes no ABAC attributes, so in Azure a guarded grant
  simply never applies to its data actions; the twin's two attributes exist so a scenario can also test the
  positive path;
* comparisons: ``StringEquals``, ``StringEqualsIgnoreCase``, ``StringNotEquals``, ``StringNotEqualsIgnoreCase``,
  ``StringStartsWith`` and ``StringStartsWithIgnoreCase`` against one quoted value; ``AND``, ``OR``, ``!`` /
  ``NOT`` and parentheses combine them;
* ``SubOperationMatches{…}``, other operators and unknown attributes are *unknown*; a condition the twin cannot
  parse at all never applies (Azure would have refused to create the assignment).

This is deliberately independent of preflight's own reading of conditions (the product reports a conditional
grant as "cannot be evaluated offline"), so the two can be compared.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from preflight.twin.access import action_matches

Truth = bool | None  # None: unknown — not provably true

_TOKEN = re.compile(
    r"""
    \s*(?:
      (?P<lparen>\() | (?P<rparen>\)) | (?P<bang>!)
    | (?P<matcher>ActionMatches|SubOperationMatches)\s*\{\s*'(?P<pattern>[^']*)'\s*\}
    | (?P<attribute>@(?:Resource|Request|Principal|Environment)\[[^\]]+\])
    | '(?P<literal>(?:[^']|'')*)'
    | (?P<word>[A-Za-z][A-Za-z0-9:]*)
    )""",
    re.VERBOSE,
)

_COMPARE: dict[str, Callable[[str, str], bool]] = {
    "stringequals": lambda have, want: have == want,
    "stringequalsignorecase": lambda have, want: have.lower() == want.lower(),
    "stringnotequals": lambda have, want: have != want,
    "stringnotequalsignorecase": lambda have, want: have.lower() != want.lower(),
    "stringstartswith": lambda have, want: have.startswith(want),
    "stringstartswithignorecase": lambda have, want: have.lower().startswith(want.lower()),
}


class ConditionSyntaxError(ValueError):
    """The condition is not in a shape the twin reads (it then never applies)."""


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str


def _tokens(condition: str) -> list[_Token]:
    out: list[_Token] = []
    position = 0
    text = condition.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ConditionSyntaxError(f"unexpected text at {position}: {text[position : position + 30]!r}")
        position = match.end()
        kind = match.lastgroup or ""
        if kind == "pattern":  # the matcher's name and its pattern come together
            kind = "matcher"
        if kind == "matcher":
            out.append(_Token(match["matcher"], match["pattern"]))
        elif kind == "literal":
            out.append(_Token("literal", match["literal"].replace("''", "'")))
        elif kind == "word":
            word = match["word"]
            out.append(_Token(word.upper() if word.upper() in ("AND", "OR", "NOT") else "operator", word))
        else:
            out.append(_Token(kind, match[kind]))
        while position < len(text) and text[position].isspace():
            position += 1
    return out


class _Evaluator:
    """Recursive descent over the tokens, evaluating as it goes (three-valued)."""

    def __init__(self, tokens: list[_Token], action: str, attributes: Mapping[str, str]) -> None:
        self.tokens, self.at = tokens, 0
        self.action = action
        self.attributes = {k.lower(): v for k, v in attributes.items()}

    def _peek(self) -> str | None:
        return self.tokens[self.at].kind if self.at < len(self.tokens) else None

    def _take(self, kind: str | None = None) -> _Token:
        if self.at >= len(self.tokens) or (kind and self.tokens[self.at].kind != kind):
            raise ConditionSyntaxError(f"expected {kind or 'more'} at token {self.at}")
        self.at += 1
        return self.tokens[self.at - 1]

    def run(self) -> Truth:
        value = self._or()
        if self.at != len(self.tokens):
            raise ConditionSyntaxError(f"unexpected {self.tokens[self.at].text!r}")
        return value

    def _or(self) -> Truth:
        values = [self._and()]
        while self._peek() == "OR":
            self._take()
            values.append(self._and())
        return True if True in values else (None if None in values else False)

    def _and(self) -> Truth:
        values = [self._unary()]
        while self._peek() == "AND":
            self._take()
            values.append(self._unary())
        return False if False in values else (None if None in values else True)

    def _unary(self) -> Truth:
        kind = self._peek()
        if kind in ("bang", "NOT"):
            self._take()
            value = self._unary()
            return None if value is None else not value
        if kind == "lparen":
            self._take()
            value = self._or()
            self._take("rparen")
            return value
        if kind == "ActionMatches":
            return action_matches(self._take().text, self.action)
        if kind == "SubOperationMatches":
            self._take()
            return None  # the twin knows no sub-operations
        if kind == "attribute":
            return self._comparison()
        raise ConditionSyntaxError(f"unexpected {self.tokens[self.at].text if kind else 'end'!r}")

    def _comparison(self) -> Truth:
        attribute = self._take("attribute").text
        operator = self._take("operator").text.lower()
        if self._peek() != "literal":  # a list ({'a', 'b'}) or another attribute: not read by the twin
            raise ConditionSyntaxError(f"{attribute} {operator}: only one quoted value is read")
        wanted = self._take("literal").text
        have = self.attributes.get(attribute.lower())
        compare = _COMPARE.get(operator)
        if have is None or compare is None:
            return None
        return compare(have, wanted)


def grant_applies(condition: str | None, action: str, attributes: Mapping[str, str]) -> bool:
    """Does an assignment with ``condition`` grant ``action`` for a request with these ``attributes``?

    No condition → yes. Otherwise only if the condition is provably true (module docstring)."""
    if not condition or not condition.strip():
        return True
    try:
        return _Evaluator(_tokens(condition), action, attributes).run() is True
    except ConditionSyntaxError:
        return False


DEPLOYMENT_NAME = "@Resource[Microsoft.CognitiveServices/accounts/deployments:name]"
ACCOUNT_NAME = "@Resource[Microsoft.CognitiveServices/accounts:name]"


def data_plane_attributes(account: Mapping[str, Any], deployment: str | None) -> dict[str, str]:
    """The attributes the twin knows about a data-plane request: the account's name and, when the request
    names one, the deployment's."""
    found = {ACCOUNT_NAME: str(account.get("name", ""))}
    if deployment:
        found[DEPLOYMENT_NAME] = deployment
    return found

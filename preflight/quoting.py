"""Where a quoted string literal begins and ends, for the small scanners that count brackets outside strings.

The error-text extractor (preflight.explain.extract: the braces of an error body printed in a log) and the
twin's KQL reader (preflight.twin.resource_graph: the commas between a call's arguments) both walk text one
character at a time and must skip ``'…'`` and ``"…"`` literals, with a backslash escaping the next character.
One tracker keeps that rule in one place; each scanner keeps only its own bracket counting.
"""

from __future__ import annotations

from dataclasses import dataclass

QUOTES = "\"'"


@dataclass
class Quotes:
    """The literal a scan is inside, fed one character at a time with :meth:`code`."""

    quote: str = ""  # the quote mark of the open literal, "" outside one
    escaped: bool = False  # the previous character inside the literal was an unescaped backslash

    def code(self, char: str) -> bool:
        """Take the next character; True when it is code (outside a literal, and not itself a quote mark)."""
        if self.quote:
            if self.escaped:
                self.escaped = False
            elif char == "\\":
                self.escaped = True
            elif char == self.quote:
                self.quote = ""
            return False
        if char in QUOTES:
            self.quote = char
            return False
        return True

    @property
    def open(self) -> bool:
        """True while a literal is unterminated (the text ended inside it)."""
        return bool(self.quote)

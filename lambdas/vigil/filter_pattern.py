"""CloudWatch Logs filter patterns for unstructured log events: the subset vigil validates and evaluates.

One implementation serves the catalog (a bad pattern is a load-time error, not a failed deploy),
the preset's tests against real-shaped log lines, and the demo (moto stores log events but does
not evaluate metric filters). It follows AWS's "Filter pattern syntax for metric filters,
subscription filters, filter log events, and Live Tail", section "Using filter patterns to match
terms in unstructured log events":

    ERROR                    the term must appear                        (case-sensitive)
    ERROR ARGUMENTS          every term must appear                      (AND)
    "INTERNAL SERVER ERROR"  an exact phrase; terms with characters other than letters, digits
                             or _ must be quoted
    ?ERROR ?ARGUMENTS        at least one of the terms must appear       (OR)
    ERROR -ARGUMENTS         ERROR must appear and ARGUMENTS must not    (exclusion)
    " "  (or an empty pattern)  every event

Valid CloudWatch but rejected here, with a reason, because vigil could not check or test them
locally: JSON patterns `{ $.field = ... }`, space-delimited patterns `[w1, w2 = ...]` and regular
expressions `%...%`. Also rejected: mixing `?term` with plain or `-term` terms, a combination AWS
gives no meaning for.

Where AWS is silent this is vigil's reading, and stated here so it can be checked: a bare term
matches a whole word (not inside a longer run of letters, digits and _: `ERROR` finds `[ERROR 400]`
but not `ERRORS`), and a quoted phrase matches anywhere, as a substring. The sqlserver preset uses
only phrases that start with a word and end in punctuation, so both readings agree on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_LENGTH = 1024  # CloudWatch's limit on a metric filter's FilterPattern
_WORD = re.compile(r"^\w+$", re.ASCII)


@dataclass(frozen=True)
class Term:
    text: str
    quoted: bool

    def found_in(self, message: str) -> bool:
        if self.quoted:
            # A blank phrase is AWS's "match everything" pattern, not a search for a space.
            return not self.text.strip() or self.text in message
        return re.search(rf"(?<!\w){re.escape(self.text)}(?!\w)", message, re.ASCII) is not None


@dataclass(frozen=True)
class FilterPattern:
    """A parsed pattern: every `required` term, at least one `any_of` term (if any), no `excluded` term."""

    source: str
    required: tuple[Term, ...] = ()
    any_of: tuple[Term, ...] = ()
    excluded: tuple[Term, ...] = ()

    def matches(self, message: str) -> bool:
        return (
            all(t.found_in(message) for t in self.required)
            and (not self.any_of or any(t.found_in(message) for t in self.any_of))
            and not any(t.found_in(message) for t in self.excluded)
        )


def parse(pattern: str) -> FilterPattern:
    """The pattern, or ValueError saying what is wrong and what is allowed."""
    if len(pattern) > MAX_LENGTH:
        raise ValueError(f"{len(pattern)} characters; CloudWatch allows at most {MAX_LENGTH}")
    stripped = pattern.strip()
    for opener, closer, what in (("{", "}", "JSON"), ("[", "]", "space-delimited"), ("%", "%", "regular-expression")):
        if stripped.startswith(opener) and stripped.endswith(closer):
            raise ValueError(
                f"{what} patterns are valid CloudWatch but vigil validates only term patterns: "
                'words, "quoted phrases", ?term (any of), -term (none of)'
            )
    required: list[Term] = []
    any_of: list[Term] = []
    excluded: list[Term] = []
    for prefix, term in _tokens(pattern):
        {"": required, "?": any_of, "-": excluded}[prefix].append(term)
    if any_of and (required or excluded):
        raise ValueError(
            "mixes ?term with plain or -term terms, which CloudWatch does not define; "
            "use only ?terms (any of them) or only plain and -terms (all of these, none of those)"
        )
    return FilterPattern(pattern, tuple(required), tuple(any_of), tuple(excluded))


def matches(pattern: str, message: str) -> bool:
    return parse(pattern).matches(message)


def _tokens(pattern: str) -> list[tuple[str, Term]]:
    """(prefix, term) pairs: prefix '' (must appear), '?' (any of) or '-' (must not appear)."""
    tokens: list[tuple[str, Term]] = []
    i, n = 0, len(pattern)
    while i < n:
        if pattern[i].isspace():
            i += 1
            continue
        prefix = pattern[i] if pattern[i] in "?-" else ""
        i += len(prefix)
        if i < n and pattern[i] == '"':
            end = pattern.find('"', i + 1)
            if end < 0:
                raise ValueError(f'unterminated quote at character {i + 1}: close the phrase with "')
            if end + 1 < n and not pattern[end + 1].isspace():
                raise ValueError(f"a space must follow the phrase closed at character {end + 1}")
            tokens.append((prefix, Term(pattern[i + 1 : end], quoted=True)))
            i = end + 1
            continue
        end = i
        while end < n and not pattern[end].isspace():
            end += 1
        word = pattern[i:end]
        if not word:
            raise ValueError(f"{prefix!r} at character {i} is not followed by a term")
        if not _WORD.match(word):
            raise ValueError(f'term {word!r} has characters other than letters, digits and _: quote it, as in "{word}"')
        tokens.append((prefix, Term(word, quoted=False)))
        i = end
    return tokens

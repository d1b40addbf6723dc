"""Value shapes: is a value a documentation placeholder, and does it look random (or like a password)?

Every rule here judges a *whole* value, never a substring of it. A random key body may hold ``todo``,
``test``, ``xxx``, ``$``, ``%`` or four equal characters by chance (a 40-character body does about
once in a few hundred), so "contains a placeholder word" would let real keys through; a placeholder
is a value whose entire shape is a template (``$PASSWORD``, ``${DB_PASS}``, ``%(password)s``,
``<your-password>``), a mask (``xxxxxxxx``, ``****``), a run or sequence (``aaaaaaaa``,
``12345678``), a known documentation example, or nothing but placeholder words (``changeme``,
``your_api_key_here``, ``P@ssw0rd!``).
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from functools import lru_cache

# The whole value is a template or reference that a program fills in.
_TEMPLATE = re.compile(
    r"""\$[A-Za-z_][A-Za-z0-9_]*                      # $PASSWORD
      | \$\{[A-Za-z_][\w.]*(?:[:?+=-][^{}]*)?\}         # ${DB_PASS}, ${DB_PASS:-dev}
      | \$\{\{[^{}]*\}\}                               # ${{ secrets.X }}
      | \$\([\w\s/.'"|:=-]+\)                          # $(cat /run/secrets/db)
      | %\([A-Za-z_][\w.]*\)[sdrifx]                   # %(password)s
      | %[A-Za-z_][\w]*%                               # %DB_PASSWORD%
      | %s
      | \{\{[\w\s.|'"()-]*\}\}                         # {{ db_password }}
      | \{[A-Za-z_][\w.]*\}                            # {password}
      | <%=?[^%]*%>                                    # <%= ENV['X'] %>
      | <[A-Za-z][\w\s.-]*>                            # <your-password>
      | \[[A-Za-z][\w\s-]*\]                           # [REDACTED]
    """,
    re.X,
)
_MASK_CHARS = frozenset("xX*•·.…#_- ")
_KNOWN_EXAMPLE_SUFFIXES = ("EXAMPLE", "EXAMPLEKEY")  # AWS's documentation convention
_REPEATED_UNIT = re.compile(r"(.{1,6}?)\1{2,}")
_LEET = str.maketrans({"@": "a", "4": "a", "0": "o", "1": "i", "3": "e", "5": "s", "$": "s", "7": "t", "!": "i"})

# Words a placeholder is made of; a value made only of these (and a few digits) is an example.
PLACEHOLDER_WORDS = frozenset({
    "your", "my", "our", "the", "an", "here", "there", "this", "that", "key", "keys", "api", "apikey", "token",
    "tokens", "secret", "secrets", "password", "passwords", "passwd", "pass", "pwd", "pw", "passphrase",
    "credential", "credentials", "auth", "access", "private", "public", "client", "change", "changeme", "me",
    "example", "examples", "sample", "samples", "dummy", "fake", "test", "tests", "testing", "demo", "placeholder",
    "redacted", "hidden", "masked", "insert", "replace", "with", "value", "values", "todo", "tbd", "fixme", "foo",
    "bar", "baz", "qux", "foobar", "abc", "xyz", "xxx", "none", "null", "nil", "undefined", "empty", "default",
    "admin", "root", "user", "username", "guest", "hunter", "letmein", "qwerty", "welcome", "dragon", "monkey",
    "login", "sesame", "db", "database", "app", "prod", "production", "dev", "development", "staging", "local",
    "goes", "put", "enter", "set", "real", "actual", "new", "old", "some", "random", "long", "strong", "super",
    "for", "to", "not", "use", "get", "from", "env", "environment", "variable", "var", "id", "string", "text",
    "mine", "yours"
})
_SEQUENCE_MIN = 6


def shannon_entropy(value: str) -> float:
    """Bits per character of ``value``'s character distribution."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def char_class(char: str) -> str | None:
    if char in "_-.":
        return None  # word separators of identifiers: neutral
    if char.isdigit():
        return "d"
    if char.islower():
        return "l"
    if char.isupper():
        return "u"
    return "s"


def char_classes(value: str) -> set[str]:
    return {k for k in map(char_class, value) if k is not None}


@lru_cache(maxsize=4096)
def _segmentable(run: str) -> bool:
    """``run`` (lowercase letters) is a concatenation of placeholder words: ``yourapikeyhere``."""
    n = len(run)
    ok = [True] + [False] * n
    for end in range(1, n + 1):
        ok[end] = any(ok[start] and run[start:end] in PLACEHOLDER_WORDS for start in range(max(0, end - 14), end))
    return ok[n]


def _made_of_placeholder_words(value: str) -> bool:
    runs = re.findall(r"[a-z]+", value)
    if not runs or sum(len(d) for d in re.findall(r"[0-9]+", value)) > 6:
        return False
    return all(len(run) > 1 and _segmentable(run) for run in runs)


def _is_sequence(value: str) -> bool:
    """``12345678``, ``abcdefgh``, ``987654``: mostly consecutive characters from start to end."""
    chars = [c for c in value.lower() if c.isalnum()]
    if len(chars) < _SEQUENCE_MIN:
        return False
    steps = [ord(b) - ord(a) for a, b in itertools.pairwise(chars)]
    return sum(1 for s in steps if s in (1, -1)) >= 0.7 * len(steps)


def is_placeholder(value: str) -> bool:
    """A documentation placeholder rather than a real credential, judged on the whole value."""
    if not value:
        return True
    stripped = value.strip("\"'`")
    if set(stripped) <= _MASK_CHARS:
        return True
    if _TEMPLATE.fullmatch(stripped):
        # a variable's name is made of words (``$DB_PASSWORD``); ``$c7HZBlypnmbKL3lq`` is a password
        return not looks_random(re.sub(r"[^A-Za-z0-9]", "", stripped))
    if stripped.upper().endswith(_KNOWN_EXAMPLE_SUFFIXES):
        return True
    most_common = Counter(stripped).most_common(1)[0][1]
    if len(stripped) >= 4 and most_common * 2 >= len(stripped):
        return True  # a mask or a run: "xxxx-xxxx-1234", "aaaaaaaaaaaa"
    if _REPEATED_UNIT.fullmatch(stripped) or _is_sequence(stripped):
        return True
    lowered = stripped.lower()
    if _made_of_placeholder_words(lowered):
        return True
    unleet = lowered.rstrip("!?.#*%&^~+=_-0123456789").translate(_LEET)
    return len(unleet) >= 4 and _made_of_placeholder_words(unleet)


def looks_random(value: str) -> bool:
    """Long enough, varied enough and alternating enough between character classes to be a key.

    Random base62/hex strings change class (lower, upper, digit, symbol) at about half their
    characters; identifiers, words, versions and numbers rarely do.
    """
    n = len(value)
    if n < 8:
        return False
    classes: set[str] = set()
    transitions = 0
    previous = None
    for char in value:
        kind = char_class(char)
        if kind is None:
            continue
        classes.add(kind)
        if previous is not None and kind != previous:
            transitions += 1
        previous = kind
    entropy = shannon_entropy(value)
    if n >= 16 and len(classes) >= 2 and entropy >= 3.3 and transitions >= n / 6:
        return True
    return len(classes) >= 3 and entropy >= 2.8 and transitions >= 5


def looks_like_password(value: str) -> bool:
    """What a person or a password manager makes for a password: 10+ characters mixing at least three
    of lower, upper, digit and symbol. Used only for a value assigned to a password-like name, where
    a word-and-digits value (``Summer2024!``) is a credential even though it is not random."""
    return len(value) >= 10 and len(char_classes(value)) >= 3 and shannon_entropy(value) >= 2.8

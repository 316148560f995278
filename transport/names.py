"""User and channel names: one normal form, no look-alikes, no internal topics.

The rule (the README's Reliability section repeats it):
- Names are normalised to NFKC: the composed and decomposed spellings of `josé` are one name,
  and the full-width look-alike of `admin` is `admin`.
- The letters of a name come from one script (Latin, Cyrillic, Greek, ...; Han may go with
  Hiragana/Katakana, Hangul or Bopomofo as those languages write names). This refuses the
  usual impersonation, a Cyrillic `a` (U+0430) inside a Latin `admin`. Whole-script look-alikes (an
  all-Cyrillic word that reads like a Latin one) stay possible: refusing them needs a
  registry of every name's skeleton, and accounts (password-claimed names) are the real
  answer to impersonation.
- Case is kept: `Ana` and `ana` are two names, as every other team's server compares names
  byte for byte.
- Names equal to the servers' own topics (`servers`, `replication`) are refused: a user
  called `replication` would receive every write of the cluster.
"""

from __future__ import annotations

import functools
import unicodedata

from confusable_homoglyphs import categories

from transport.codec import FieldError

MAX_NAME_CHARS = 64
RESERVED = frozenset({"servers", "replication"})
NEUTRAL_SCRIPTS = frozenset({"COMMON", "INHERITED"})
SCRIPT_FAMILIES = (
    frozenset({"HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"HAN", "HANGUL"}),
    frozenset({"HAN", "BOPOMOFO"}),
)


@functools.lru_cache(maxsize=65536)  # the same few names arrive in most requests
def normal_name(raw: str, label: str = "name") -> str:
    """`raw` in normal form, or FieldError with the reason."""
    name = unicodedata.normalize("NFKC", raw).strip()
    if not name:
        raise FieldError(f"field '{label}' is empty")
    if len(name) > MAX_NAME_CHARS:
        raise FieldError(f"field '{label}' is longer than {MAX_NAME_CHARS} characters")
    if any(unicodedata.category(ch)[0] in "CZ" for ch in name):
        raise FieldError(f"field '{label}' must not contain spaces or control characters")
    scripts = categories.unique_aliases(name) - NEUTRAL_SCRIPTS
    if len(scripts) > 1 and not any(scripts <= family for family in SCRIPT_FAMILIES):
        mixed = ", ".join(sorted(scripts)).lower()
        raise FieldError(f"field '{label}' mixes scripts ({mixed}): use one")
    if name in RESERVED:
        raise FieldError(f"'{name}' is reserved for the servers")
    return name

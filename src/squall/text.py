"""How squall spells things in its messages: counts with their nouns (standard library only)."""


def plural(n: int, word: str, many: str | None = None, fmt: str = "") -> str:
    """A count and its noun, singular for exactly one: ``plural(1, "track")`` is ``1 track``,
    ``plural(3, "track")`` is ``3 tracks``; ``many`` for irregular plurals (``plural(2,
    "series", "series")``), ``fmt`` a format spec for the number (``","``: ``1,058 windows``).
    The one place squall's messages, report and demo spell counts."""
    return f"{n:{fmt}} {word if n == 1 else (many or word + 's')}"

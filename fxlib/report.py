"""Plain tables for notebooks and results files: Markdown and CSV from lists of dicts.

Kept dependency-free (no pandas): the tables of this study are small, and a Markdown string
renders in Jupyter, on GitHub and in each study's ``results.md`` alike.
"""
from __future__ import annotations

import csv
import io
import math
from typing import Iterable, Mapping, Sequence


def _cell(value, digits: int) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        return f"{value:.{digits}f}" if abs(value) < 1e5 else f"{value:.3g}"
    return str(value)


def markdown_table(rows: Iterable[Mapping], columns: Sequence[str] | Mapping[str, str],
                   digits: int = 4) -> str:
    """A GitHub-flavoured Markdown table. ``columns`` is a list of keys, or {key: header}."""
    headers = dict(columns) if isinstance(columns, Mapping) else {c: c for c in columns}
    lines = ["| " + " | ".join(headers.values()) + " |",
             "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(k), digits) for k in headers) + " |")
    return "\n".join(lines) + "\n"


def csv_text(rows: Iterable[Mapping], columns: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()

"""Text that is safe to hand to people who open reports in a spreadsheet.

Company and item names come straight from customer billing exports. A name such as
``=HYPERLINK("http://evil/", "click")`` is harmless in Spark but becomes a live formula when a
finance user opens the CSV in Excel or pastes an HTML table into a sheet (CSV/formula injection,
OWASP "CSV Injection"). Every writer of human-facing files (the CSV writer and the HTML report)
passes text cells through :func:`neutralize_formula`; numbers are formatted by the writers and
never pass through it, so ``-120.00`` stays a number.
"""

from __future__ import annotations

# Characters a spreadsheet treats as the start of a formula (or that it strips before deciding,
# such as tab and carriage return), per the OWASP CSV-injection guidance.
FORMULA_TRIGGERS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")

# A leading apostrophe makes Excel, LibreOffice and Google Sheets show the cell as literal text.
FORMULA_ESCAPE = "'"


def neutralize_formula(text: str) -> str:
    """Prefix ``'`` to text that a spreadsheet would otherwise evaluate as a formula.

    Only for text cells (names, labels, reason messages). Do not pass formatted numbers: a
    negative amount such as ``-120.00`` must stay numeric for the people summing the column.
    """
    if text.startswith(FORMULA_TRIGGERS):
        return FORMULA_ESCAPE + text
    return text

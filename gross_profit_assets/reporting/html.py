"""The gross-profit report as one self-contained HTML page with inline SVG charts.

Finance users keep this page (mail it, archive it, open it on a plane), so it must render
offline: no scripts, no external stylesheets, fonts or images; a Content-Security-Policy meta
tag forbids the browser from fetching anything. Standard library only, so the report asset can
render it on the driver without Spark or a plotting stack.

Every piece of text that came from data (company names, items, reason messages, file names) is
escaped with :func:`html.escape`; labels additionally pass through
:func:`~gross_profit_assets.reporting.safe_text.neutralize_formula`, because people copy these
tables into spreadsheets. Formatted numbers never pass through it.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from gross_profit_assets.contract import SUMMARY_DIMENSIONS
from gross_profit_assets.reporting.safe_text import neutralize_formula

# A chart with hundreds of bars is unreadable; the full figures are in the tables below it.
CHART_BAR_LIMIT = 25
# Labels longer than this are cut with an ellipsis; the full text is in the tooltip.
LABEL_MAX_CHARS = 28

POSITIVE_FILL = "#2f6f9f"
NEGATIVE_FILL = "#c0392b"
AXIS_STROKE = "#555555"

CHART_WIDTH = 760
ROW_HEIGHT = 22
CHAR_WIDTH = 6.6  # approximate advance of one character at the charts' 11px font
LABEL_COLUMN_WIDTH = 200
COLUMN_PLOT_HEIGHT = 220

CENT = Decimal("0.01")
HUNDRED = Decimal(100)

DIMENSION_TITLES = {
    "month": ("By billing month", "Billing month"),
    "company": ("By company", "Company"),
    "item": ("By item", "Item"),
    "product_line": ("By product line", "Product line"),
    "country": ("By country", "Country"),
}

HEADLINE_FIGURES = (
    ("revenue_usd", "Revenue (USD)", "money"),
    ("cogs_usd", "Cost of goods sold (USD)", "money"),
    ("gross_profit_usd", "Gross profit (USD)", "money"),
    ("gross_margin", "Gross margin", "percent"),
    ("units_sold", "Units sold", "integer"),
    ("lines_reported", "Lines reported", "integer"),
    ("lines_quarantined", "Lines quarantined", "integer"),
)

# Columns of every summary table after the key: (row key, caption, kind).
SUMMARY_VALUE_COLUMNS = (
    ("lines", "Lines", "integer"),
    ("units_sold", "Units sold", "integer"),
    ("revenue_usd", "Revenue (USD)", "money"),
    ("cogs_usd", "COGS (USD)", "money"),
    ("gross_profit_usd", "Gross profit (USD)", "money"),
    ("gross_margin", "Gross margin", "percent"),
)


STYLE = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       margin: 0 auto; max-width: 1100px; padding: 24px; color: #1d2430; background: #ffffff; }
h1 { margin-bottom: 4px; }
h2 { margin-top: 36px; border-bottom: 1px solid #d8dde6; padding-bottom: 4px; }
.subtitle, .note { color: #5b6475; }
.figures { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; padding: 0; }
.figure { border: 1px solid #d8dde6; border-radius: 6px; padding: 10px 14px; min-width: 150px; }
.figure dt { font-size: 13px; color: #5b6475; }
.figure dd { margin: 4px 0 0; font-size: 22px; font-weight: 600;
             font-variant-numeric: tabular-nums; }
.neg { color: #b03022; }
.reconciliation.ok { color: #276738; }
.reconciliation.mismatch { color: #b03022; font-weight: 600; }
figure { margin: 20px 0; }
figcaption { font-weight: 600; margin-bottom: 6px; }
svg.chart { width: 100%; height: auto; max-width: 760px; display: block; }
svg.chart text { font-size: 11px; fill: #1d2430; }
table { border-collapse: collapse; margin: 8px 0 20px; font-size: 14px; }
th, td { border-bottom: 1px solid #e3e7ee; padding: 4px 10px; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tfoot td { font-weight: 600; border-top: 2px solid #1d2430; }
code { font-size: 13px; }
@media print { h2 { break-after: avoid; } figure, table { break-inside: avoid; } }
"""


@dataclass(frozen=True)
class ReportPage:
    """Everything the page shows; built by the report asset from the governed summaries.

    ``totals`` keys: lines_in, lines_reported, lines_quarantined, units_sold, revenue_usd,
    cogs_usd, gross_profit_usd, gross_margin. ``summaries`` maps a dimension of
    ``contract.SUMMARY_DIMENSIONS`` to rows with keys key, lines, units_sold, revenue_usd,
    cogs_usd, gross_profit_usd, gross_margin. Money is :class:`decimal.Decimal`; a margin is a
    ratio (0.25 means 25 %) or None when there was no revenue. ``quarantine_reasons`` holds
    (reason_code, message, line_count); ``files`` maps a label ("CSV report") to its location.
    """

    title: str
    generated_at: str
    months: list[str]
    source_files: list[str]
    totals: Mapping[str, Any]
    summaries: Mapping[str, list[Mapping[str, Any]]]
    quarantine_reasons: list[tuple[str, str, int]] = field(default_factory=list)
    files: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Bar:
    """One bar of a chart: its label as shown to people, its value and its exact tooltip."""

    label: str
    value: Decimal
    value_text: str
    tooltip: str


@dataclass(frozen=True)
class Chart:
    """A chart's name (the ``data-chart`` attribute), caption, bars and how many were cut."""

    name: str
    caption: str
    noun: str
    bars: list[Bar]
    total_bars: int
    ranking: str
    unchartable_note: str | None = None

    @property
    def omitted(self) -> int:
        return self.total_bars - len(self.bars)


# --- formatting ------------------------------------------------------------------------------


def escape(text: str) -> str:
    """HTML-escape text for element content and (double-quoted) attribute values alike."""
    return html.escape(text, quote=True)


def to_decimal(value: Any) -> Decimal | None:
    """Decimals as given; ints and numeric strings converted exactly; None stays None."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except InvalidOperation as error:
        raise ValueError(f"not a number: {value!r}") from error


def format_money(value: Any) -> str:
    """Money to the cent with thousands separators, rounded half-up (never banker's rounding)."""
    amount = to_decimal(value)
    if amount is None:
        return "n/a"
    return f"{amount.quantize(CENT, rounding=ROUND_HALF_UP):,.2f}"


def format_integer(value: Any) -> str:
    """Counts and units with thousands separators."""
    number = to_decimal(value)
    if number is None:
        return "n/a"
    return f"{number.quantize(Decimal(1), rounding=ROUND_HALF_UP):,.0f}"


def format_percent(ratio: Any) -> str:
    """A margin ratio as a percentage with 2 decimals; n/a when there was no revenue."""
    margin = to_decimal(ratio)
    if margin is None:
        return "n/a"
    return f"{(margin * HUNDRED).quantize(CENT, rounding=ROUND_HALF_UP):,.2f}%"


def exact_percent(ratio: Any) -> str:
    """A margin ratio as a percentage without losing any digit, for tooltips."""
    margin = to_decimal(ratio)
    if margin is None:
        return "n/a"
    percent = margin * HUNDRED
    if percent.as_tuple().exponent > -2 or percent == percent.quantize(CENT):
        percent = percent.quantize(CENT)
    else:
        percent = percent.normalize()
    return f"{percent:f}%"


def format_figure(value: Any, kind: str) -> str:
    """A headline or table figure by kind: money, percent or integer."""
    formatter: Callable[[Any], str] = {
        "money": format_money,
        "percent": format_percent,
        "integer": format_integer,
    }[kind]
    return formatter(value)


def is_negative(value: Any) -> bool:
    number = to_decimal(value)
    return number is not None and number < 0


def label_text(key: Any) -> str:
    """The text shown for a summary key: formula-neutralised, '(blank)' for missing keys."""
    if key is None or str(key).strip() == "":
        return "(blank)"
    return neutralize_formula(str(key))


def truncate(text: str, max_chars: int = LABEL_MAX_CHARS) -> str:
    """Cut long labels with an ellipsis so they fit the chart's label column."""
    if len(text) <= max_chars:
        return text
    return text[: max_chars - 1] + "\u2026"


def svg_number(value: float) -> str:
    """Compact SVG coordinates: two decimals, no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def text_width(text: str) -> float:
    return len(text) * CHAR_WIDTH


# --- chart data ------------------------------------------------------------------------------


def rank_top(bars: list[Bar], limit: int = CHART_BAR_LIMIT) -> list[Bar]:
    """The ``limit`` bars of largest absolute value: big losses matter as much as big wins."""
    ranked = sorted(bars, key=lambda bar: (-abs(bar.value), bar.label))
    return ranked[:limit]


def by_value_descending(bars: list[Bar]) -> list[Bar]:
    return sorted(bars, key=lambda bar: (-bar.value, bar.label))


def by_label(bars: list[Bar]) -> list[Bar]:
    return sorted(bars, key=lambda bar: bar.label)


def money_context(row: Mapping[str, Any]) -> str:
    return (
        f"revenue {format_money(row.get('revenue_usd'))} USD, "
        f"COGS {format_money(row.get('cogs_usd'))} USD, "
        f"margin {exact_percent(row.get('gross_margin'))}"
    )


def gross_profit_bar(row: Mapping[str, Any]) -> Bar:
    label = label_text(row.get("key"))
    value = to_decimal(row.get("gross_profit_usd")) or Decimal(0)
    text = format_money(value)
    return Bar(label, value, text, f"{label}: gross profit {text} USD ({money_context(row)})")


def units_bar(row: Mapping[str, Any]) -> Bar:
    label = label_text(row.get("key"))
    value = to_decimal(row.get("units_sold")) or Decimal(0)
    text = format_integer(value)
    lines = format_integer(row.get("lines"))
    noun = "line" if lines == "1" else "lines"
    return Bar(label, value, text, f"{label}: {text} units sold in {lines} {noun}")


def margin_bar(row: Mapping[str, Any]) -> Bar:
    label = label_text(row.get("key"))
    value = to_decimal(row.get("gross_margin")) or Decimal(0)
    return Bar(
        label,
        value,
        format_percent(value),
        f"{label}: gross margin {exact_percent(value)} (gross profit "
        f"{format_money(row.get('gross_profit_usd'))} USD on revenue "
        f"{format_money(row.get('revenue_usd'))} USD)",
    )


def build_chart(
    name: str,
    caption: str,
    noun: str,
    rows: Sequence[Mapping[str, Any]],
    to_bar: Callable[[Mapping[str, Any]], Bar],
    order: Callable[[list[Bar]], list[Bar]],
    ranking: str,
    unchartable_note: str | None = None,
) -> Chart:
    """Rank all rows, keep the top bars, then order them for reading."""
    bars = [to_bar(row) for row in rows]
    return Chart(name, caption, noun, order(rank_top(bars)), len(bars), ranking, unchartable_note)


def report_charts(summaries: Mapping[str, list[Mapping[str, Any]]]) -> list[Chart]:
    """The four charts the finance team asked for, in reading order."""
    product_lines = list(summaries.get("product_line", []))
    with_margin = [row for row in product_lines if row.get("gross_margin") is not None]
    without_margin = len(product_lines) - len(with_margin)
    margin_note = (
        f"{without_margin} product line(s) without revenue have no margin and are not charted."
        if without_margin
        else None
    )
    return [
        build_chart(
            "gross_profit_by_company", "Gross profit by company (USD)", "companies",
            summaries.get("company", []), gross_profit_bar, by_value_descending,
            "absolute gross profit",
        ),
        build_chart(
            "units_by_item", "Units sold by item", "items",
            summaries.get("item", []), units_bar, by_value_descending, "units sold",
        ),
        build_chart(
            "margin_by_product_line", "Gross margin by product line", "product lines",
            with_margin, margin_bar, by_value_descending, "absolute margin", margin_note,
        ),
        build_chart(
            "gross_profit_by_month", "Gross profit by billing month (USD)", "months",
            summaries.get("month", []), gross_profit_bar, by_label, "absolute gross profit",
        ),
    ]


# --- SVG -------------------------------------------------------------------------------------


def bar_rect(bar: Bar, x: float, y: float, width: float, height: float) -> str:
    """One bar with a tooltip; negative bars get their own class and colour."""
    negative = bar.value < 0
    return (
        f'<rect class="bar {"negative" if negative else "positive"}" '
        f'x="{svg_number(x)}" y="{svg_number(y)}" '
        f'width="{svg_number(width)}" height="{svg_number(height)}" '
        f'fill="{NEGATIVE_FILL if negative else POSITIVE_FILL}" '
        f'data-label="{escape(bar.label)}" data-value="{escape(str(bar.value))}">'
        f"<title>{escape(bar.tooltip)}</title></rect>"
    )


def svg_open(chart: Chart, height: float) -> str:
    """The chart's root element: findable by tests, described for screen readers."""
    shown = len(chart.bars)
    label = f"{chart.caption}: {shown} {chart.noun}"
    if chart.omitted:
        label += f" (top {shown} of {chart.total_bars} by {chart.ranking})"
    return (
        f'<svg class="chart" data-chart="{escape(chart.name)}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {CHART_WIDTH} {svg_number(height)}" '
        f'width="{CHART_WIDTH}" height="{svg_number(height)}">'
        f"<title>{escape(label)}</title>"
    )


def chart_label(text: str, x: float, y: float, anchor: str, extra: str = "") -> str:
    """A text label; truncated labels carry the full text in their own tooltip."""
    shown = truncate(text)
    tooltip = f"<title>{escape(text)}</title>" if shown != text else ""
    return (
        f'<text x="{svg_number(x)}" y="{svg_number(y)}" text-anchor="{anchor}"{extra}>'
        f"{escape(shown)}{tooltip}</text>"
    )


def value_range(bars: list[Bar]) -> tuple[float, float]:
    """The value axis always includes zero so bar lengths compare honestly."""
    values = [float(bar.value) for bar in bars]
    return min(0.0, *values), max(0.0, *values)


def scale(low: float, high: float, start: float, end: float) -> Callable[[float], float]:
    """Linear map from values to pixels; a flat range (all zeros) maps to ``start``."""
    span = high - low
    if span == 0:
        return lambda value: start
    return lambda value: start + (value - low) / span * (end - start)


def horizontal_bar_chart(chart: Chart) -> str:
    """Bars growing right from zero for positive values and left, in red, for negative ones."""
    low, high = value_range(chart.bars)
    negatives = [bar for bar in chart.bars if bar.value < 0]
    positives = [bar for bar in chart.bars if bar.value > 0]
    pad_left = max((text_width(bar.value_text) for bar in negatives), default=0) + 6
    pad_right = max((text_width(bar.value_text) for bar in positives), default=0) + 6
    plot_start = LABEL_COLUMN_WIDTH + 8 + pad_left
    plot_end = CHART_WIDTH - 4 - pad_right
    x_of = scale(low, high, plot_start, plot_end)
    zero_x = x_of(0.0)
    top = 8
    height = top + len(chart.bars) * ROW_HEIGHT + 22
    parts = [svg_open(chart, height)]
    for index, bar in enumerate(chart.bars):
        row_y = top + index * ROW_HEIGHT
        text_y = row_y + ROW_HEIGHT / 2 + 4
        end_x = x_of(float(bar.value))
        width = abs(end_x - zero_x)
        if bar.value != 0:
            width = max(width, 1.0)
        left = zero_x - width if bar.value < 0 else zero_x
        parts.append(chart_label(bar.label, LABEL_COLUMN_WIDTH, text_y, "end"))
        parts.append(bar_rect(bar, left, row_y + 3, width, ROW_HEIGHT - 6))
        if bar.value < 0:
            parts.append(chart_label(bar.value_text, left - 4, text_y, "end", ' class="value"'))
        else:
            parts.append(
                chart_label(bar.value_text, left + width + 4, text_y, "start", ' class="value"')
            )
    axis_bottom = top + len(chart.bars) * ROW_HEIGHT
    parts.append(
        f'<line x1="{svg_number(zero_x)}" y1="{top}" x2="{svg_number(zero_x)}" '
        f'y2="{svg_number(axis_bottom + 4)}" stroke="{AXIS_STROKE}" stroke-width="1"/>'
    )
    parts.append(chart_label("0", zero_x, axis_bottom + 16, "middle"))
    parts.append("</svg>")
    return "".join(parts)


def column_chart(chart: Chart) -> str:
    """Vertical columns in time order (months), losses hanging below the zero line in red."""
    low, high = value_range(chart.bars)
    axis_labels = [format_money(high), format_money(low)]
    left_margin = max(text_width(text) for text in axis_labels) + 14
    plot_top, plot_bottom = 12.0, 12.0 + COLUMN_PLOT_HEIGHT
    y_of = scale(low, high, plot_bottom, plot_top)
    zero_y = y_of(0.0)
    slot = (CHART_WIDTH - left_margin - 8) / len(chart.bars)
    column_width = max(slot * 0.7, 1.0)
    rotate = len(chart.bars) > 8
    height = plot_bottom + (64 if rotate else 28)
    parts = [svg_open(chart, height)]
    for text, value in ((axis_labels[0], high), (axis_labels[1], low)):
        if value != 0:
            parts.append(chart_label(text, left_margin - 6, y_of(value) + 4, "end"))
    parts.append(chart_label("0", left_margin - 6, zero_y + 4, "end"))
    for index, bar in enumerate(chart.bars):
        center = left_margin + slot * index + slot / 2
        end_y = y_of(float(bar.value))
        bar_height = abs(end_y - zero_y)
        if bar.value != 0:
            bar_height = max(bar_height, 1.0)
        top = zero_y if bar.value < 0 else zero_y - bar_height
        parts.append(bar_rect(bar, center - column_width / 2, top, column_width, bar_height))
        label_y = plot_bottom + 16
        if rotate:
            transform = f' transform="rotate(-45 {svg_number(center)} {svg_number(label_y)})"'
            parts.append(chart_label(bar.label, center, label_y, "end", transform))
        else:
            parts.append(chart_label(bar.label, center, label_y, "middle"))
    parts.append(
        f'<line x1="{svg_number(left_margin)}" y1="{svg_number(zero_y)}" '
        f'x2="{CHART_WIDTH - 4}" y2="{svg_number(zero_y)}" stroke="{AXIS_STROKE}" '
        f'stroke-width="1"/>'
    )
    parts.append("</svg>")
    return "".join(parts)


def chart_figure(chart: Chart, draw: Callable[[Chart], str]) -> str:
    """A chart with its caption, or a 'No data' note instead of an empty drawing."""
    parts = [f'<figure id="{escape(chart.name)}"><figcaption>{escape(chart.caption)}</figcaption>']
    if not chart.bars:
        parts.append(
            f'<p class="no-data" data-chart="{escape(chart.name)}">No data: '
            f"no {escape(chart.noun)} to chart.</p>"
        )
    else:
        parts.append(draw(chart))
        if chart.omitted:
            parts.append(
                f'<p class="note">Showing the top {len(chart.bars)} of {chart.total_bars} '
                f"{escape(chart.noun)} by {escape(chart.ranking)}; every row is in the "
                f"table below.</p>"
            )
    if chart.unchartable_note:
        parts.append(f'<p class="note">{escape(chart.unchartable_note)}</p>')
    parts.append("</figure>")
    return "".join(parts)


# --- page sections ---------------------------------------------------------------------------


def headline_section(totals: Mapping[str, Any]) -> str:
    """The figures a reader looks for first, and whether every input line is accounted for."""
    figures = []
    for key, caption, kind in HEADLINE_FIGURES:
        value = totals.get(key)
        negative = ' class="neg"' if kind != "integer" and is_negative(value) else ""
        figures.append(
            f'<div class="figure"><dt>{escape(caption)}</dt>'
            f'<dd data-figure="{key}"{negative}>{escape(format_figure(value, kind))}</dd></div>'
        )
    return (
        '<section id="headline" aria-label="Headline figures"><dl class="figures">'
        + "".join(figures)
        + "</dl>"
        + reconciliation_note(totals)
        + "</section>"
    )


def reconciliation_note(totals: Mapping[str, Any]) -> str:
    """Raw lines = reported + quarantined; say so plainly, and loudly when it does not hold."""
    lines_in = to_decimal(totals.get("lines_in"))
    reported = to_decimal(totals.get("lines_reported")) or Decimal(0)
    quarantined = to_decimal(totals.get("lines_quarantined")) or Decimal(0)
    if lines_in is None:
        return ""
    detail = (
        f"{format_integer(lines_in)} input lines: {format_integer(reported)} reported + "
        f"{format_integer(quarantined)} quarantined."
    )
    if lines_in == reported + quarantined:
        return f'<p class="reconciliation ok">Every input line is accounted for: {detail}</p>'
    return (
        '<p class="reconciliation mismatch">Input lines do not reconcile: '
        f"{detail} Do not use these figures until this is explained.</p>"
    )


def number_cell(value: Any, kind: str) -> str:
    negative = " neg" if kind != "integer" and is_negative(value) else ""
    return f'<td class="num{negative}">{escape(format_figure(value, kind))}</td>'


def sorted_summary_rows(
    dimension: str, rows: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """Months in calendar order; everything else largest gross profit first."""
    if dimension == "month":
        return sorted(rows, key=lambda row: str(row.get("key")))
    return sorted(
        rows,
        key=lambda row: (
            -(to_decimal(row.get("gross_profit_usd")) or Decimal(0)),
            str(row.get("key")),
        ),
    )


def summary_table(
    dimension: str, rows: Sequence[Mapping[str, Any]], totals: Mapping[str, Any]
) -> str:
    """One summary dimension as a table, closed by the report totals."""
    heading, key_caption = DIMENSION_TITLES.get(
        dimension, (f"By {dimension.replace('_', ' ')}", dimension.replace("_", " ").capitalize())
    )
    parts = [f'<h3 id="summary-{escape(dimension)}">{escape(heading)}</h3>']
    if not rows:
        parts.append(f'<p class="no-data" data-dimension="{escape(dimension)}">No data.</p>')
        return "".join(parts)
    header = f'<th scope="col">{escape(key_caption)}</th>' + "".join(
        f'<th scope="col" class="num">{escape(caption)}</th>'
        for _, caption, _ in SUMMARY_VALUE_COLUMNS
    )
    body = []
    for row in sorted_summary_rows(dimension, rows):
        cells = "".join(number_cell(row.get(key), kind) for key, _, kind in SUMMARY_VALUE_COLUMNS)
        body.append(f'<tr><th scope="row">{escape(label_text(row.get("key")))}</th>{cells}</tr>')
    total_values = dict(totals)
    total_values["lines"] = totals.get("lines_reported")
    footer = "".join(
        number_cell(total_values.get(key), kind) for key, _, kind in SUMMARY_VALUE_COLUMNS
    )
    parts.append(
        f'<table class="summary" data-dimension="{escape(dimension)}">'
        f"<thead><tr>{header}</tr></thead><tbody>{''.join(body)}</tbody>"
        f'<tfoot><tr><td>Total</td>{footer}</tr></tfoot></table>'
    )
    return "".join(parts)


def summaries_section(
    summaries: Mapping[str, list[Mapping[str, Any]]], totals: Mapping[str, Any]
) -> str:
    """The contract's dimensions in their declared order, then any extra ones."""
    dimensions = list(SUMMARY_DIMENSIONS) + [d for d in summaries if d not in SUMMARY_DIMENSIONS]
    tables = "".join(summary_table(d, summaries.get(d, []), totals) for d in dimensions)
    return f'<section id="summaries"><h2>Summaries</h2>{tables}</section>'


def quarantine_section(reasons: Sequence[tuple[str, str, int]], totals: Mapping[str, Any]) -> str:
    """Why lines were held back, so nobody has to ask where the missing revenue went."""
    parts = ['<section id="quarantine"><h2>Quarantined lines</h2>']
    if not reasons:
        parts.append('<p class="note">No line was quarantined.</p></section>')
        return "".join(parts)
    parts.append(
        f'<p class="note">{escape(format_integer(totals.get("lines_quarantined")))} line(s) '
        "could not be reported. A line is counted once for every reason that applies, so the "
        "counts can add up to more than the number of quarantined lines.</p>"
    )
    rows = "".join(
        f"<tr><td><code>{escape(neutralize_formula(str(code)))}</code></td>"
        f"<td>{escape(neutralize_formula(str(message)))}</td>{number_cell(count, 'integer')}</tr>"
        for code, message, count in sorted(reasons, key=lambda reason: (-int(reason[2]), reason[0]))
    )
    parts.append(
        '<table class="quarantine"><thead><tr><th scope="col">Reason</th>'
        '<th scope="col">Meaning</th><th scope="col" class="num">Lines</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></section>"
    )
    return "".join(parts)


def build_section(report: ReportPage) -> str:
    """When and from what the page was built, and where its machine-readable twins live."""
    sources = "".join(
        f"<li><code>{escape(neutralize_formula(source))}</code></li>"
        for source in report.source_files
    )
    outputs = "".join(
        f"<dt>{escape(neutralize_formula(label))}</dt><dd><code>{escape(path)}</code></dd>"
        for label, path in report.files.items()
    )
    months = ", ".join(escape(neutralize_formula(month)) for month in report.months) or "none"
    return (
        '<footer id="build"><h2>How this report was built</h2><dl>'
        f"<dt>Generated at</dt><dd><time>{escape(report.generated_at)}</time></dd>"
        f"<dt>Billing months</dt><dd>{months}</dd>"
        f"<dt>Source files</dt><dd><details><summary>{len(report.source_files)} file(s)"
        f"</summary><ul>{sources}</ul></details></dd></dl>"
        + (f'<h3>Report files</h3><dl class="outputs">{outputs}</dl>' if outputs else "")
        + "</footer>"
    )


def charts_section(summaries: Mapping[str, list[Mapping[str, Any]]]) -> str:
    drawers: dict[str, Callable[[Chart], str]] = {"gross_profit_by_month": column_chart}
    figures = "".join(
        chart_figure(chart, drawers.get(chart.name, horizontal_bar_chart))
        for chart in report_charts(summaries)
    )
    return f'<section id="charts"><h2>Charts</h2>{figures}</section>'


def render_report_html(report: ReportPage) -> str:
    """The whole page. Deterministic for a given ``ReportPage`` (no clock, no randomness)."""
    title = escape(report.title)
    months = ", ".join(report.months)
    subtitle = (
        f"Billing months: {escape(months) if months else 'none'} · generated at "
        f"{escape(report.generated_at)} · amounts in USD"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>{title}</title><style>{STYLE}</style></head><body>"
        f'<header><h1>{title}</h1><p class="subtitle">{subtitle}</p></header>'
        + headline_section(report.totals)
        + charts_section(report.summaries)
        + summaries_section(report.summaries, report.totals)
        + quarantine_section(report.quarantine_reasons, report.totals)
        + build_section(report)
        + "</body></html>\n"
    )

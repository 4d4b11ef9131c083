"""The HTML report: charts findable and exact, text escaped and formula-safe, edge cases drawn."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from html.parser import HTMLParser
from typing import Any

import pytest

from gross_profit_assets.reporting.html import (
    CHART_BAR_LIMIT,
    ReportPage,
    exact_percent,
    format_money,
    format_percent,
    render_report_html,
)
from gross_profit_assets.reporting.safe_text import neutralize_formula

CHART_NAMES = (
    "gross_profit_by_company",
    "units_by_item",
    "margin_by_product_line",
    "gross_profit_by_month",
)
VOID_ELEMENTS = {"meta", "link", "br", "hr", "img", "input", "col", "area", "base", "wbr"}


def ratio(profit: Decimal, revenue: Decimal) -> Decimal | None:
    """Margin as the summaries carry it: from sums, 6 places, half-up; None without revenue."""
    if not revenue:
        return None
    return (profit / revenue).quantize(Decimal("0.000001"), ROUND_HALF_UP)


def summary_row(key: str, revenue: str, cogs: str, units: int = 10, lines: int = 1) -> dict:
    revenue_usd, cogs_usd = Decimal(revenue), Decimal(cogs)
    profit = revenue_usd - cogs_usd
    margin = ratio(profit, revenue_usd)
    return {
        "key": key,
        "lines": lines,
        "units_sold": units,
        "revenue_usd": revenue_usd,
        "cogs_usd": cogs_usd,
        "gross_profit_usd": profit,
        "gross_margin": margin,
    }


def totals_of(rows: list[dict], quarantined: int = 0) -> dict[str, Any]:
    revenue = sum((row["revenue_usd"] for row in rows), Decimal(0))
    cogs = sum((row["cogs_usd"] for row in rows), Decimal(0))
    reported = sum(row["lines"] for row in rows)
    return {
        "lines_in": reported + quarantined,
        "lines_reported": reported,
        "lines_quarantined": quarantined,
        "units_sold": sum(row["units_sold"] for row in rows),
        "revenue_usd": revenue,
        "cogs_usd": cogs,
        "gross_profit_usd": revenue - cogs,
        "gross_margin": ratio(revenue - cogs, revenue),
    }


def make_page(summaries: dict[str, list[dict]], **overrides: Any) -> ReportPage:
    rows = summaries.get("company", [])
    values: dict[str, Any] = {
        "title": "Gross profit report",
        "generated_at": "2024-03-01T10:00:00+00:00",
        "months": ["2023-07"],
        "source_files": ["billing/billing_month=2023-07/billing_data_dairy_07_2023.csv"],
        "totals": totals_of(rows, quarantined=2),
        "summaries": summaries,
        "quarantine_reasons": [("missing_units", "no units_sold record for (id, item_sold)", 2)],
        "files": {"CSV report": "/lake/report/gross_profit.csv"},
    }
    values.update(overrides)
    return ReportPage(**values)


@pytest.fixture
def seed_like_page() -> ReportPage:
    companies = [
        summary_row("Lone Star Lactose", "3525.00", "2250.00", units=900),
        summary_row("Seattle Creamery", "5000.00", "5120.00", units=1600),
        summary_row("Las Vegas Lacto", "4700.00", "5100.00", units=1500),
        summary_row("Big Account", "1234567.89", "0.00", units=7),
    ]
    items = [
        summary_row("Artisan Cheese", "3525.00", "2250.00", units=900),
        summary_row("Camembert Cheese", "5000.00", "5120.00", units=1600),
    ]
    lines = [
        summary_row("Dairy", "3525.00", "2250.00"),
        summary_row("Bakery", "100.00", "150.00"),
        summary_row("Beverages", "300.00", "100.00"),
    ]
    months = [summary_row("2023-07", "10000.00", "9000.00"), summary_row("2023-06", "500", "800")]
    countries = [summary_row("US", "10000.00", "9000.00")]
    return make_page(
        {
            "company": companies,
            "item": items,
            "product_line": lines,
            "month": months,
            "country": countries,
        }
    )


class Element:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: "Element | None") -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Element] = []
        self.text = ""

    def find_all(self, tag: str) -> list["Element"]:
        found = []
        for child in self.children:
            if child.tag == tag:
                found.append(child)
            found.extend(child.find_all(tag))
        return found

    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())


class TreeBuilder(HTMLParser):
    """A small DOM built with html.parser that fails on any unbalanced tag."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {}, None)
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs), self.current)
        self.current.children.append(element)
        if tag not in VOID_ELEMENTS:
            self.current = element

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.current.children.append(Element(tag, dict(attrs), self.current))

    def handle_endtag(self, tag: str) -> None:
        assert self.current.tag == tag, f"</{tag}> closes <{self.current.tag}>"
        assert self.current.parent is not None
        self.current = self.current.parent

    def handle_data(self, data: str) -> None:
        self.current.text += data


def parse(page: str) -> Element:
    builder = TreeBuilder()
    builder.feed(page)
    builder.close()
    assert builder.current is builder.root, f"<{builder.current.tag}> never closed"
    return builder.root


def charts(root: Element) -> dict[str, Element]:
    return {
        svg.attrs["data-chart"]: svg for svg in root.find_all("svg") if "chart" in svg.classes()
    }


def bars(svg: Element) -> list[Element]:
    return [rect for rect in svg.find_all("rect") if "bar" in rect.classes()]


def by_label(svg: Element) -> dict[str, Element]:
    return {bar.attrs["data-label"]: bar for bar in bars(svg)}


def tooltip(element: Element) -> str:
    titles = [child for child in element.children if child.tag == "title"]
    assert len(titles) == 1
    return titles[0].text


def test_page_has_four_accessible_charts_with_one_bar_per_row(seed_like_page: ReportPage) -> None:
    root = parse(render_report_html(seed_like_page))
    found = charts(root)
    assert set(found) == set(CHART_NAMES)
    expected_bars = {
        "gross_profit_by_company": 4,
        "units_by_item": 2,
        "margin_by_product_line": 3,
        "gross_profit_by_month": 2,
    }
    for name, svg in found.items():
        assert svg.attrs["role"] == "img"
        assert svg.attrs["aria-label"]
        assert tooltip(svg)
        assert len(bars(svg)) == expected_bars[name], name
        assert all(tooltip(bar) for bar in bars(svg))


def test_tooltips_give_exact_values(seed_like_page: ReportPage) -> None:
    root = parse(render_report_html(seed_like_page))
    company = by_label(charts(root)["gross_profit_by_company"])
    assert "gross profit 1,234,567.89 USD" in tooltip(company["Big Account"])
    assert company["Big Account"].attrs["data-value"] == "1234567.89"
    assert "gross profit -120.00 USD" in tooltip(company["Seattle Creamery"])
    units = by_label(charts(root)["units_by_item"])
    assert tooltip(units["Camembert Cheese"]).startswith("Camembert Cheese: 1,600 units sold")
    margins = by_label(charts(root)["margin_by_product_line"])
    # 1275 / 3525 = 0.361702 (rounded half-up to 6 places by the summary), shown in full.
    assert "gross margin 36.1702%" in tooltip(margins["Dairy"])
    assert "gross margin -50.00%" in tooltip(margins["Bakery"])


def test_months_are_charted_in_calendar_order(seed_like_page: ReportPage) -> None:
    root = parse(render_report_html(seed_like_page))
    labels = [bar.attrs["data-label"] for bar in bars(charts(root)["gross_profit_by_month"])]
    assert labels == ["2023-06", "2023-07"]


def test_negative_bars_are_left_of_zero_in_their_own_colour(seed_like_page: ReportPage) -> None:
    root = parse(render_report_html(seed_like_page))
    svg = charts(root)["gross_profit_by_company"]
    zero_x = float(svg.find_all("line")[0].attrs["x1"])
    negatives = [bar for bar in bars(svg) if Decimal(bar.attrs["data-value"]) < 0]
    positives = [bar for bar in bars(svg) if Decimal(bar.attrs["data-value"]) > 0]
    assert len(negatives) == 2 and len(positives) == 2
    for bar in negatives:
        assert "negative" in bar.classes()
        right = float(bar.attrs["x"]) + float(bar.attrs["width"])
        assert right == pytest.approx(zero_x, abs=0.02)
    for bar in positives:
        assert "positive" in bar.classes()
        assert float(bar.attrs["x"]) == pytest.approx(zero_x, abs=0.02)
    negative_fills = {bar.attrs["fill"] for bar in negatives}
    assert negative_fills.isdisjoint({bar.attrs["fill"] for bar in positives})


def test_all_negative_values_draw_every_bar_leftwards() -> None:
    rows = [summary_row(f"Loss {n}", "100.00", str(100 + n * 50)) for n in range(1, 6)]
    page = make_page({"company": rows, "month": [summary_row("2023-07", "100", "900")]})
    root = parse(render_report_html(page))
    svg = charts(root)["gross_profit_by_company"]
    zero_x = float(svg.find_all("line")[0].attrs["x1"])
    drawn = bars(svg)
    assert len(drawn) == 5
    assert all("negative" in bar.classes() for bar in drawn)
    assert all(float(bar.attrs["x"]) + float(bar.attrs["width"]) <= zero_x + 0.02 for bar in drawn)
    widths = [float(bar.attrs["width"]) for bar in drawn]
    assert max(widths) > 0 and widths == sorted(widths)  # largest loss last, longest bar
    month = bars(charts(root)["gross_profit_by_month"])
    assert len(month) == 1 and "negative" in month[0].classes()


def test_no_rows_shows_no_data_notes_instead_of_charts() -> None:
    page = make_page({}, totals=totals_of([], quarantined=3), quarantine_reasons=[])
    html = render_report_html(page)
    root = parse(html)
    assert charts(root) == {}
    notes = [p for p in root.find_all("p") if "no-data" in p.classes() and "data-chart" in p.attrs]
    assert sorted(p.attrs["data-chart"] for p in notes) == sorted(CHART_NAMES)
    assert "No data" in html
    assert "No line was quarantined." in html


def test_one_row_draws_one_bar_per_chart() -> None:
    row = summary_row("Only One", "10.00", "4.00")
    dimensions = ("company", "item", "product_line", "month", "country")
    page = make_page({dimension: [dict(row)] for dimension in dimensions})
    found = charts(parse(render_report_html(page)))
    assert {name: len(bars(svg)) for name, svg in found.items()} == dict.fromkeys(CHART_NAMES, 1)


def test_many_rows_are_capped_at_the_top_by_absolute_value_and_say_so() -> None:
    rows = [summary_row(f"Company {n:03d}", str(1000 + n), "1000.00") for n in range(40)]
    rows.append(summary_row("Huge Loss", "1.00", "99999.00"))
    page = make_page({"company": rows})
    html = render_report_html(page)
    svg = charts(parse(html))["gross_profit_by_company"]
    drawn = {bar.attrs["data-label"] for bar in bars(svg)}
    assert len(drawn) == CHART_BAR_LIMIT
    assert "Huge Loss" in drawn  # the largest absolute value, though negative
    assert drawn - {"Huge Loss"} == {f"Company {n:03d}" for n in range(16, 40)}
    assert f"Showing the top {CHART_BAR_LIMIT} of 41 companies" in html
    assert "top 25 of 41" in svg.attrs["aria-label"]


def test_long_names_are_truncated_with_the_full_name_in_the_tooltip() -> None:
    name = "The Extraordinarily Long Dairy Cooperative of Northern Saskatchewan"
    page = make_page({"company": [summary_row(name, "10.00", "4.00")]})
    svg = charts(parse(render_report_html(page)))["gross_profit_by_company"]
    label = next(text for text in svg.find_all("text") if text.text.startswith("The Extra"))
    assert label.text.endswith("\u2026") and len(label.text) <= 28
    assert tooltip(label) == name
    assert tooltip(bars(svg)[0]).startswith(name + ":")


def test_text_from_data_is_escaped_everywhere() -> None:
    evil = '<script>alert("x")</script>'
    page = make_page(
        {"company": [summary_row(evil, "10.00", "4.00")], "item": [summary_row("A & B", "1", "0")]},
        title="Report <b>bold</b>",
        source_files=['billing/"><img src=x onerror=alert(1)>.csv'],
        quarantine_reasons=[("missing_units", "<i>no units</i>", 1)],
    )
    html = render_report_html(page)
    assert "<script" not in html
    assert "<img" not in html and "<b>" not in html and "<i>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "A &amp; B" in html
    root = parse(html)
    assert not root.find_all("script") and not root.find_all("img")


def test_formulas_in_labels_are_neutralised_but_numbers_are_not() -> None:
    rows = [
        summary_row('=HYPERLINK("http://evil.example","x")', "10.00", "130.00"),
        summary_row("+Plus Foods", "10.00", "4.00"),
        summary_row("@Home Grocers", "10.00", "4.00"),
        summary_row("-Minus Market", "10.00", "4.00"),
    ]
    html = render_report_html(make_page({"company": rows}))
    root = parse(html)
    svg = charts(root)["gross_profit_by_company"]
    labels = {bar.attrs["data-label"] for bar in bars(svg)}
    assert labels == {
        "'=HYPERLINK(\"http://evil.example\",\"x\")",
        "'+Plus Foods",
        "'@Home Grocers",
        "'-Minus Market",
    }
    table = next(t for t in root.find_all("table") if t.attrs.get("data-dimension") == "company")
    row_heads = [th.text for th in table.find_all("th") if th.attrs.get("scope") == "row"]
    assert all(head.startswith("'") for head in row_heads)
    cells = [td.text for td in table.find_all("td")]
    assert "-120.00" in cells and "'-120.00" not in html
    assert "-1,200.00%" in cells


def test_summary_tables_format_money_and_margins(seed_like_page: ReportPage) -> None:
    root = parse(render_report_html(seed_like_page))
    tables = {
        table.attrs["data-dimension"]: table
        for table in root.find_all("table")
        if "data-dimension" in table.attrs
    }
    assert set(tables) == {"month", "company", "item", "product_line", "country"}
    cells = [td.text for td in tables["company"].find_all("td")]
    assert "1,234,567.89" in cells and "36.17%" in cells and "-400.00" in cells
    footer = tables["company"].find_all("tfoot")[0]
    assert [td.text for td in footer.find_all("td")][0] == "Total"


def test_headline_and_build_information(seed_like_page: ReportPage) -> None:
    html = render_report_html(seed_like_page)
    root = parse(html)
    figures = {
        dd.attrs["data-figure"]: dd.text for dd in root.find_all("dd") if "data-figure" in dd.attrs
    }
    assert figures["revenue_usd"] == "1,247,792.89"
    assert figures["gross_profit_usd"] == "1,235,322.89"
    assert figures["lines_quarantined"] == "2"
    assert re.fullmatch(r"\d+\.\d\d%", figures["gross_margin"])
    assert "Every input line is accounted for" in html
    assert "2024-03-01T10:00:00+00:00" in html
    assert "billing_data_dairy_07_2023.csv" in html and "/lake/report/gross_profit.csv" in html
    assert "missing_units" in html


def test_reconciliation_mismatch_is_loud(seed_like_page: ReportPage) -> None:
    totals = dict(seed_like_page.totals, lines_in=999)
    html = render_report_html(make_page(seed_like_page.summaries, totals=totals))
    assert 'class="reconciliation mismatch"' in html


def test_page_is_self_contained() -> None:
    html = render_report_html(make_page({"company": [summary_row("A", "1", "0")]}))
    without_namespace = html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "http://" not in without_namespace and "https://" not in without_namespace
    root = parse(html)
    assert not root.find_all("script") and not root.find_all("link")
    assert "Content-Security-Policy" in html


def test_svg_elements_balance(seed_like_page: ReportPage) -> None:
    """Every svg, g, rect, text and title opened is closed in order (parse() asserts it)."""
    html = render_report_html(seed_like_page)
    parse(html)
    for tag in ("svg", "rect", "text", "title"):
        assert len(re.findall(rf"<{tag}[\s>]", html)) == len(re.findall(rf"</{tag}>", html)), tag


def test_margins_without_revenue_are_not_charted_but_noted() -> None:
    rows = [summary_row("Dairy", "100.00", "50.00"), summary_row("Giveaways", "0.00", "30.00")]
    html = render_report_html(make_page({"product_line": rows}))
    svg = charts(parse(html))["margin_by_product_line"]
    assert [bar.attrs["data-label"] for bar in bars(svg)] == ["Dairy"]
    assert "1 product line(s) without revenue" in html


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-cmd", "'-cmd"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Lone Star Lactose", "Lone Star Lactose"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_neutralize_formula(text: str, expected: str) -> None:
    assert neutralize_formula(text) == expected


def test_number_formatting_rounds_half_up() -> None:
    assert format_money(Decimal("0.125")) == "0.13"
    assert format_money(Decimal("-0.125")) == "-0.13"
    assert format_money(Decimal("1234567.8")) == "1,234,567.80"
    assert format_percent(Decimal("0.123450")) == "12.35%"
    assert format_percent(None) == "n/a"
    assert exact_percent(Decimal("0.361702")) == "36.1702%"
    assert exact_percent(Decimal("0.5")) == "50.00%"

"""The data contract: the one place that says what the input tables and the report look like.

The crawler, the CSV reader, the validation, the asset checks, the CLI and the docs all read
this module, so a column, an alias, a type or a reason code is declared exactly once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LANDING_BUCKET = "billing-data"
GLUE_DATABASE = "gross_profit"
PARTITION_KEY = "billing_month"
MONTH_FORMAT = "YYYY-MM"
MONTH_PATTERN = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
BASE_CURRENCY = "USD"

# Active ISO 4217 codes (funds and precious metals included; XTS "testing" and XXX "no
# currency" left out). A code outside this list is `unknown_currency`; a listed code without
# a rate for the month is `missing_fx_rate`.
ISO_4217_CURRENCIES = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN
    BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP
    ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK
    JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK
    MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN
    PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB
    TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG
    XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XUA YER ZAR ZMW ZWG ZWL
    """.split()
)

# Money is carried as decimals end to end; these are the Spark/Glue decimal shapes.
AMOUNT_DECIMAL = (18, 4)  # bill_amount as billed, up to 4 decimals (KWD/BHD bill in mils)
UNIT_COST_DECIMAL = (18, 6)  # cost_per_unit_usd
FX_RATE_DECIMAL = (20, 10)  # rate_to_usd: USD per unit of currency
USD_DECIMAL = (20, 2)  # revenue_usd, cogs_usd, gross_profit_usd: rounded half-up to the cent
MARGIN_DECIMAL = (12, 6)  # gross_margin = gross_profit_usd / revenue_usd, rounded half-up


@dataclass(frozen=True)
class Column:
    """One contract column.

    ``kind`` is the logical type the validation parses the raw text into:
    ``string``, ``integer`` (bigint), ``date`` (ISO ``YYYY-MM-DD``), ``month`` (``YYYY-MM``)
    or ``decimal`` (with ``decimal`` giving precision and scale).
    ``catalog_types`` are the Glue types a crawler may infer for it without that being drift.
    """

    name: str
    kind: str
    description: str
    aliases: tuple[str, ...] = ()
    decimal: tuple[int, int] | None = None
    required: bool = True

    @property
    def catalog_types(self) -> tuple[str, ...]:
        return {
            "string": ("string",),
            "integer": ("bigint", "int", "smallint", "tinyint"),
            "date": ("date", "string", "timestamp"),
            "month": ("string",),
            "decimal": ("double", "decimal", "bigint"),
        }[self.kind]


@dataclass(frozen=True)
class TableContract:
    """One input table: its landing prefix (== Glue table name) and its columns."""

    name: str
    description: str
    columns: tuple[Column, ...]
    # Column whose values decide a row's billing month, or None when the month comes from where
    # the file landed (units and costs carry no date).
    month_column: str | None = None
    # Whether rows keep the line of the file they came from: bill lines do (the report and the
    # quarantine point at them); lookup rows are only counted, so numbering them is work for nothing.
    numbered_lines: bool = False

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def canonical_column(self, header_cell: str) -> str | None:
        """The contract name of a header cell, honouring case, surrounding spaces and aliases."""
        wanted = normalize_header_cell(header_cell)
        for col in self.columns:
            if wanted == col.name or wanted in col.aliases:
                return col.name
        return None

    def map_header(self, header: list[str]) -> list[str | None]:
        return [self.canonical_column(cell) for cell in header]

    def missing_columns(self, header: list[str]) -> list[str]:
        present = set(self.map_header(header))
        return [c.name for c in self.columns if c.required and c.name not in present]


def normalize_header_cell(cell: str) -> str:
    """Header cells as exports write them: ' Item_Sold ', '"id"', 'Bill Amount'."""
    cell = cell.replace("\ufeff", "").strip().strip('"').strip().lower()
    return re.sub(r"[\s\-]+", "_", cell)


BILLING = TableContract(
    name="billing",
    description="One row per bill line, as exported by the billing system.",
    month_column="bill_date",
    numbered_lines=True,
    columns=(
        Column("id", "integer", "Bill line id; unique within one export file, not across files."),
        Column("company_name", "string", "Customer company billed."),
        Column("country", "string", "Customer country (ISO 3166 alpha-2)."),
        Column("city", "string", "Customer city."),
        Column("product_line", "string", "Product line of the item (Dairy, Bakery, ...)."),
        Column("item_sold", "string", "Item billed.", aliases=("item",)),
        Column("bill_date", "date", "Bill date; its month is the billing month."),
        Column("currency", "string", "ISO 4217 code of bill_amount."),
        Column("bill_amount", "decimal", "Amount billed, in `currency`.", decimal=AMOUNT_DECIMAL),
    ),
)

UNITS_SOLD = TableContract(
    name="units_sold",
    description="Units sold per bill line: (company_id, item_type) matches (id, item_sold).",
    columns=(
        Column("company_id", "integer", "The bill line's `id`."),
        Column("item_type", "string", "The bill line's `item_sold`."),
        Column("units_sold", "integer", "Units sold on that bill line."),
    ),
)

PRODUCTION_COSTS = TableContract(
    name="production_costs",
    description="Production cost per unit, in USD, for the billing month.",
    columns=(
        Column("item", "string", "Item, as in `item_sold`."),
        Column(
            "cost_per_unit_usd", "decimal", "Cost of one unit, USD.", decimal=UNIT_COST_DECIMAL
        ),
    ),
)

FX_RATES = TableContract(
    name="fx_rates",
    description="Monthly conversion rates: USD per one unit of `currency`. USD needs no row.",
    month_column="month",
    columns=(
        Column("currency", "string", "ISO 4217 code."),
        Column("rate_to_usd", "decimal", "USD per unit of currency.", decimal=FX_RATE_DECIMAL),
        Column("month", "month", "Billing month the rate applies to (YYYY-MM)."),
    ),
)

INPUT_TABLES: dict[str, TableContract] = {
    t.name: t for t in (BILLING, UNITS_SOLD, PRODUCTION_COSTS, FX_RATES)
}


def recognize_table(header: list[str]) -> TableContract | None:
    """The input table a file belongs to, judged by its header (not its name).

    The table whose required columns the header covers best wins; billing is checked first
    because its `item` alias would otherwise also satisfy production costs.
    """
    for table in INPUT_TABLES.values():
        if not table.missing_columns(header):
            return table
    return None


# Columns every row read from a landed file carries besides the contract's, for lineage.
SOURCE_FILE = "source_file"  # object key under the landing bucket, e.g. billing/billing_month=.../x.csv
LINE_NUMBER = "line_number"  # 1-based physical line in that file; the header is line 1

# The report: the seed's columns first (in the seed's order), then ours.
SEED_REPORT_COLUMNS = (
    "id",
    "company_name",
    "item_sold",
    "units_sold",
    "cost_per_unit_usd",
    "bill_amount",
    "gross_profit",
)
REPORT_COLUMNS = SEED_REPORT_COLUMNS + (
    "billing_month",
    "currency",
    "revenue_usd",
    "cogs_usd",
    "gross_margin",
    "country",
    "product_line",
    "source_file",
    "line_number",
)
# What the columns the pipeline adds mean (input columns are described in their tables above).
DERIVED_COLUMNS: dict[str, str] = {
    PARTITION_KEY: "Billing month (YYYY-MM): the month of bill_date; the partition key.",
    SOURCE_FILE: "Object key of the landed file the line came from.",
    LINE_NUMBER: "Line of the line in its source file (the header is line 1).",
    "rate_to_usd": "USD per unit of the bill's currency for its month (1 for USD).",
    "revenue_usd": "bill_amount x rate_to_usd, rounded half-up to the cent.",
    "cogs_usd": "units_sold x cost_per_unit_usd, rounded half-up to the cent.",
    "gross_profit_usd": "revenue_usd - cogs_usd.",
    "gross_profit": "revenue_usd - cogs_usd, in USD (the seed report's column).",
    "gross_margin": "gross_profit / revenue_usd from sums, 6 decimals; empty when revenue is 0.",
    "reason_codes": "Every reason the line cannot be reported (see the reason codes).",
    "reasons": "The reason codes with their meaning, for people.",
    "dimension": "Summary dimension: month, company, item, product_line or country.",
    "key": "The value of the dimension (a month, a company, ...).",
    "lines": "Number of bill lines.",
}


def column_description(name: str) -> str:
    """The meaning of any column the platform reads or writes: the one place docs, the catalog
    view in the UI and the report pages take it from."""
    if name in DERIVED_COLUMNS:
        return DERIVED_COLUMNS[name]
    for table in INPUT_TABLES.values():
        if name in table.column_names:
            return table.column(name).description
    return ""


SUMMARY_DIMENSIONS = {
    "month": "billing_month",
    "company": "company_name",
    "item": "item_sold",
    "product_line": "product_line",
    "country": "country",
}
SUMMARY_COLUMNS = (
    "dimension",
    "key",
    "lines",
    "units_sold",
    "revenue_usd",
    "cogs_usd",
    "gross_profit_usd",
    "gross_margin",
)
# What the report's month sums are summed by, a row per (dimension, key) of each month: every
# summary dimension (the month's own row is its total) and the source file, which the HTML
# report lists. A few rows per company, item and file, however many lines they have, and
# however many items each company buys.
MONTH_TOTAL = "month"  # the month sums' dimension whose one row per month is its total
MONTH_FILES = "file"  # the month sums' dimension of source files
MONTH_SUMS_DIMENSIONS = {**SUMMARY_DIMENSIONS, MONTH_FILES: SOURCE_FILE}
MONTH_SUMS_COLUMNS = (PARTITION_KEY, *SUMMARY_COLUMNS[:-1])  # no margin: sums only


SUM_DECIMAL = (38, 2)  # sums of USD amounts over many lines (summaries)


def _decimal_type(shape: tuple[int, int]) -> str:
    return f"decimal({shape[0]},{shape[1]})"


def parsed_type(column: Column) -> str:
    """The Spark SQL type a contract column has once validation has parsed it."""
    if column.kind == "decimal":
        return _decimal_type(column.decimal)
    return {"string": "string", "integer": "bigint", "date": "date", "month": "string"}[column.kind]


_LINEAGE_TYPES = ((PARTITION_KEY, "string"), (SOURCE_FILE, "string"), (LINE_NUMBER, "bigint"))
_GOVERNED_TYPES = (
    *_LINEAGE_TYPES,
    *((c.name, parsed_type(c)) for c in BILLING.columns),
    ("units_sold", parsed_type(UNITS_SOLD.column("units_sold"))),
    ("cost_per_unit_usd", parsed_type(PRODUCTION_COSTS.column("cost_per_unit_usd"))),
    ("rate_to_usd", parsed_type(FX_RATES.column("rate_to_usd"))),
    *((name, _decimal_type(USD_DECIMAL)) for name in ("revenue_usd", "cogs_usd", "gross_profit_usd")),
)
_REPORT_TYPES = dict(
    _GOVERNED_TYPES,
    gross_profit=_decimal_type(USD_DECIMAL),
    gross_margin=_decimal_type(MARGIN_DECIMAL),
)
_SUMS_TYPES = (
    ("lines", "bigint"),
    ("units_sold", "bigint"),
    *((name, _decimal_type(SUM_DECIMAL)) for name in ("revenue_usd", "cogs_usd", "gross_profit_usd")),
)
# The columns (in order) and Spark SQL types of the tables the pipeline writes. The UI shows
# them before the first materialization; the end-to-end tests hold what the transforms write
# to them.
PRODUCED_SCHEMAS: dict[str, tuple[tuple[str, str], ...]] = {
    "governed_billing_lines": _GOVERNED_TYPES,
    "quarantined_billing_lines": (
        *_LINEAGE_TYPES,
        ("reason_codes", "array<string>"),
        ("reasons", "string"),
        *((c.name, "string") for c in BILLING.columns),  # raw text, as it landed
    ),
    "gross_profit_report": tuple((name, _REPORT_TYPES[name]) for name in REPORT_COLUMNS),
    "gross_profit_month_sums": (
        (PARTITION_KEY, "string"),
        ("dimension", "string"),
        ("key", "string"),
        *_SUMS_TYPES,
    ),
    "gross_profit_summary": (
        ("dimension", "string"),
        ("key", "string"),
        *_SUMS_TYPES,
        ("gross_margin", _decimal_type(MARGIN_DECIMAL)),
    ),
}


@dataclass(frozen=True)
class Reason:
    code: str
    message: str


# Stable reason codes for quarantined lines. A line carries every reason that applies.
REASONS: dict[str, Reason] = {
    r.code: r
    for r in (
        Reason("missing_required_value", "a required value is empty"),
        Reason("invalid_id", "id is not a whole number"),
        Reason("invalid_bill_date", "bill_date is not a date (YYYY-MM-DD or YYYY/MM/DD)"),
        Reason("invalid_bill_amount", "bill_amount is not a number with at most 4 decimals"),
        Reason("bill_date_outside_billing_month", "bill_date is not in the file's billing month"),
        Reason("unknown_currency", "currency is not an ISO 4217 code"),
        Reason("missing_fx_rate", "no fx_rates row for this currency and billing month"),
        Reason("ambiguous_fx_rate", "several fx_rates rows for this currency and billing month"),
        Reason("missing_units", "no units_sold record for (id, item_sold) in the billing month"),
        Reason("ambiguous_units", "several units_sold records for (id, item_sold)"),
        Reason("invalid_units_sold", "units_sold is not a whole number"),
        Reason("negative_units_sold", "units_sold is negative"),
        Reason("missing_production_cost", "no production cost for the item in the billing month"),
        Reason("ambiguous_production_cost", "several production costs for the item"),
        Reason("invalid_production_cost", "cost_per_unit_usd is not a number"),
        Reason("duplicate_line", "the same id and item_sold appear twice in one source file"),
    )
}

# The Lake Formation principal the report job reads as (governance/lake_formation_policy.yaml).
REPORT_JOB_PRINCIPAL = "gross-profit-report-job"

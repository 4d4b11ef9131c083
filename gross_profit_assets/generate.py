"""Synthetic billing data in the seed's exact file format, for tests, demos and benchmarks.

The seed (``seed/sample``) is one month of 15 lines; benchmarks need 5-20 million lines over
many months, in several currencies, with the flaws the platform must catch: bill lines without
a units record and items without a production cost. Those lines must be quarantined, so the
generator reports how many it planted and a run can be checked against it.

Speed matters more than elegance here (the benchmark should measure the platform, not the
generator): names, dates and row prefixes are preformatted once per file, each row is one
f-string, and rows are written in large joined chunks instead of through ``csv.writer``. Names
never contain commas or quotes, so no CSV quoting is needed.

Output is deterministic for a given seed and arguments (one ``random.Random(seed)`` stream,
consumed in a fixed order).
"""

from __future__ import annotations

import argparse
import calendar
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

# Headers exactly as in seed/sample (same names, same order) plus the new fx_rates table.
BILLING_HEADER = (
    "id,company_name,country,city,product_line,item_sold,bill_date,currency,bill_amount"
)
UNITS_HEADER = "company_id,item_type,units_sold"
COSTS_HEADER = "item,cost_per_unit_usd"
FX_HEADER = "currency,rate_to_usd,month"

BASE_CURRENCY = "USD"
CHUNK_ROWS = 65_536
WRITE_BUFFER_BYTES = 1 << 20
# Distinct "Discontinued <n>" names per billing file, so that ids repeating across the files
# of one month never make two (id, item) units records collide.
DISCONTINUED_PER_FILE = 10

PRODUCT_LINES: dict[str, tuple[str, ...]] = {
    "Dairy": (
        "Artisan Cheese", "Grass-Fed Butter", "Gourmet Yogurt", "Blue Cheese", "Organic Milk",
        "Cheddar Cheese", "Probiotic Kefir", "Gouda Cheese", "Monterey Jack Cheese",
        "Cream Cheese", "Greek Yogurt", "Cottage Cheese", "Goat Cheese", "Camembert Cheese",
        "Burrata",
    ),
    "Bakery": (
        "Sourdough Loaf", "Rye Bread", "Croissant", "Bagel", "Baguette", "Brioche",
        "Ciabatta", "Focaccia", "Pan Dulce", "Cinnamon Roll", "Whole Wheat Bread",
        "Pita", "Tortilla", "Muffin", "Pretzel",
    ),
    "Beverages": (
        "Cold Brew Coffee", "Green Tea", "Orange Juice", "Apple Cider", "Sparkling Water",
        "Lemonade", "Horchata", "Kombucha", "Iced Tea", "Coconut Water", "Ginger Ale",
        "Espresso Beans", "Hot Chocolate", "Agua Fresca", "Tomato Juice",
    ),
    "Produce": (
        "Avocado", "Roma Tomato", "Gala Apple", "Banana", "Baby Spinach", "Red Onion",
        "Jalapeño", "Sweet Corn", "Blueberries", "Strawberries", "Russet Potato", "Carrots",
        "Lime", "Mango", "Broccoli",
    ),
    "Meat": (
        "Ground Beef", "Chicken Breast", "Pork Chop", "Ribeye Steak", "Bacon",
        "Smoked Brisket", "Chorizo", "Lamb Shank", "Turkey Breast", "Beef Jerky",
        "Italian Sausage", "Pulled Pork", "Veal Cutlet", "Duck Breast", "Carne Asada",
    ),
    "Seafood": (
        "Atlantic Salmon", "Shrimp", "Tuna Steak", "Cod Fillet", "Lobster Tail",
        "Scallops", "Crab Legs", "Tilapia", "Mussels", "Oysters", "Halibut", "Sardines",
        "Catfish", "Trout", "Calamari",
    ),
    "Frozen": (
        "Frozen Pizza", "Ice Cream", "Frozen Peas", "Fish Sticks", "Frozen Waffles",
        "Frozen Berries", "Frozen Burritos", "Popsicles", "Frozen Dumplings",
        "Frozen Lasagna", "Tater Tots", "Frozen Spinach", "Sorbet", "Frozen Corn",
        "Frozen Meatballs",
    ),
    "Pantry": (
        "Basmati Rice", "Black Beans", "Olive Oil", "Pasta", "Maple Syrup", "Honey",
        "Peanut Butter", "Rolled Oats", "Salsa Verde", "Canned Tomatoes", "Flour",
        "Brown Sugar", "Sea Salt", "Mole Paste", "Chicken Stock",
    ),
    "Snacks": (
        "Tortilla Chips", "Pretzel Bites", "Trail Mix", "Granola Bar", "Popcorn",
        "Potato Chips", "Rice Crackers", "Dark Chocolate", "Roasted Almonds", "Pita Chips",
        "Fruit Leather", "Cheese Puffs", "Pork Rinds", "Dried Mango", "Pumpkin Seeds",
    ),
    "Household": (
        "Paper Towels", "Dish Soap", "Laundry Detergent", "Trash Bags", "Sponges",
        "Aluminum Foil", "Light Bulbs", "Hand Soap", "Toilet Paper", "Glass Cleaner",
        "Batteries", "Candles", "Napkins", "Zip Bags", "Bleach",
    ),
}

COMPANY_PREFIXES = (
    "Lone Star", "Bluebonnet", "Houston", "Chicago", "Manhattan", "North Shore", "Toronto",
    "Montreal", "Pacific", "Desert", "Mountain", "Seattle", "Las Vegas", "Gulf Coast",
    "Prairie", "Great Lakes", "Sierra", "Cascade", "Golden Gate", "Evergreen", "Lechería",
    "Panadería", "Crémerie", "Épicerie", "Maple Leaf", "Sonora", "Yucatán", "Hudson Bay",
    "Red River", "Blue Ridge",
)
COMPANY_SUFFIXES = (
    "Creamery", "Foods", "Market", "Grocers", "Provisions", "Trading", "Pantry",
    "Wholesale", "Deli", "Kitchen", "Co-op", "Distributors", "Supply", "Fresh", "Larder",
    "Emporium", "Mercado", "Depot", "Collective", "Outfitters",
)
COMPANY_COUNT = 300

# Where a currency's customers are: (ISO country code, cities).
CURRENCY_HOMES: dict[str, tuple[str, tuple[str, ...]]] = {
    "USD": (
        "US",
        ("San Antonio", "Dallas", "Houston", "Chicago", "New York", "San Diego", "Phoenix",
         "Denver", "Seattle", "Las Vegas"),
    ),
    "CAD": ("CA", ("Vancouver", "Toronto", "Montréal", "Calgary", "Ottawa")),
    "MXN": ("MX", ("Mexico City", "Guadalajara", "Monterrey", "Puebla", "Querétaro")),
    "EUR": ("DE", ("Berlin", "München", "Hamburg")),
    "GBP": ("GB", ("London", "Manchester", "Leeds")),
    "JPY": ("JP", ("Tokyo", "Osaka")),
}
# Rough USD value of one unit of a currency; unknown currencies get a random one.
BASE_FX_RATES: dict[str, float] = {
    "CAD": 0.74, "MXN": 0.055, "EUR": 1.08, "GBP": 1.26, "JPY": 0.0068, "CHF": 1.12,
}

MONTH_PATTERN = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class GeneratedData:
    """What was written, so a benchmark can check the pipeline accounted for every line.

    ``rows`` counts data rows (not headers) per table: billing, units_sold, production_costs,
    fx_rates. ``lines_quarantined`` is the number of bill lines the platform must quarantine
    (a line lacking both its units record and its production cost counts once).
    """

    out_dir: Path
    files: list[Path]
    rows: dict[str, int]
    months: list[str]
    billing_rows_per_month: dict[str, int]
    lines_without_units: int
    lines_without_production_cost: int
    lines_quarantined: int
    seconds: float = 0.0
    currencies: tuple[str, ...] = field(default_factory=tuple)

    @property
    def billing_rows_per_second(self) -> float:
        return self.rows["billing"] / self.seconds if self.seconds > 0 else float("inf")


@dataclass(frozen=True)
class Company:
    """A customer, preformatted as the ``company_name,country,city,`` slice of a bill row."""

    name: str
    country: str
    city: str
    currency: str

    @property
    def row_prefix(self) -> str:
        return f"{self.name},{self.country},{self.city},"


@dataclass(frozen=True)
class MonthPlan:
    """Everything that varies by month: its dates, unit costs and exchange rates."""

    month: str
    dates: tuple[str, ...]
    cost_cents: dict[str, int]
    fx_rates: dict[str, str]

    @property
    def file_suffix(self) -> str:
        year, month = self.month.split("-")
        return f"{month}_{year}"


@dataclass
class FileStats:
    rows: int = 0
    without_units: int = 0
    without_cost: int = 0
    quarantined: int = 0


# --- plans -----------------------------------------------------------------------------------


def consecutive_months(start_month: str, count: int) -> list[str]:
    """``count`` months from ``start_month`` (YYYY-MM), crossing year ends."""
    match = MONTH_PATTERN.match(start_month)
    if not match:
        raise ValueError(f"start_month must be YYYY-MM, got {start_month!r}")
    year, month = int(match.group(1)), int(match.group(2))
    months = []
    for offset in range(count):
        index = month - 1 + offset
        months.append(f"{year + index // 12:04d}-{index % 12 + 1:02d}")
    return months


def spread(total: int, parts: int) -> list[int]:
    """Split ``total`` as evenly as possible; earlier parts take the remainder."""
    base, extra = divmod(total, parts)
    return [base + (1 if index < extra else 0) for index in range(parts)]


def make_companies(rng: random.Random, currencies: Sequence[str]) -> list[Company]:
    """A fixed customer base; currencies assigned round-robin so every currency is billed."""
    names = [f"{prefix} {suffix}" for prefix in COMPANY_PREFIXES for suffix in COMPANY_SUFFIXES]
    chosen = rng.sample(names, min(COMPANY_COUNT, len(names)))
    companies = []
    for index, name in enumerate(chosen):
        currency = currencies[index % len(currencies)]
        country, cities = CURRENCY_HOMES.get(currency, (currency[:2], ("Capital City",)))
        companies.append(Company(name, country, cities[rng.randrange(len(cities))], currency))
    return companies


def month_dates(month: str) -> tuple[str, ...]:
    year, number = (int(part) for part in month.split("-"))
    days = calendar.monthrange(year, number)[1]
    return tuple(f"{month}-{day:02d}" for day in range(1, days + 1))


def base_costs(rng: random.Random, lines: Sequence[str]) -> dict[str, int]:
    """Each item's typical production cost per unit, in US cents (0.50 to 6.00 USD)."""
    return {item: rng.randrange(50, 601) for line in lines for item in PRODUCT_LINES[line]}


def base_rates(rng: random.Random, currencies: Sequence[str]) -> dict[str, float]:
    return {
        currency: BASE_FX_RATES.get(currency, round(rng.uniform(0.05, 1.5), 4))
        for currency in currencies
        if currency != BASE_CURRENCY
    }


def format_rate(rate: float) -> str:
    """At most 6 decimals and at least one, like a treasury export (0.74, 0.055123)."""
    text = f"{rate:.6f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def format_cost(cents: int) -> str:
    """1 or 2 decimals as in the seed (2.5, 3.0, 2.35)."""
    whole, fraction = divmod(cents, 100)
    if fraction % 10 == 0:
        return f"{whole}.{fraction // 10}"
    return f"{whole}.{fraction:02d}"


def plan_month(
    rng: random.Random, month: str, costs: dict[str, int], rates: dict[str, float]
) -> MonthPlan:
    """This month's costs (within 5 % of the item's typical cost) and exchange rates (3 %)."""
    month_costs = {
        item: max(1, round(cents * rng.uniform(0.95, 1.05))) for item, cents in costs.items()
    }
    month_rates = {
        currency: format_rate(rate * rng.uniform(0.97, 1.03)) for currency, rate in rates.items()
    }
    return MonthPlan(month, month_dates(month), month_costs, month_rates)


# --- writing ---------------------------------------------------------------------------------


def open_csv(path: Path, header: str) -> TextIO:
    """UTF-8, LF line endings, a large buffer; the header written first."""
    handle = path.open("w", encoding="utf-8", newline="\n", buffering=WRITE_BUFFER_BYTES)
    handle.write(header + "\n")
    return handle


def billing_file_name(line: str | None, plan: MonthPlan) -> str:
    if line is None:
        return f"billing_data_{plan.file_suffix}.csv"
    return f"billing_data_{line.lower()}_{plan.file_suffix}.csv"


def write_billing_file(
    rng: random.Random,
    billing: TextIO,
    units: TextIO,
    rows: int,
    plan: MonthPlan,
    lines: Sequence[str],
    companies: Sequence[Company],
    file_index: int,
    unmatched_rate: float,
) -> FileStats:
    """Write one billing file's rows and their units records (into the month's units file).

    The hot loop draws five random numbers per row and formats two f-strings; rows that must
    be quarantined (no units record, or a discontinued item) take a separate, slower path.
    """
    pool = [
        (f"{line},{item}", item, plan.cost_cents[item])
        for line in lines
        for item in PRODUCT_LINES[line]
    ]
    prefixes = [company.row_prefix for company in companies]
    tails = [f",{company.currency}," for company in companies]
    usd_per_unit = [float(plan.fx_rates.get(company.currency, "1")) for company in companies]
    dates = plan.dates
    missing_units = set(rng.sample(range(1, rows + 1), round(unmatched_rate * rows)))
    missing_cost = set(rng.sample(range(1, rows + 1), round(unmatched_rate * rows)))
    special = missing_units | missing_cost
    rand = rng.random
    n_companies, n_items, n_days = len(companies), len(pool), len(dates)
    discontinued_base = file_index * DISCONTINUED_PER_FILE
    for chunk_start in range(1, rows + 1, CHUNK_ROWS):
        bill_rows: list[str] = []
        unit_rows: list[str] = []
        for line_id in range(chunk_start, min(chunk_start + CHUNK_ROWS, rows + 1)):
            company = int(rand() * n_companies)
            line_item, item, cost = pool[int(rand() * n_items)]
            sold = int(rand() * 1990) + 10
            # Price at 75 % to 155 % of cost, so some lines lose money; convert to currency.
            cents = int(sold * cost * (0.75 + rand() * 0.8) / usd_per_unit[company]) or 1
            date = dates[int(rand() * n_days)]
            if line_id in special:
                if line_id in missing_cost:
                    number = discontinued_base + line_id % DISCONTINUED_PER_FILE + 1
                    item = f"Discontinued {number}"
                    line_item = f"{line_item.split(',', 1)[0]},{item}"
                if line_id not in missing_units:
                    unit_rows.append(f"{line_id},{item},{sold}\n")
            else:
                unit_rows.append(f"{line_id},{item},{sold}\n")
            amount = cents / 100
            bill_rows.append(
                f"{line_id},{prefixes[company]}{line_item},{date}{tails[company]}{amount:.2f}\n"
            )
        billing.write("".join(bill_rows))
        units.write("".join(unit_rows))
    return FileStats(rows, len(missing_units), len(missing_cost), len(special))


def write_costs_file(path: Path, plan: MonthPlan, lines: Sequence[str]) -> int:
    """Production costs for every regular item of the month's product lines (never the
    discontinued ones: that is what makes their bill lines quarantined)."""
    items = [item for line in lines for item in PRODUCT_LINES[line]]
    with open_csv(path, COSTS_HEADER) as handle:
        handle.write("".join(f"{item},{format_cost(plan.cost_cents[item])}\n" for item in items))
    return len(items)


def write_fx_file(path: Path, plan: MonthPlan) -> int:
    """One rate per non-USD currency for the month; header only when everything is in USD."""
    with open_csv(path, FX_HEADER) as handle:
        handle.write(
            "".join(f"{currency},{rate},{plan.month}\n" for currency, rate in plan.fx_rates.items())
        )
    return len(plan.fx_rates)


def validate_arguments(
    rows: int, months: int, currencies: Sequence[str], unmatched_rate: float, files_per_month: int
) -> None:
    """Fail before writing anything rather than leave half a data set behind."""
    if rows < 0:
        raise ValueError("rows must be >= 0")
    if months < 1:
        raise ValueError("months must be >= 1")
    if not currencies or any(not CURRENCY_PATTERN.match(c) for c in currencies):
        raise ValueError(f"currencies must be 3-letter ISO codes, got {currencies!r}")
    if len(set(currencies)) != len(currencies):
        raise ValueError("currencies must not repeat")
    if not 0 <= unmatched_rate <= 1:
        raise ValueError("unmatched_rate must be between 0 and 1")
    if not 1 <= files_per_month <= len(PRODUCT_LINES):
        raise ValueError(f"files_per_month must be between 1 and {len(PRODUCT_LINES)}")


def generate(
    out_dir: Path | str,
    rows: int,
    months: int,
    *,
    start_month: str = "2023-01",
    seed: int = 7,
    currencies: Sequence[str] = ("USD", "CAD", "MXN"),
    unmatched_rate: float = 0.01,
    files_per_month: int = 1,
    progress: Callable[[str], None] | None = None,
) -> GeneratedData:
    """Write ``rows`` bill lines spread evenly over ``months`` consecutive months.

    Per month: ``billing_data_<MM>_<YYYY>.csv`` (all product lines mixed) or, with
    ``files_per_month`` > 1, one ``billing_data_<line>_<MM>_<YYYY>.csv`` per product line;
    plus ``units_sold_``, ``production_costs_`` and ``fx_rates_<MM>_<YYYY>.csv``.
    About ``unmatched_rate`` of the lines have no units record and, independently, about the
    same share bill a discontinued item that has no production cost.
    """
    validate_arguments(rows, months, currencies, unmatched_rate, files_per_month)
    started = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    month_names = consecutive_months(start_month, months)
    lines = list(PRODUCT_LINES)[: files_per_month if files_per_month > 1 else len(PRODUCT_LINES)]
    companies = make_companies(rng, currencies)
    costs, rates = base_costs(rng, lines), base_rates(rng, currencies)
    report = progress or (lambda message: None)
    files: list[Path] = []
    totals = {"billing": 0, "units_sold": 0, "production_costs": 0, "fx_rates": 0}
    per_month: dict[str, int] = {}
    without_units = without_cost = quarantined = 0

    for month, month_rows in zip(month_names, spread(rows, months)):
        plan = plan_month(rng, month, costs, rates)
        file_lines: list[str | None] = [None] if files_per_month == 1 else list(lines)
        units_path = out / f"units_sold_{plan.file_suffix}.csv"
        with open_csv(units_path, UNITS_HEADER) as units:
            for file_index, (line, file_rows) in enumerate(
                zip(file_lines, spread(month_rows, len(file_lines)))
            ):
                path = out / billing_file_name(line, plan)
                with open_csv(path, BILLING_HEADER) as billing:
                    stats = write_billing_file(
                        rng, billing, units, file_rows, plan,
                        lines if line is None else [line], companies, file_index, unmatched_rate,
                    )
                files.append(path)
                totals["billing"] += stats.rows
                totals["units_sold"] += stats.rows - stats.without_units
                without_units += stats.without_units
                without_cost += stats.without_cost
                quarantined += stats.quarantined
                report(f"wrote {path.name}: {stats.rows} bill lines")
        files.append(units_path)
        report(f"wrote {units_path.name}")
        costs_path = out / f"production_costs_{plan.file_suffix}.csv"
        totals["production_costs"] += write_costs_file(costs_path, plan, lines)
        files.append(costs_path)
        report(f"wrote {costs_path.name}")
        fx_path = out / f"fx_rates_{plan.file_suffix}.csv"
        totals["fx_rates"] += write_fx_file(fx_path, plan)
        files.append(fx_path)
        report(f"wrote {fx_path.name}")
        per_month[month] = month_rows

    return GeneratedData(
        out_dir=out,
        files=files,
        rows=totals,
        months=month_names,
        billing_rows_per_month=per_month,
        lines_without_units=without_units,
        lines_without_production_cost=without_cost,
        lines_quarantined=quarantined,
        seconds=time.perf_counter() - started,
        currencies=tuple(currencies),
    )


def main(argv: Sequence[str] | None = None) -> GeneratedData:
    """``python -m gross_profit_assets.generate OUT_DIR --rows N --months M`` for benchmarks."""
    parser = argparse.ArgumentParser(description="Write synthetic seed-format billing data.")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--start-month", default="2023-01")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--currencies", default="USD,CAD,MXN", help="comma-separated ISO codes")
    parser.add_argument("--unmatched-rate", type=float, default=0.01)
    parser.add_argument("--files-per-month", type=int, default=1)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    data = generate(
        args.out_dir,
        args.rows,
        args.months,
        start_month=args.start_month,
        seed=args.seed,
        currencies=tuple(
            code.strip().upper() for code in args.currencies.split(",") if code.strip()
        ),
        unmatched_rate=args.unmatched_rate,
        files_per_month=args.files_per_month,
        progress=None if args.quiet else print,
    )
    print(
        f"{data.rows['billing']:,} bill lines in {len(data.files)} files over "
        f"{len(data.months)} months in {data.seconds:.1f}s "
        f"({data.billing_rows_per_second:,.0f} lines/s); "
        f"{data.lines_quarantined:,} lines must be quarantined"
    )
    return data


if __name__ == "__main__":
    main()

"""The embedded Glue crawler: CSV schema inference, the SQLite catalog and the crawl itself."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import dagster as dg
import pytest

from gross_profit_assets.crawling.inference import (
    InferredSchema,
    cell_type,
    column_type,
    estimate_record_count,
    infer_csv_schema,
    merge_schemas,
    widen_type,
)
from gross_profit_assets.crawling.local_catalog import EntityNotFoundError, LocalGlueCatalog
from gross_profit_assets.crawling.local_crawler import LocalGlueCrawler
from gross_profit_assets.resources.glue import GlueCrawler
from gross_profit_assets.resources.object_store import LocalObjectStore

SEED = Path("/work/shared/seed/sample")
SEED_BILLING = SEED / "billing_data_dairy_07_2023.csv"
SEED_BILLING_TYPES = [
    ("id", "bigint"),
    ("company_name", "string"),
    ("country", "string"),
    ("city", "string"),
    ("product_line", "string"),
    ("item_sold", "string"),
    ("bill_date", "date"),
    ("currency", "string"),
    ("bill_amount", "double"),
]
JULY_KEY = "billing/billing_month=2023-07/billing_data_dairy_07_2023.csv"


def glue(columns: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"Name": name, "Type": glue_type} for name, glue_type in columns]


# --- inference: one cell, one column ---------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", "boolean"),
        ("FALSE", "boolean"),
        ("42", "bigint"),
        ("-7", "bigint"),
        ("3525.00", "double"),
        ("1.5e3", "double"),
        (".5", "double"),
        ("12345678901234.56", "decimal"),  # 16 significant digits: a double would round it
        ("1234567890.1234567", "decimal"),
        ("99999999999999999999", "decimal"),  # beyond bigint and beyond a double's digits
        ("2023-07-01", "date"),
        ("2023-07-01 12:30:00", "timestamp"),
        ("2023-07-01 12:30:00.125", "timestamp"),
        ("2023-02-30", "string"),  # not a calendar date
        ("2023/07/01", "string"),
        ("Artisan Cheese", "string"),
        ("  17  ", "bigint"),
        ("", None),
        ("   ", None),
    ],
)
def test_cell_type(value: str, expected: str | None) -> None:
    assert cell_type(value) == expected


def test_fifteen_significant_digits_still_fit_a_double() -> None:
    assert cell_type("1234567890.12345") == "double"
    assert cell_type("1000000000000000000000") == "double"  # one significant digit


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("bigint", "double", "double"),
        ("double", "bigint", "double"),
        ("bigint", "decimal", "decimal"),
        ("date", "timestamp", "timestamp"),
        ("bigint", "string", "string"),
        ("boolean", "bigint", "string"),
        ("date", "bigint", "string"),
        ("double", "double", "double"),
    ],
)
def test_widen_type(a: str, b: str, expected: str) -> None:
    assert widen_type(a, b) == expected


def test_empty_cells_do_not_vote_and_an_empty_column_is_a_string() -> None:
    assert column_type(["1", "", "2", " "]) == "bigint"
    assert column_type(["", ""]) == "string"
    assert column_type(["1", "2.5"]) == "double"
    assert column_type(["2023-07-01", "2023-07-02 10:00:00"]) == "timestamp"
    assert column_type(["1", "n/a"]) == "string"


# --- inference: whole files ------------------------------------------------------------------


def test_seed_billing_file_has_header_and_glue_types() -> None:
    schema = infer_csv_schema(SEED_BILLING.read_bytes())
    assert schema == InferredSchema(
        header_present=True, columns=SEED_BILLING_TYPES, delimiter=",", rows_sampled=15
    )


def test_every_glue_type_in_one_file() -> None:
    sample = (
        b"flag,qty,price,exact,day,at,note\n"
        b"true,1,1.5,1234567890.1234567,2023-07-01,2023-07-01 10:00:00,a\n"
        b"false,2,2,1.1,2023-07-02,2023-07-02 11:00:00.5,b\n"
    )
    assert infer_csv_schema(sample).columns == [
        ("flag", "boolean"),
        ("qty", "bigint"),
        ("price", "double"),
        ("exact", "decimal"),
        ("day", "date"),
        ("at", "timestamp"),
        ("note", "string"),
    ]


def test_file_without_header_gets_glue_column_names() -> None:
    schema = infer_csv_schema(b"1,Artisan Cheese,900\n2,Grass-Fed Butter,1050\n")
    assert not schema.header_present
    assert schema.columns == [("col0", "bigint"), ("col1", "string"), ("col2", "bigint")]
    assert schema.rows_sampled == 2


def test_all_string_file_with_contract_header_is_recognized() -> None:
    # fx_rates-like data where nothing is numeric: only the contract's names reveal the header.
    schema = infer_csv_schema(b"Currency,Rate_To_USD,Month\nEUR,n/a,July\nGBP,n/a,July\n")
    assert schema.header_present
    assert [name for name, _ in schema.columns] == ["currency", "rate_to_usd", "month"]
    assert schema.rows_sampled == 2


def test_all_string_file_with_unknown_names_has_no_header() -> None:
    schema = infer_csv_schema(b"alpha,beta\ngamma,delta\n")
    assert not schema.header_present
    assert schema.columns == [("col0", "string"), ("col1", "string")]


def test_first_row_with_a_number_or_duplicates_is_data() -> None:
    assert not infer_csv_schema(b"a,1\nb,2\n").header_present
    assert not infer_csv_schema(b"id,ID\n1,2\n").header_present
    assert not infer_csv_schema(b"id,\n1,2\n").header_present


def test_header_names_are_normalized_but_not_aliased() -> None:
    schema = infer_csv_schema(b'"Id", Item ,Bill Amount,Discount\n1,Cheese,10.5,1\n')
    assert schema.columns == [
        ("id", "bigint"),
        ("item", "string"),  # the contract alias of item_sold is the reader's business
        ("bill_amount", "double"),
        ("discount", "bigint"),
    ]


def test_bom_crlf_quoted_commas_and_no_final_newline() -> None:
    sample = b'\xef\xbb\xbfid,company_name,bill_amount\r\n1,"Cheese, Inc.",10.50\r\n2,"A ""B""",3'
    schema = infer_csv_schema(sample)
    assert schema.columns == [
        ("id", "bigint"),
        ("company_name", "string"),
        ("bill_amount", "double"),
    ]
    assert schema.rows_sampled == 2


def test_latin1_fallback() -> None:
    sample = "id,city\n1,Montréal\n2,Zürich\n".encode("latin-1")
    schema = infer_csv_schema(sample)
    assert schema.columns == [("id", "bigint"), ("city", "string")]


def test_truncated_sample_drops_the_cut_line() -> None:
    whole = b"id,bill_date\n1,2023-07-01\n2,2023-07-02\n"
    cut = whole + b"3,2023-0"
    truncated = infer_csv_schema(cut, complete=False)
    assert truncated.columns == [("id", "bigint"), ("bill_date", "date")]
    assert truncated.rows_sampled == 2
    # The same bytes as a whole file: the last value really is text.
    assert infer_csv_schema(cut, complete=True).columns[1] == ("bill_date", "string")


def test_sample_cut_inside_a_utf8_character_still_decodes_as_utf8() -> None:
    whole = "id,city\n1,Montréal\n2,Zürich\n".encode()
    cut = whole[: whole.index("ü".encode()) + 1]  # half of the two-byte ü
    schema = infer_csv_schema(cut, complete=False)
    assert schema.columns == [("id", "bigint"), ("city", "string")]
    assert schema.rows_sampled == 1


@pytest.mark.parametrize("delimiter", ["\t", "|", ";"])
def test_other_delimiters(delimiter: str) -> None:
    sample = delimiter.join(["id", "note", "amount"]).encode() + b"\n"
    sample += delimiter.join(["1", "a, b", "2.5"]).encode() + b"\n"
    schema = infer_csv_schema(sample)
    assert schema.delimiter == delimiter
    assert schema.columns == [("id", "bigint"), ("note", "string"), ("amount", "double")]


def test_max_rows_bounds_the_sample() -> None:
    rows = b"".join(b"%d\n" % i for i in range(50)) + b"text\n"
    assert infer_csv_schema(b"n\n" + rows, max_rows=10) == InferredSchema(
        header_present=True, columns=[("n", "bigint")], delimiter=",", rows_sampled=10
    )


def test_ragged_rows_and_blank_lines() -> None:
    schema = infer_csv_schema(b"id,name\n\n1,a,extra\n2\n")
    assert schema.columns == [("id", "bigint"), ("name", "string"), ("col2", "string")]
    assert schema.rows_sampled == 2


def test_empty_file() -> None:
    assert infer_csv_schema(b"") == InferredSchema(header_present=False, columns=[])


def test_record_count_estimate() -> None:
    body = b"id\n" + b"".join(b"%d\n" % (i % 10) for i in range(100))
    assert estimate_record_count(body, len(body), complete=True, header_present=True) == 100
    half = body[: len(body) // 2]
    estimate = estimate_record_count(half, len(body), complete=False, header_present=True)
    assert 90 <= estimate <= 110


def test_merge_schemas_unions_by_name_and_widens() -> None:
    july = [("id", "bigint"), ("bill_amount", "bigint"), ("bill_date", "date")]
    august = [
        ("id", "bigint"),
        ("discount", "double"),
        ("bill_amount", "double"),
        ("bill_date", "string"),
    ]
    assert merge_schemas(july, august) == [
        ("id", "bigint"),
        ("bill_amount", "double"),
        ("bill_date", "string"),
        ("discount", "double"),
    ]
    assert merge_schemas([], july) == july


# --- catalog ---------------------------------------------------------------------------------


@pytest.fixture
def catalog(tmp_path: Path) -> LocalGlueCatalog:
    return LocalGlueCatalog(path=str(tmp_path / "nested" / "catalog.db"))


def test_put_table_versions_only_on_schema_change(catalog: LocalGlueCatalog) -> None:
    v1 = [("id", "bigint"), ("bill_amount", "double")]
    table, created = catalog.put_table("billing", v1, "file:///b/billing/", {"recordCount": 15})
    assert created and table["VersionId"] == "1"
    assert table["Parameters"]["recordCount"] == "15"

    same, created = catalog.put_table("billing", v1, "file:///b/billing/", {"recordCount": 30})
    assert not created and same["VersionId"] == "1"
    assert same["CreateTime"] == table["CreateTime"]
    assert catalog.get_table("billing")["Parameters"]["recordCount"] == "30"
    assert len(catalog.get_table_versions("billing")) == 1

    v2 = v1 + [("discount", "double")]
    changed, created = catalog.put_table("billing", v2, "file:///b/billing/", {})
    assert created and changed["VersionId"] == "2"
    versions = catalog.get_table_versions("billing")
    assert [v["VersionId"] for v in versions] == ["1", "2"]
    assert versions[0]["Table"]["StorageDescriptor"]["Columns"] == glue(v1)
    assert versions[1]["Table"]["StorageDescriptor"]["Columns"] == glue(v2)
    assert catalog.get_table_version("billing", "1")["Parameters"]["recordCount"] == "30"
    assert catalog.get_table("billing")["VersionId"] == "2"


def test_reordered_or_retyped_columns_are_a_new_version(catalog: LocalGlueCatalog) -> None:
    catalog.put_table("t", [("a", "bigint"), ("b", "string")], "file:///t/", {})
    assert catalog.put_table("t", [("b", "string"), ("a", "bigint")], "file:///t/", {})[1]
    assert catalog.put_table("t", [("b", "string"), ("a", "double")], "file:///t/", {})[1]
    assert catalog.get_table("t")["VersionId"] == "3"


def test_put_table_merge_keeps_current_columns(catalog: LocalGlueCatalog) -> None:
    catalog.put_table("t", [("a", "bigint"), ("b", "string")], "file:///t/", {})
    table, created = catalog.put_table("t", [("a", "double")], "file:///t/", {}, merge=True)
    assert created
    assert table["StorageDescriptor"]["Columns"] == glue([("a", "double"), ("b", "string")])
    assert not catalog.put_table("t", [("b", "string")], "file:///t/", {}, merge=True)[1]


def test_table_is_glue_shaped(catalog: LocalGlueCatalog) -> None:
    table, _ = catalog.put_table(
        "billing", [("id", "bigint")], "file:///b/billing/", {"delimiter": "|"}
    )
    assert table["Name"] == "billing" and table["DatabaseName"] == "gross_profit"
    assert table["TableType"] == "EXTERNAL_TABLE"
    assert table["PartitionKeys"] == [{"Name": "billing_month", "Type": "string"}]
    assert table["Parameters"]["classification"] == "csv"
    assert table["Parameters"]["CrawlerSchemaSerializerVersion"] == "1.0"
    descriptor = table["StorageDescriptor"]
    assert descriptor["Location"] == "file:///b/billing/"
    assert descriptor["InputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"
    assert descriptor["OutputFormat"] == (
        "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
    )
    assert descriptor["SerdeInfo"] == {
        "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
        "Parameters": {"field.delim": "|"},
    }
    assert {"CreateTime", "UpdateTime", "VersionId"} <= table.keys()


def test_partitions_upsert(catalog: LocalGlueCatalog) -> None:
    catalog.put_table("billing", [("id", "bigint")], "file:///b/billing/", {})
    first = catalog.put_partition(
        "billing", "2023-07", "file:///b/billing/billing_month=2023-07/", [("id", "bigint")],
        {"recordCount": 15},
    )
    catalog.put_partition("billing", "2023-06", "file:///b/billing/billing_month=2023-06/", [], {})
    catalog.put_partition(
        "billing", "2023-07", "file:///b/billing/billing_month=2023-07/",
        [("id", "bigint"), ("discount", "double")], {"recordCount": 20},
    )
    partitions = catalog.get_partitions("billing")
    assert [p["Values"] for p in partitions] == [["2023-06"], ["2023-07"]]
    july = partitions[1]
    assert july["CreationTime"] == first["CreationTime"]
    assert july["Parameters"]["recordCount"] == "20"
    assert july["StorageDescriptor"]["Columns"] == glue([("id", "bigint"), ("discount", "double")])
    assert july["StorageDescriptor"]["Location"] == "file:///b/billing/billing_month=2023-07/"


def test_partition_of_unknown_table_is_refused(catalog: LocalGlueCatalog) -> None:
    with pytest.raises(EntityNotFoundError):
        catalog.put_partition("nope", "2023-07", "file:///x/", [], {})


def test_delete_table_and_reads_of_unknown_tables(catalog: LocalGlueCatalog) -> None:
    assert catalog.get_table("billing") is None
    assert catalog.get_table_versions("billing") == []
    assert catalog.get_partitions("billing") == []
    catalog.put_table("billing", [("id", "bigint")], "file:///b/", {})
    catalog.put_partition("billing", "2023-07", "file:///b/m/", [], {})
    catalog.delete_table("billing")
    assert catalog.get_table("billing") is None
    assert catalog.get_partitions("billing") == []
    assert catalog.put_table("billing", [("id", "bigint")], "file:///b/", {})[0]["VersionId"] == "1"


WORKERS = 4
WRITES_PER_WORKER = 25


def _write_concurrently(catalog: LocalGlueCatalog, worker: int, start: object) -> None:
    """One process's share: a new column on the shared table, a partition, and a same-schema
    update of its own table, each call on a fresh connection."""
    start.wait()  # type: ignore[attr-defined]
    for i in range(WRITES_PER_WORKER):
        catalog.put_table("shared", [(f"w{worker}_{i}", "string")], "file:///s/", {}, merge=True)
        catalog.put_partition("shared", f"w{worker}-{i:02d}", "file:///s/p/", [], {"i": i})
        catalog.put_table(f"own_{worker}", [("id", "bigint")], "file:///o/", {"i": i})


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    catalog = LocalGlueCatalog(path=str(tmp_path / "catalog.db"))  # created by the race itself
    # fork copies the resource into each process (Dagster resources do not survive a pickle
    # round trip, so spawn would have to rebuild them); it also keeps the test fast.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    start = context.Barrier(WORKERS)
    processes = [
        context.Process(target=_write_concurrently, args=(catalog, worker, start))
        for worker in range(WORKERS)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
    assert [p.exitcode for p in processes] == [0] * WORKERS  # no "database is locked" escaped

    total = WORKERS * WRITES_PER_WORKER
    versions = catalog.get_table_versions("shared")
    assert [v["VersionId"] for v in versions] == [str(n) for n in range(1, total + 1)]
    final_columns = {c["Name"] for c in catalog.get_table("shared")["StorageDescriptor"]["Columns"]}
    assert final_columns == {f"w{w}_{i}" for w in range(WORKERS) for i in range(WRITES_PER_WORKER)}
    assert len(catalog.get_partitions("shared")) == total
    for worker in range(WORKERS):
        own = catalog.get_table(f"own_{worker}")
        assert own["VersionId"] == "1"
        assert own["Parameters"]["i"] == str(WRITES_PER_WORKER - 1)


# --- crawler ---------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(root=str(tmp_path / "object_store"))


@pytest.fixture
def crawler(store: LocalObjectStore, tmp_path: Path) -> LocalGlueCrawler:
    return LocalGlueCrawler(
        object_store=store, catalog=LocalGlueCatalog(path=str(tmp_path / "catalog.db"))
    )


def land(store: LocalObjectStore, tmp_path: Path, key: str, content: bytes) -> None:
    source = tmp_path / "upload.csv"
    source.write_bytes(content)
    store.put_file(str(source), key)


def test_crawl_seed_billing_writes_a_glue_table_and_partition(
    crawler: LocalGlueCrawler, store: LocalObjectStore
) -> None:
    store.put_file(str(SEED_BILLING), JULY_KEY)
    (outcome,) = crawler.crawl(["billing"])

    assert outcome.table == "billing" and outcome.version_id == "1"
    assert outcome.schema_changed and outcome.previous_columns is None
    assert outcome.columns == glue(SEED_BILLING_TYPES)
    assert outcome.partitions == ["2023-07"] and outcome.objects == 1
    assert outcome.records == len(SEED_BILLING.read_text().splitlines()) - 1  # all but the header

    table = crawler.catalog.get_table("billing")
    assert table["StorageDescriptor"]["Columns"] == glue(SEED_BILLING_TYPES)
    assert table["StorageDescriptor"]["Location"] == store.uri("billing/")
    assert table["PartitionKeys"] == [{"Name": "billing_month", "Type": "string"}]
    parameters = table["Parameters"]
    assert parameters["skip.header.line.count"] == "1"
    assert parameters["classification"] == "csv" and parameters["delimiter"] == ","
    assert (parameters["objectCount"], parameters["recordCount"]) == ("1", "15")
    assert parameters["sizeKey"] == str(SEED_BILLING.stat().st_size)

    (partition,) = crawler.catalog.get_partitions("billing")
    assert partition["Values"] == ["2023-07"]
    assert partition["StorageDescriptor"]["Location"] == store.uri("billing/billing_month=2023-07/")
    assert partition["StorageDescriptor"]["Columns"] == glue(SEED_BILLING_TYPES)


def test_crawl_every_seed_table(crawler: LocalGlueCrawler, store: LocalObjectStore) -> None:
    for name, table in [
        ("units_sold_07_2023.csv", "units_sold"),
        ("production_costs_07_2023.csv", "production_costs"),
    ]:
        store.put_file(str(SEED / name), f"{table}/billing_month=2023-07/{name}")
    units, costs = crawler.crawl(["units_sold", "production_costs"], billing_months=["2023-07"])
    assert units.columns == glue(
        [("company_id", "bigint"), ("item_type", "string"), ("units_sold", "bigint")]
    )
    assert costs.columns == glue([("item", "string"), ("cost_per_unit_usd", "double")])


def test_recrawl_with_an_extra_column_creates_a_new_version(
    crawler: LocalGlueCrawler, store: LocalObjectStore, tmp_path: Path
) -> None:
    store.put_file(str(SEED_BILLING), JULY_KEY)
    crawler.crawl(["billing"])
    (unchanged,) = crawler.crawl(["billing"])
    assert unchanged.version_id == "1" and not unchanged.schema_changed
    assert unchanged.previous_columns == glue(SEED_BILLING_TYPES)

    august = SEED_BILLING.read_bytes().replace(b"2023-07-", b"2023-08-")
    lines = august.split(b"\r\n")
    with_discount = b"\r\n".join([lines[0] + b",discount"] + [line + b",0.5" for line in lines[1:]])
    land(store, tmp_path, "billing/billing_month=2023-08/billing_08_2023.csv", with_discount)
    (outcome,) = crawler.crawl(["billing"])

    assert outcome.version_id == "2" and outcome.schema_changed
    assert outcome.previous_columns == glue(SEED_BILLING_TYPES)
    assert outcome.columns == glue(SEED_BILLING_TYPES + [("discount", "double")])
    assert outcome.partitions == ["2023-07", "2023-08"] and outcome.objects == 2
    assert [v["VersionId"] for v in crawler.catalog.get_table_versions("billing")] == ["1", "2"]
    july, aug = crawler.catalog.get_partitions("billing")
    assert july["StorageDescriptor"]["Columns"] == glue(SEED_BILLING_TYPES)
    assert aug["StorageDescriptor"]["Columns"] == outcome.columns


def test_month_crawl_keeps_columns_of_other_months(
    crawler: LocalGlueCrawler, store: LocalObjectStore, tmp_path: Path
) -> None:
    land(store, tmp_path, "billing/billing_month=2023-08/b.csv", b"id,discount\n1,0.5\n")
    store.put_file(str(SEED_BILLING), JULY_KEY)
    crawler.crawl(["billing"])
    (july,) = crawler.crawl(["billing"], billing_months=["2023-07"])
    assert not july.schema_changed and july.partitions == ["2023-07"] and july.objects == 1
    assert ("discount", "double") in [(c["Name"], c["Type"]) for c in july.columns]
    parameters = crawler.catalog.get_table("billing")["Parameters"]
    assert (parameters["objectCount"], parameters["recordCount"]) == ("2", "16")


def test_a_crawl_of_several_months_counts_each_of_them_and_no_other(
    crawler: LocalGlueCrawler, store: LocalObjectStore, tmp_path: Path
) -> None:
    store.put_file(str(SEED_BILLING), JULY_KEY)
    land(store, tmp_path, "billing/billing_month=2023-08/b.csv", SEED_BILLING.read_bytes())
    land(store, tmp_path, "billing/billing_month=2023-09/c.csv", b"id,company_name\n1,x\n")
    (outcome,) = crawler.crawl(["billing"], billing_months=["2023-08", "2023-07"])
    assert outcome.partitions == ["2023-07", "2023-08"] and outcome.objects == 2
    assert outcome.month_counts == {"2023-07": (1, 15), "2023-08": (1, 15)}
    assert outcome.records == 30
    assert [p["Values"] for p in crawler.catalog.get_partitions("billing")] == [["2023-07"], ["2023-08"]]


def test_crawl_of_an_empty_prefix_writes_nothing(crawler: LocalGlueCrawler) -> None:
    (outcome,) = crawler.crawl(["fx_rates"])
    assert (outcome.version_id, outcome.objects, outcome.schema_changed) == ("", 0, False)
    assert crawler.catalog.get_table("fx_rates") is None


def test_hidden_files_are_not_crawled(
    crawler: LocalGlueCrawler, store: LocalObjectStore, tmp_path: Path
) -> None:
    store.put_file(str(SEED_BILLING), JULY_KEY)
    land(store, tmp_path, "billing/billing_month=2023-07/.staging/junk.csv", b"x,y\nz,w\n")
    (outcome,) = crawler.crawl(["billing"])
    assert outcome.objects == 1 and outcome.columns == glue(SEED_BILLING_TYPES)


def test_invalid_month_is_refused(crawler: LocalGlueCrawler) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        crawler.crawl(["billing"], billing_months=["2023-7"])


def test_crawler_works_as_a_dagster_resource(
    crawler: LocalGlueCrawler, store: LocalObjectStore
) -> None:
    store.put_file(str(SEED_BILLING), JULY_KEY)

    @dg.asset
    def billing_table(glue_crawler: GlueCrawler) -> dg.MaterializeResult:
        (outcome,) = glue_crawler.crawl(["billing"])
        return dg.MaterializeResult(metadata={"version_id": outcome.version_id})

    result = dg.materialize([billing_table], resources={"glue_crawler": crawler})
    assert result.success
    assert crawler.catalog.get_table("billing")["VersionId"] == "1"

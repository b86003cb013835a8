"""Reads an Iceberg table with pyiceberg (REST catalog, pyarrow FileIO) and prints it as JSON.

Usage: pyiceberg_read.py <namespace> <table> [row filter] (test/engines/pyiceberg.ts runs it)
Settings come from the same environment variables as the service (ICEBERG_CATALOG_URI,
ICEBERG_WAREHOUSE, S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION).

Prints one JSON object: the current schema's fields (name, type), the default partition
spec's fields (name, transform, source column), and the rows. Timestamps are microseconds
since the epoch, maps are lists of {"key", "value"} entries in file order (as DuckDB's
map_entries gives them), so that nothing is lost between the two languages.
"""

import datetime
import json
import os
import sys

from pyiceberg.catalog import load_catalog


def plain(value):
    if isinstance(value, datetime.datetime):
        return (value - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)) // datetime.timedelta(microseconds=1)
    if isinstance(value, list):
        # pyarrow gives a map as a list of (key, value) tuples
        if value and all(isinstance(v, tuple) and len(v) == 2 for v in value):
            return [{"key": plain(k), "value": plain(v)} for k, v in value]
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def main():
    namespace, table_name = sys.argv[1], sys.argv[2]
    row_filter = sys.argv[3] if len(sys.argv) > 3 else None
    env = os.environ
    catalog = load_catalog(
        "lake",
        **{
            "type": "rest",
            "uri": env["ICEBERG_CATALOG_URI"],
            "warehouse": env.get("ICEBERG_WAREHOUSE", "warehouse"),
            "s3.endpoint": env["S3_ENDPOINT"],
            "s3.access-key-id": env["S3_ACCESS_KEY"],
            "s3.secret-access-key": env["S3_SECRET_KEY"],
            "s3.region": env.get("S3_REGION", "us-east-1"),
            "s3.force-virtual-addressing": "false",
        },
    )
    table = catalog.load_table((namespace, table_name))
    schema = table.schema()
    scan = table.scan(row_filter=row_filter) if row_filter else table.scan()
    arrow = scan.to_arrow()
    rows = [plain(r) for r in arrow.to_pylist()]
    print(json.dumps({
        "schema": [{"name": f.name, "type": str(f.field_type)} for f in schema.fields],
        "partition": [
            {"name": f.name, "transform": str(f.transform), "source": schema.find_column_name(f.source_id)}
            for f in table.spec().fields
        ],
        "files": len(list(scan.plan_files())),
        "rows": rows,
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()

"""Fuzz target: the query parser (``parse_query``) and what each backend builds from it. Any
text is a query: it parses or is refused as too large (``QueryTooLarge``), and the FTS5
expressions built from it are valid SQLite FTS5 syntax (run against a small FTS5 table with
the index's tokenizer) whatever the text.

    nice -n 19 .venv/bin/python tests/fuzz/fuzz_query.py -max_total_time=600 \\
        .cache/fuzz/query tests/fuzz/seeds/queries
"""

from __future__ import annotations

import sqlite3
import sys

import atheris

with atheris.instrument_imports(include=["etl"]):
    from etl.backends.base import QueryTooLarge, SearchRequest, parse_query
    from etl.backends.elasticsearch.query import build_search_body
    from etl.backends.sqlite.search import fts_queries

DB = sqlite3.connect(":memory:")
DB.execute(
    "CREATE VIRTUAL TABLE t USING fts5(title, text, "
    "tokenize = 'porter unicode61 remove_diacritics 2', prefix = '2 3')"
)
DB.execute("INSERT INTO t VALUES ('Port strike', 'The dock workers of Rotterdam walked out')")


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    query = fdp.ConsumeUnicodeNoSurrogates(fdp.remaining_bytes())
    try:
        parsed = parse_query(query)
    except QueryTooLarge:
        return
    for term in [*(t for g in parsed.groups for t in g), *parsed.excluded]:
        assert term.words and all(w.strip() for w in term.words), term
    match, exclude = fts_queries(query)
    for expression in (match, exclude):
        if expression:
            DB.execute("SELECT rowid FROM t WHERE t MATCH ?", (expression,)).fetchall()
    build_search_body(SearchRequest(query=query))


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()

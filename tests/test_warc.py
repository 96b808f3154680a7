"""Web archives in: a WARC file as a crawler (Common Crawl News) leaves it, ingested record by
record, each article one outcome, the rest counted; the copies of one story in one cluster.

The archive is written by the tests (``tests/warc_corpus.py``, warcio's writer)."""

from __future__ import annotations

import gzip
import io
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from etl.backends.base import SearchRequest, TransientIndexError
from etl.backends.sqlite.backend import SqliteBackend
from etl.cli.app import app
from etl.inputs import changed_files
from etl.outcomes import RunReport
from etl.pipeline import ingest
from etl.settings import Settings
from etl.sources import discover, read_file
from tests.es_live import es_url, live_settings
from tests.warc_corpus import Crawl, write_crawl

MAX_BYTES = 10 * 1024 * 1024


@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory) -> Crawl:
    return write_crawl(tmp_path_factory.mktemp("warc") / "crawl.warc.gz")


def read(path: Path, max_bytes: int = MAX_BYTES) -> tuple[list[Any], Counter[str]]:
    skipped: Counter[str] = Counter()
    return list(read_file(path, max_bytes, skipped)), skipped


class Ingested:
    """The crawl ingested into an embedded index: the first run, then the same again."""

    def __init__(self, crawl: Crawl, settings: Settings) -> None:
        self.crawl = crawl
        self.settings = settings
        self.first: RunReport = ingest([str(crawl.path)], settings)
        self.second: RunReport | None = None

    def outcomes(self, report: RunReport) -> dict[str, tuple[str, str]]:
        return {o.source: (o.outcome.value, o.reason) for o in report.outcomes}

    def doc(self, url: str) -> dict[str, Any]:
        (doc_id,) = [o.doc_id for o in self.first.outcomes if o.source == url]
        index = SqliteBackend(self.settings.index)
        try:
            found = index.get(str(doc_id))
        finally:
            index.close()
        assert found is not None
        return found


@pytest.fixture(scope="module")
def ingested(crawl: Crawl, tmp_path_factory: pytest.TempPathFactory) -> Ingested:
    folder = tmp_path_factory.mktemp("warc-index")
    return Ingested(crawl, Settings(index=str(folder / "index.db"), workers=1))


# --- reading ----------------------------------------------------------------------------------


def test_each_html_response_is_one_input_keyed_by_its_canonical_url(crawl: Crawl) -> None:
    raws, _ = read(crawl.path)
    keys = [r.key for r in raws]
    # The crawler's tracking parameters are gone, as for any URL input (courlan).
    assert keys == [*crawl.story_urls, *crawl.other_urls.values(), crawl.truncated_url]
    assert {r.kind for r in raws} == {"warc"}
    first = raws[0]
    assert first.url == first.key and first.media_type == "html"
    assert first.extra["fetched_at"] == "2024-11-07T10:02:00+00:00"  # its WARC-Date
    assert first.data.startswith(b"<!DOCTYPE html>")
    # Content-Encoding gzip and chunked transfer are undone: the page's own bytes.
    assert raws[1].data.startswith(b"<!DOCTYPE html>") and raws[2].data.endswith(b"</html>")


def test_records_that_are_not_articles_are_skipped_and_counted(crawl: Crawl) -> None:
    _, skipped = read(crawl.path)
    assert dict(skipped) == crawl.skipped


def test_the_charset_comes_from_the_http_headers(crawl: Crawl) -> None:
    raws, _ = read(crawl.path)
    by_key = {r.key: r for r in raws}
    charsets = {enc: by_key[url].extra.get("charset") for enc, url in crawl.other_urls.items()}
    assert charsets == {e: e for e in crawl.other_urls}


def test_a_truncated_last_record_is_rejected_with_the_reason(crawl: Crawl) -> None:
    raws, _ = read(crawl.path)
    last = raws[-1]
    assert last.key == crawl.truncated_url
    assert last.rejection is not None and last.rejection.startswith("truncated WARC record")


def test_an_uncompressed_warc_reads_the_same(crawl: Crawl, tmp_path: Path) -> None:
    plain = write_crawl(tmp_path / "crawl.warc")
    gz_raws, gz_skipped = read(crawl.path)
    raws, skipped = read(plain.path)
    assert [(r.key, r.data, r.rejection is None) for r in raws] == [
        (r.key, r.data, r.rejection is None) for r in gz_raws
    ]
    assert skipped == gz_skipped


def test_a_file_cut_inside_a_record_header_is_one_rejected_record(
    crawl: Crawl, tmp_path: Path
) -> None:
    whole = crawl.path.read_bytes()
    raws, _ = read(crawl.path)
    cut = tmp_path / "cut.warc.gz"
    # Cut the last gzip member a few bytes in: only part of its WARC headers is left.
    last_member = whole.rfind(b"\x1f\x8b\x08")
    cut.write_bytes(whole[: last_member + 30])
    cut_raws, _ = read(cut)
    assert [r.key for r in cut_raws[:-1]] == [r.key for r in raws[:-1]]
    assert cut_raws[-1].key == f"{cut}#{last_member}"
    assert cut_raws[-1].rejection is not None and "truncated" in cut_raws[-1].rejection


def test_data_that_is_not_a_warc_is_rejected_not_a_crash(tmp_path: Path) -> None:
    bad = tmp_path / "bad.warc.gz"
    bad.write_bytes(gzip.compress(b"this is not a web archive at all\r\n" * 20))
    (raw,) = read(bad)[0]
    assert raw.key == f"{bad}#0"
    assert raw.rejection is not None and raw.rejection.startswith("unreadable WARC data")


def test_limits_and_bad_target_uris_reject_the_record_alone(tmp_path: Path) -> None:
    path = tmp_path / "odd.warc.gz"
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    page = b"<html><body><p>" + b"word " * 400 + b"</p></body></html>"
    headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
    for url in (
        "https://big.example/a",
        "https://user:secret@site.example/b",
        "https://ok.example/c",
    ):
        record = writer.create_warc_record(
            url, "response", payload=io.BytesIO(page), http_headers=headers
        )
        writer.write_record(record)
    path.write_bytes(out.getvalue())
    raws, _ = read(path, max_bytes=1000)
    assert raws[0].key == "https://big.example/a"
    assert (
        raws[0].rejection
        == "payload too large: more than 1,000 bytes (ARTICLE_ETL_MAX_INPUT_BYTES)"
    )
    # A URL with a password is never a key (it would end up in logs and in the index).
    assert raws[1].key.startswith(f"{path}#") and "password" in str(raws[1].rejection)
    assert "secret" not in str(raws[1].rejection)
    raws, _ = read(path)
    assert raws[0].rejection is None and raws[2].rejection is None
    assert raws[2].key == "https://ok.example/c"


def test_warc_files_are_found_in_folders(crawl: Crawl) -> None:
    assert crawl.path in discover([crawl.path.parent])


# --- ingesting --------------------------------------------------------------------------------


def test_every_record_ends_in_one_outcome(ingested: Ingested) -> None:
    crawl, report = ingested.crawl, ingested.first
    assert report.status == "ok"
    assert report.counts == {"indexed": 9, "unchanged": 0, "duplicate": 0, "rejected": 1}
    outcomes = ingested.outcomes(report)
    assert set(outcomes) == {*crawl.story_urls, *crawl.other_urls.values(), crawl.truncated_url}
    assert outcomes[crawl.truncated_url][0] == "rejected"
    assert dict(report.skipped) == crawl.skipped
    assert report.summary()["skipped"] == dict(sorted(crawl.skipped.items()))


def test_the_five_versions_are_one_story_and_the_others_are_not(ingested: Ingested) -> None:
    crawl = ingested.crawl
    stories = [ingested.doc(url)["story_cluster"] for url in crawl.story_urls]
    first = ingested.doc(crawl.story_urls[0])
    assert stories == [first["id"]] * 5  # the story's id is its first document's
    others = [ingested.doc(url)["story_cluster"] for url in crawl.other_urls.values()]
    assert len(set(others)) == 4 and first["id"] not in others


def test_pages_are_decoded_with_their_declared_charset(ingested: Ingested) -> None:
    urls = ingested.crawl.other_urls
    docs = {encoding: ingested.doc(url) for encoding, url in urls.items()}
    assert "naïve" in docs["windows-1252"]["text"] and "“We wanted" in docs["windows-1252"]["text"]
    assert "満開" in docs["shift_jis"]["text"] and docs["shift_jis"]["language"] == "ja"
    assert "지하철" in docs["euc-kr"]["text"] and docs["euc-kr"]["language"] == "ko"
    for doc in docs.values():
        assert "encoding_guessed" not in doc["warning"]
        assert doc["source_kind"] == "warc"
    story = ingested.doc(ingested.crawl.story_urls[0])
    assert story["fetched_at"] == "2024-11-07T10:02:00+00:00"
    assert story["url"] == ingested.crawl.story_urls[0]


def test_a_second_run_is_unchanged_without_parsing_a_page(
    ingested: Ingested, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_parsing(*_: object, **__: object) -> None:
        raise AssertionError("a page was parsed again")

    monkeypatch.setattr("etl.process.extract", no_parsing)
    again = ingest([str(ingested.crawl.path)], ingested.settings)
    assert again.counts == {"indexed": 0, "unchanged": 9, "duplicate": 0, "rejected": 1}
    assert ingested.outcomes(again)[ingested.crawl.truncated_url][0] == "rejected"


def test_a_run_stopped_halfway_resumes_where_it_stopped(
    crawl: Crawl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(index=str(tmp_path / "index.db"), workers=1)
    calls = {"n": 0}
    upsert = SqliteBackend.upsert

    def failing_second_batch(self: SqliteBackend, articles: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise TransientIndexError("the index went away")
        return upsert(self, articles)

    monkeypatch.setattr(SqliteBackend, "upsert", failing_second_batch)
    with pytest.raises(TransientIndexError):
        ingest([str(crawl.path)], settings)
    monkeypatch.setattr(SqliteBackend, "upsert", upsert)
    parsed: list[str] = []
    import etl.process

    extract = etl.process.extract

    def counting(raw: Any, **kwargs: Any) -> Any:
        parsed.append(raw.key)
        return extract(raw, **kwargs)

    monkeypatch.setattr("etl.process.extract", counting)
    resumed = ingest([str(crawl.path)], settings)
    # The first batch (8 pages) was recorded before the index failed: unchanged now.
    assert resumed.counts == {"indexed": 1, "unchanged": 8, "duplicate": 0, "rejected": 1}
    assert parsed == [crawl.other_urls["euc-kr"]]
    index = SqliteBackend(settings.index)
    try:
        assert index.count() == 9
    finally:
        index.close()


def test_the_ingest_files_tasks_take_an_archive_from_the_inbox_until_it_is_read(
    crawl: Crawl, tmp_path: Path
) -> None:
    """What the ``ingest_files`` DAG's tasks do with an archive dropped into the inbox: list
    it, ingest it in a batch, then leave it out as unchanged until the file changes."""
    from etl.orchestration import tasks

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    archive = inbox / "CC-NEWS-20241107.warc.gz"
    archive.write_bytes(crawl.path.read_bytes())
    plan = {
        "paths": [str(inbox)],
        "index": str(tmp_path / "index.db"),
        "reprocess": False,
        "dry_run": False,
        "batch_size": 10,
        "inbox": False,
    }
    batches, unchanged = tasks.file_batches(plan)
    assert (batches, unchanged) == ([{"inputs": [str(archive)]}], 0)
    summary = tasks.ingest_batch(batches[0], plan)
    assert summary["counts"] == {"indexed": 9, "unchanged": 0, "duplicate": 0, "rejected": 1}
    assert summary["skipped"] == dict(sorted(crawl.skipped.items()))
    report = tasks.summarize([summary], plan, 0)  # the report task: totals of every batch
    assert report["skipped"] == summary["skipped"]
    assert tasks.file_batches(plan) == ([], 1)  # a quiet inbox: nothing read again
    os.utime(archive, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    assert tasks.file_batches(plan)[0] == [{"inputs": [str(archive)]}]  # touched: read again
    settings = Settings(index=plan["index"], workers=1)
    assert changed_files([str(inbox)], settings) == [str(archive)]


# --- the command line ---------------------------------------------------------------------------


def _run(args: list[str], index: Path) -> Any:
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("ARTICLE_ETL_")}
    env.update(ARTICLE_ETL_INDEX=str(index), ARTICLE_ETL_WORKERS="1", COLUMNS="200")
    result = CliRunner().invoke(app, args, env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_cli_ingest_search_collapse_and_show(crawl: Crawl, tmp_path: Path) -> None:
    index = tmp_path / "index.db"
    ingested = _run(["ingest", str(crawl.path)], index).stdout
    assert "indexed: 9" in ingested and "rejected: 1" in ingested
    assert "skipped 19 web archive record(s) that are not articles: 13 request record" in (
        " ".join(ingested.split())
    )
    assert "revisit record" in ingested and "HTTP 404 response" in ingested

    plain = _run(["search", "Rotterdam"], index).stdout
    assert plain.startswith("5 matching article(s) for Rotterdam")
    collapsed = _run(["search", "Rotterdam", "--collapse"], index).stdout
    assert collapsed.startswith("5 matching article(s) in 1 story for Rotterdam")
    assert collapsed.count("(5 copies)") == 1
    everything = _run(["search", "--collapse", "--size", "20"], index).stdout
    assert everything.startswith("9 matching article(s) in 5 stories")

    doc_id = everything.split("(5 copies)", 1)[1].split("\n", 1)[0].rsplit("· ", 1)[1].strip()
    shown = _run(["show", doc_id], index).stdout
    assert "other copies of this story (4):" in shown
    hosts = [h for h in ("harbourtimes", "coastalnews", "dailywire", "metropost", "regional")]
    assert sum(h.capitalize() in shown for h in hosts) >= 4
    assert "fetched" in shown and "2024-11-07T10:" in shown


# --- Elasticsearch ------------------------------------------------------------------------------


@pytest.fixture
def es_settings_live(tmp_path: Path) -> Iterator[Settings]:
    from etl.backends.elasticsearch.admin import setup

    with live_settings(es_url(), tmp_path / "ledger.db") as settings:
        setup(settings)
        yield settings


@pytest.mark.live_es
def test_warc_into_elasticsearch_collapses_like_the_embedded_index(
    ingested: Ingested, es_settings_live: Settings
) -> None:
    from etl.backends.elasticsearch.backend import ElasticsearchBackend

    report = ingest([str(ingested.crawl.path)], es_settings_live)
    assert report.counts == {"indexed": 9, "unchanged": 0, "duplicate": 0, "rejected": 1}
    es = ElasticsearchBackend.from_settings(es_settings_live)
    embedded = SqliteBackend(ingested.settings.index)
    try:
        for request in (
            SearchRequest(collapse=True, size=20),
            SearchRequest(query="Rotterdam", collapse=True),
            SearchRequest(query="port strike", collapse=True, size=1),
        ):
            got, expected = es.search(request), embedded.search(request)
            assert (got.total, got.stories) == (expected.total, expected.stories)
            assert {(h.story_cluster, h.cluster_size) for h in got.hits} == {
                (h.story_cluster, h.cluster_size) for h in expected.hits
            }
        rotterdam = es.search(SearchRequest(query="Rotterdam", collapse=True))
        assert (rotterdam.total, rotterdam.stories) == (5, 1)
        assert rotterdam.hits[0].cluster_size == 5
    finally:
        es.close()
        embedded.close()


def _archive_of(path: Path, records: int) -> Path:
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
    for i in range(records):
        page = b"<html><body><p>" + f"page {i} ".encode() * 8000 + b"</p></body></html>"
        writer.write_record(
            writer.create_warc_record(
                f"https://big.example/{i}",
                "response",
                payload=io.BytesIO(page),
                http_headers=headers,
            )
        )
    path.write_bytes(out.getvalue())
    return path


def test_an_archive_is_read_one_record_at_a_time(tmp_path: Path) -> None:
    """Memory does not grow with the archive: a file of 40 records and one of 320 (about
    25 MB of pages) are read with the same peak of Python allocations."""
    import tracemalloc

    peaks = []
    for records in (40, 320):
        archive = _archive_of(tmp_path / f"{records}.warc.gz", records)
        tracemalloc.start()
        count = sum(1 for raw in read_file(archive, MAX_BYTES) if raw.rejection is None)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert count == records
    assert peaks[1] < 1.5 * peaks[0] + 256 * 1024, peaks

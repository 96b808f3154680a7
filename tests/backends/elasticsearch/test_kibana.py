"""Kibana saved objects (mappings/kibana/*.ndjson) and their import, against a loopback stand-in
for the import endpoint (not Kibana: whether Kibana 9 accepts the objects is for the live leg)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from etl.backends.elasticsearch import kibana
from etl.backends.elasticsearch.cli import kibana_app
from etl.schema import load_schema
from etl.settings import Settings
from etl.settings_schema import Secret
from tests.es_double import unused_port


def committed() -> list[dict[str, Any]]:
    lines = kibana.saved_objects_path().read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_committed_ndjson_equals_generated() -> None:
    checked = CliRunner().invoke(kibana_app, ["objects", "--check"])
    assert checked.exit_code == 0, "stale: run article-etl kibana objects --write"


def test_every_line_is_an_object_and_every_reference_resolves() -> None:
    objects = committed()
    ids = {(o["type"], o["id"]) for o in objects}
    assert len(ids) == len(objects)
    for obj in objects:
        assert set(obj) >= {"id", "type", "attributes", "references"}
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in ids, (obj["id"], ref)
    types = [o["type"] for o in objects]
    assert types[0] == "index-pattern" and types[-1] == "dashboard"


def test_data_view_is_on_the_read_alias_with_published_as_time_field() -> None:
    (view,) = [o for o in committed() if o["type"] == "index-pattern"]
    assert view["attributes"]["title"] == "articles"
    assert view["attributes"]["timeFieldName"] == "published"
    loaded = kibana.load_saved_objects(Settings(es_alias="news"))
    view = next(o for o in loaded if o["type"] == "index-pattern")
    assert view["attributes"]["title"] == "news"


def test_saved_search_columns_exist_and_search_source_points_at_data_view() -> None:
    (search,) = [o for o in committed() if o["type"] == "search"]
    fields = load_schema().fields
    assert search["attributes"]["columns"] == [
        "title",
        "site",
        "author",
        "person",
        "location",
        "language",
    ]
    assert all(c in fields for c in search["attributes"]["columns"])
    source = json.loads(search["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
    (ref,) = search["references"]
    assert ref["name"] == source["indexRefName"] and ref["id"] == kibana.DATA_VIEW_ID


def test_lens_charts_use_mapped_keyword_or_date_fields() -> None:
    fields = load_schema().fields
    lens = [o for o in committed() if o["type"] == "lens"]
    sources: set[str] = set()
    for obj in lens:
        layers = obj["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]
        for layer_id, layer in layers.items():
            assert {r["name"] for r in obj["references"]} == {
                f"indexpattern-datasource-layer-{layer_id}"
            }
            sources |= {column["sourceField"] for column in layer["columns"].values()}
    used = sources - {"___records___"}  # a count of records: no field
    assert {f: fields[f].type for f in used if fields[f].type not in {"keyword", "date"}} == {}
    assert used == {"published", "person", "organization", "location", "language", "site"}


def test_dashboard_panels_match_references() -> None:
    (board,) = [o for o in committed() if o["type"] == "dashboard"]
    panels = json.loads(board["attributes"]["panelsJSON"])
    refs = {r["name"]: r for r in board["references"]}
    assert len(panels) == 7  # over time, 5 top charts, the saved search
    for panel in panels:
        ref = refs[f"{panel['panelIndex']}:{panel['panelRefName']}"]
        assert ref["type"] == panel["type"]
    assert board["attributes"]["timeRestore"] is True


# --------------------------------------------------------------------------- import


class FakeKibana:
    def __init__(self, answer: dict[str, Any], status: int = 200) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                outer.requests.append((self.path, headers, body))
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_kibana() -> Iterator[FakeKibana]:
    fake = FakeKibana({"success": True, "successCount": 8, "errors": []})
    yield fake
    fake.close()


def test_import_posts_all_objects_with_xsrf_overwrite_and_auth(fake_kibana: FakeKibana) -> None:
    settings = Settings(kibana_url=fake_kibana.url, es_api_key=Secret("kid:ksecret-987"))
    answer = kibana.import_saved_objects(settings)
    assert answer["successCount"] == 8
    ((path, headers, body),) = fake_kibana.requests
    assert path == "/api/saved_objects/_import?overwrite=true"
    assert headers["kbn-xsrf"] == "true"
    assert headers["authorization"].startswith("ApiKey ")
    assert headers["content-type"].startswith("multipart/form-data; boundary=")
    text = body.decode()
    assert 'name="file"; filename="articles.ndjson"' in text
    assert all(f'"id": "{o["id"]}"' in text for o in committed())


def test_kibana_cli_setup_json_and_errors(fake_kibana: FakeKibana) -> None:
    runner = CliRunner()
    app = typer.Typer()  # mounted as etl/cli/app.py does: article-etl kibana setup
    app.add_typer(kibana_app, name="kibana")
    ok = runner.invoke(app, ["kibana", "setup", "--kibana-url", fake_kibana.url, "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["successCount"] == 8
    missing = runner.invoke(app, ["kibana", "setup"])
    assert missing.exit_code == 1 and "ARTICLE_ETL_KIBANA_URL" in missing.stderr
    down = runner.invoke(
        app, ["kibana", "setup", "--kibana-url", f"http://127.0.0.1:{unused_port()}"]
    )
    assert down.exit_code == 1 and down.stderr.startswith("error: cannot reach Kibana at")
    assert "Traceback" not in down.output


def test_refused_import_names_the_failing_objects() -> None:
    fake = FakeKibana(
        {
            "success": False,
            "successCount": 7,
            "errors": [
                {
                    "id": "article-etl-dashboard",
                    "type": "dashboard",
                    "error": {"type": "missing_references"},
                }
            ],
        }
    )
    try:
        with pytest.raises(kibana.KibanaError, match="dashboard/article-etl-dashboard: missing"):
            kibana.import_saved_objects(Settings(kibana_url=fake.url))
    finally:
        fake.close()


def test_401_is_a_clear_error_without_the_password() -> None:
    fake = FakeKibana({"statusCode": 401, "message": "Unauthorized"}, status=401)
    try:
        settings = Settings(kibana_url=fake.url, es_username="etl", es_password=Secret("pw-5551"))
        with pytest.raises(kibana.KibanaError) as info:
            kibana.import_saved_objects(settings)
        assert "refused the credentials (401)" in str(info.value)
        assert "pw-5551" not in str(info.value)
    finally:
        fake.close()

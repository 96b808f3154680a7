"""The DAGs as a person uses them: Airflow's own UI in headless Chromium, driven by Playwright.

Against the local Airflow of ``make airflow``. When the one of this checkout is running (its pid
file in .airflow/run, or AIRFLOW_HOME_OVERRIDE's), the tests use it (its URL and password from
there) and leave it running; otherwise they start one with ``make airflow`` in a temporary
AIRFLOW_HOME on a free port, with the example articles in its inbox, a loopback news site as
ingest_urls' default URL list and, when ES_URL is set, that Elasticsearch as the index, and
stop it (``airflow_env.sh stop``, what ``make airflow-stop`` runs) at the end.

For each DAG: log in, open the trigger form, keep the defaults, trigger, wait until the run
succeeds, open the log of the task that reports the outcome and read the counts there. And: a
bad value typed into the form shows Airflow's validation message and starts no run; a path that
does not exist fails the first task with a one-line message.

Chromium is Debian's (scripts/ensure_chromium.sh installs it); Playwright never downloads one.
Every wait is on a condition (Playwright's expect, or polling the REST API with a bound).
Screenshots of every step are saved under each test's tmp_path.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.local_airflow import (
    AirflowApi,
    LocalAirflow,
    clean_env,
    copy_articles,
    free_port,
    healthy,
    read_instance_env,
    start,
)
from tests.paths import EXAMPLES, ROOT
from tests.sites import Reply, Site, running

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
expect.set_options(timeout=60_000)  # the UI polls every few seconds; a loaded machine is slow

pytestmark = [pytest.mark.browser, pytest.mark.airflow, pytest.mark.slow]

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ES_ALIAS = "articles-airflow-test"  # the test instance's own indices and template
RUN_TIMEOUT = 600  # seconds a triggered run may take (spaCy loads in each ingest task)
UI_TIMEOUT = 60_000  # milliseconds for the UI to show something
HTML = {"Content-Type": "text/html; charset=utf-8"}

# Pages of the loopback news site: text found nowhere else, so they are indexed, not duplicates.
PAGES = {
    "/2025/aarhus-harbour-tram": (
        "Aarhus opens its harbour tram line",
        "The city of Aarhus opened the harbour extension of its light rail on Monday. The new "
        "line links the ferry terminal with the university hospital in eleven minutes, and the "
        "transport authority expects nine thousand passengers a day by the end of the year. "
        "Mayor Anders Winnerskjold said the line would take pressure off the ring road.",
    ),
    "/2025/tartu-library-night": (
        "Tartu library keeps its doors open all night",
        "Students in Tartu can now read in the university library until dawn. The night "
        "opening, tried during the examination weeks of last spring, becomes permanent in "
        "September. Librarian Kadri Tamm said two hundred readers used the reading rooms after "
        "midnight on an ordinary weekday, most of them preparing for examinations in medicine.",
    ),
    "/2025/galway-oyster-festival": (
        "Galway oyster festival moves to the docks",
        "The Galway International Oyster Festival will be held on the docks this year after the "
        "council closed the old marquee site for flood works. Organisers said the move adds "
        "room for four thousand visitors a day. The shucking championship opens the festival on "
        "the last Friday of September, as it has since the first festival in nineteen fifty-four.",
    ),
}


def _page_html(title: str, text: str) -> bytes:
    return (
        f"<!doctype html><html lang='en'><head><title>{title}</title></head><body><article>"
        f"<h1>{title}</h1><p>{text}</p><p>{text}</p></article></body></html>"
    ).encode()


def chromium() -> str:
    """Debian's chromium; CHROMIUM names another Chromium-based browser (e.g. google-chrome)."""
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail(f"no browser at {path}: run `bash scripts/ensure_chromium.sh`")
    return path


# --- the Airflow under test ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def news_site() -> Iterator[Site]:
    site = Site()
    for path, (title, text) in PAGES.items():
        site.route(path, Reply(200, _page_html(title, text), HTML))
    site.route(
        "/robots.txt", Reply(200, b"User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"})
    )
    with running(site) as (s,):
        yield s


def _es(method: str, url: str) -> Any:
    req = urllib.request.Request(url, method=method, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


def _drop_es_test_indices(es_url: str) -> None:
    """Remove what an earlier test instance left in Elasticsearch (its own names only)."""
    for row in _es("GET", f"{es_url}/_cat/indices/{ES_ALIAS}-v*?format=json") or []:
        _es("DELETE", f"{es_url}/{row['index']}")
    _es("DELETE", f"{es_url}/_index_template/{ES_ALIAS}-template")


def _this_checkouts_airflow() -> LocalAirflow | None:
    """The Airflow ``make airflow`` started from this checkout, when it is running."""
    home = Path(os.environ.get("AIRFLOW_HOME_OVERRIDE") or ROOT / ".airflow")
    config = read_instance_env(home)
    url = config.get("AIRFLOW_URL", "")
    try:
        pid = int((home / "run" / "api-server.pid").read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return LocalAirflow(url, home, False, {}, config) if url and healthy(url) else None


@pytest.fixture(scope="session")
def airflow(tmp_path_factory: pytest.TempPathFactory, news_site: Site) -> Iterator[LocalAirflow]:
    es_url = os.environ.get("ES_URL", "").rstrip("/")
    if running_one := _this_checkouts_airflow():
        url = running_one.url
        index = running_one.config.get("ARTICLE_ETL_INDEX", "")
        if es_url and not index.startswith("http"):
            pytest.fail(
                f"ES_URL is set but the Airflow running at {url} indexes into {index or '?'}: "
                "restart it with Elasticsearch (make airflow-stop; ES_URL=... make airflow)"
            )
        yield running_one
        return

    # Our own, on a free port: neither in the way of nor confused with another Airflow here.
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    base = tmp_path_factory.mktemp("airflow-browser")
    home, inbox = base / "home", base / "inbox"
    copy_articles(EXAMPLES, inbox)
    url_list = base / "urls.txt"
    url_list.write_text(
        "# the loopback news site\n" + "".join(news_site.url(p) + "\n" for p in PAGES)
    )
    env = clean_env(
        AIRFLOW_HOME_OVERRIDE=str(home),
        AIRFLOW_PORT=str(port),
        ARTICLE_ETL_INBOX=str(inbox),
        ARTICLE_ETL_URL_LIST=str(url_list),
        # The news site is on loopback, which the fetcher refuses unless allowed.
        ARTICLE_ETL_ALLOWED_NETWORKS="127.0.0.0/8",
        ARTICLE_ETL_FETCH_RATE_PER_HOST="50",
        ARTICLE_ETL_WORKERS="1",
        # Runs start when the tests trigger them (the schedule: test_airflow_schedule.py).
        ARTICLE_ETL_SCHEDULE="manual",
    )
    if es_url:
        _drop_es_test_indices(es_url)
        env.update(
            ES_URL=es_url, ARTICLE_ETL_ES_ALIAS=ES_ALIAS, ARTICLE_ETL_LEDGER=str(base / "ledger.db")
        )
    else:
        env["ARTICLE_ETL_INDEX"] = str(base / "index.db")
    started = start(["make", "--no-print-directory", "airflow"], env, home, url)
    try:
        yield started
    finally:
        started.stop()  # what `make airflow-stop` does, for this AIRFLOW_HOME
        if es_url:
            _drop_es_test_indices(es_url)


@pytest.fixture(scope="session")
def api(airflow: LocalAirflow) -> AirflowApi:
    return airflow.api()


@pytest.fixture(scope="session")
def browser(airflow: LocalAirflow) -> Iterator[Any]:
    with playwright_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


class Ui:
    """One browser page, logged in, that saves a numbered screenshot of each step."""

    def __init__(self, page: Any, airflow: LocalAirflow, shots: Path) -> None:
        self.page, self.airflow, self.shots, self.n = page, airflow, shots, 0
        shots.mkdir(parents=True, exist_ok=True)

    def shot(self, name: str) -> Path:
        self.n += 1
        path = self.shots / f"{self.n:02d}-{name}.png"
        self.page.mouse.move(0, 0)  # no tooltip over what the picture is for
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def login(self, path: str) -> None:
        page = self.page
        page.goto(self.airflow.url + path)
        expect(page.get_by_text("Sign into Airflow")).to_be_visible()
        page.locator("input[name=username]").fill("admin")
        page.locator("input[name=password]").fill(self.airflow.password)
        self.shot("login")
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(re.compile(re.escape(self.airflow.url + path) + r"/?$"))

    def open_trigger_form(self, dag_id: str) -> Any:
        self.login(f"/dags/{dag_id}")
        self.page.get_by_role("button", name="Trigger").first.click()
        dialog = self.page.get_by_role("dialog")
        expect(dialog.get_by_text(f"Trigger Dag - {dag_id}")).to_be_visible()
        return dialog

    def run_page(self, run_id: str) -> None:
        """Wait until the open run page shows the run's final state."""
        heading = self.page.get_by_role("heading", name=run_id, exact=True)
        expect(heading).to_be_visible()
        badge = heading.locator("xpath=..").get_by_test_id("state-badge")
        expect(badge).to_have_text(re.compile("Success|Failed"))

    def task_log(self, dag_id: str, run_id: str, task_id: str, wait_for: str) -> str:
        """Open a task instance of the run (from the run's task table) and return its log."""
        page = self.page
        page.locator(f'a[href$="/dags/{dag_id}/runs/{run_id}/tasks/{task_id}"]').first.click()
        expect(page.get_by_role("link", name="Logs", exact=True)).to_be_visible()
        expect(page.get_by_text(wait_for).first).to_be_visible()
        return str(page.locator("body").inner_text())


@pytest.fixture
def own_airflow(airflow: LocalAirflow) -> LocalAirflow:
    """The Airflow these tests started, with the inputs they put there: the example articles in
    its inbox, the loopback news site as its URL list. Another one's inputs are unknown here."""
    if not airflow.started_here:
        pytest.skip("the Airflow in use was started elsewhere: its inputs are not the tests' own")
    return airflow


@pytest.fixture(scope="session")
def default_runs() -> dict[str, str]:
    """The run of each DAG triggered from its form with the defaults, by DAG id."""
    return {}


@pytest.fixture
def ui(browser: Any, airflow: LocalAirflow, tmp_path: Path) -> Iterator[Ui]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(UI_TIMEOUT)
    page = context.new_page()
    try:
        yield Ui(page, airflow, tmp_path / "screenshots")
    finally:
        context.close()


def _run_id_from(url: str, dag_id: str) -> str:
    match = re.search(rf"/dags/{dag_id}/runs/([^/?#]+)", url)
    assert match, url
    return urllib.parse.unquote(match.group(1))


def _defaults(api: AirflowApi, dag_id: str) -> dict[str, Any]:
    params = api.get(f"/api/v2/dags/{dag_id}/details")["params"]
    return {name: p["value"] for name, p in params.items()}


def _trigger_with_defaults(ui: Ui, api: AirflowApi, dag_id: str) -> str:
    dialog = ui.open_trigger_form(dag_id)
    submit = dialog.get_by_test_id("trigger-dag-submit")
    # The form's defaults are valid as they are: no field is marked missing, Trigger is enabled.
    expect(submit).to_be_enabled()
    expect(dialog.get_by_text("This field is required")).to_have_count(0)
    ui.shot("trigger-form")
    submit.click()
    expect(ui.page).to_have_url(re.compile(rf"/dags/{dag_id}/runs/.+"))
    run_id = _run_id_from(ui.page.url, dag_id)
    # The defaults shown in the form are what the run got.
    assert api.run(dag_id, run_id)["conf"] == _defaults(api, dag_id)
    return run_id


def _wait_for_success(ui: Ui, api: AirflowApi, dag_id: str, run_id: str) -> None:
    run = api.wait_until_done(dag_id, run_id, RUN_TIMEOUT)
    assert run["state"] == "success", api.failure_report(dag_id, run_id)
    ui.run_page(run_id)
    heading = ui.page.get_by_role("heading", name=run_id, exact=True)
    expect(heading.locator("xpath=..").get_by_test_id("state-badge")).to_have_text("Success")
    ui.shot("run-succeeded")


def _run_with_defaults(ui: Ui, api: AirflowApi, runs: dict[str, str], dag_id: str) -> str:
    """Trigger ``dag_id`` from its form with the defaults and wait until the run succeeds; once
    a session (the tests reading that run's results share it)."""
    if dag_id not in runs:
        run_id = _trigger_with_defaults(ui, api, dag_id)
        _wait_for_success(ui, api, dag_id, run_id)
        runs[dag_id] = run_id
    return runs[dag_id]


def _skip_without_elasticsearch(airflow: LocalAirflow) -> None:
    if not airflow.config.get("ARTICLE_ETL_INDEX", "").startswith("http"):
        pytest.skip(
            "reindex_articles needs Elasticsearch: set ES_URL (a running node) before the tests "
            "start Airflow, or start it with ES_URL=... make airflow"
        )


def _total_row(log: str) -> dict[str, int]:
    """The counts of the ``total`` row of the outcome table in a report log."""
    match = re.search(r"^total\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$", log, re.M)
    assert match, f"no total row in the log:\n{log[-3000:]}"
    return dict(
        zip(
            ("indexed", "unchanged", "duplicate", "rejected"), map(int, match.groups()), strict=True
        )
    )


# --- the tests -----------------------------------------------------------------------------------


def test_ingest_files_with_the_form_defaults(
    ui: Ui, api: AirflowApi, default_runs: dict[str, str]
) -> None:
    run_id = _run_with_defaults(ui, api, default_runs, "ingest_files")
    log = ui.task_log("ingest_files", run_id, "report", "outcomes of")
    ui.shot("report-log")
    assert _total_row(log) == api.xcom("ingest_files", run_id, "report")["counts"]


def test_ingest_files_defaults_give_every_example_article_an_outcome(
    ui: Ui, api: AirflowApi, own_airflow: LocalAirflow, default_runs: dict[str, str]
) -> None:
    """The inbox of the Airflow started here holds the 12 example articles (one a .html.gz)."""
    run_id = _run_with_defaults(ui, api, default_runs, "ingest_files")
    counts = api.xcom("ingest_files", run_id, "report")["counts"]
    assert sum(counts.values()) == len(list(EXAMPLES.iterdir()))
    assert counts["rejected"] == 0


def test_ingest_urls_with_the_form_defaults(
    ui: Ui, api: AirflowApi, default_runs: dict[str, str]
) -> None:
    defaults = _defaults(api, "ingest_urls")
    if not (defaults["url_list"] or defaults["urls"] or defaults["feeds"] or defaults["sitemaps"]):
        pytest.skip(
            "the running Airflow has no default inputs for ingest_urls (ARTICLE_ETL_URL_LIST, "
            "ARTICLE_ETL_FEEDS, ARTICLE_ETL_SITEMAPS): its defaults cannot succeed"
        )
    run_id = _run_with_defaults(ui, api, default_runs, "ingest_urls")
    log = ui.task_log("ingest_urls", run_id, "report", "outcomes of")
    ui.shot("report-log")
    assert _total_row(log) == api.xcom("ingest_urls", run_id, "report")["counts"]


def test_ingest_urls_defaults_give_every_page_of_the_news_site_an_outcome(
    ui: Ui, api: AirflowApi, own_airflow: LocalAirflow, default_runs: dict[str, str]
) -> None:
    """The URL list of the Airflow started here names the pages of the loopback news site."""
    run_id = _run_with_defaults(ui, api, default_runs, "ingest_urls")
    counts = api.xcom("ingest_urls", run_id, "report")["counts"]
    assert sum(counts.values()) == len(PAGES)
    assert counts["rejected"] == 0
    assert counts["indexed"] + counts["unchanged"] == len(PAGES)


def test_reindex_articles_with_the_form_defaults(
    ui: Ui, api: AirflowApi, airflow: LocalAirflow, default_runs: dict[str, str]
) -> None:
    _skip_without_elasticsearch(airflow)
    run_id = _run_with_defaults(ui, api, default_runs, "reindex_articles")
    log = ui.task_log("reindex_articles", run_id, "reindex", "reindex done")
    ui.shot("reindex-log")
    match = re.search(r'"docs_copied": (\d+)', log)
    assert match, log[-3000:]
    result = api.xcom("reindex_articles", run_id, "reindex")
    assert int(match.group(1)) == result["docs_copied"]
    assert result["dest"] != result["source"]


def test_reindex_articles_copies_what_the_ingests_indexed(
    ui: Ui, api: AirflowApi, own_airflow: LocalAirflow, default_runs: dict[str, str]
) -> None:
    """Into the Elasticsearch indices of the Airflow started here: the two ingests' articles."""
    _skip_without_elasticsearch(own_airflow)
    for dag_id in ("ingest_files", "ingest_urls", "reindex_articles"):  # in this order
        run_id = _run_with_defaults(ui, api, default_runs, dag_id)
    assert api.xcom("reindex_articles", run_id, "reindex")["docs_copied"] >= 1


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on ``port`` (Linux /proc/net/tcp*)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def test_only_this_machine_and_only_with_a_login(ui: Ui, airflow: LocalAirflow) -> None:
    port = int(urllib.parse.urlsplit(airflow.url).port or 80)
    # 0100007F is 127.0.0.1 as /proc writes it; no 0.0.0.0 or :: (every interface)
    assert _listening_addresses(port) == {"0100007F"}
    # The API refuses a request without a token, and the login a wrong password.
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(airflow.url + "/api/v2/dags", timeout=30)
    assert refused.value.code in (401, 403)
    with pytest.raises(AssertionError, match="login refused"):
        AirflowApi(airflow.url, "not-the-password").login()
    # The UI starts at the login page, and a wrong password gets nowhere.
    page = ui.page
    page.goto(airflow.url + "/dags")
    expect(page.get_by_text("Sign into Airflow")).to_be_visible()
    page.locator("input[name=username]").fill("admin")
    page.locator("input[name=password]").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Invalid credentials")).to_be_visible()
    ui.shot("wrong-password")


def test_a_bad_value_in_the_form_starts_no_run(ui: Ui, api: AirflowApi) -> None:
    before = {r["dag_run_id"] for r in api.runs("ingest_files")}
    dialog = ui.open_trigger_form("ingest_files")
    page = ui.page

    # The batch size field knows the limits: a value out of range is set back into it.
    dialog.get_by_role("button", name="Where and how").click()
    field = dialog.get_by_role("spinbutton")
    expect(field).to_have_attribute("aria-valuemax", "1000")
    field.fill("5000")
    field.blur()
    expect(field).to_have_value("1000")
    ui.shot("batch-size-clamped")

    # The conf typed as JSON (Advanced Options) reaches Airflow's validation unchanged.
    dialog.get_by_role("button", name="Advanced Options").click()
    editor = dialog.locator(".monaco-editor")
    editor.locator(".view-lines").click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text('{"batch_size": 0}')
    page.keyboard.press("Shift+Control+End")  # the closing brace and quote the editor added
    page.keyboard.press("Delete")
    dialog.get_by_text("Configuration JSON").click()  # leave the editor: it formats the JSON
    expect(editor.locator(".view-line")).to_have_count(3)
    expect(editor).to_contain_text('"batch_size": 0')
    submit = dialog.get_by_test_id("trigger-dag-submit")
    expect(submit).to_be_enabled()
    ui.shot("bad-conf-typed")
    submit.click()

    message = "Invalid input for param batch_size: 0 is less than the minimum of 1"
    expect(dialog.get_by_text(message)).to_be_visible()
    ui.shot("validation-message")
    expect(page).to_have_url(re.compile(r"/dags/ingest_files/?$"))  # still on the DAG
    # the refusal came back from the API before any run was created
    assert {r["dag_run_id"] for r in api.runs("ingest_files")} == before


def test_a_path_outside_the_inbox_fails_the_first_task_with_one_line(
    ui: Ui, api: AirflowApi
) -> None:
    outside = "/etc"  # readable by the worker, but not a folder a trigger may name
    dialog = ui.open_trigger_form("ingest_files")
    dialog.get_by_role("button", name="What to ingest").click()
    dialog.locator("textarea[name=element_paths]").fill(outside)
    ui.shot("outside-path-typed")
    submit = dialog.get_by_test_id("trigger-dag-submit")
    expect(submit).to_be_enabled()
    submit.click()
    expect(ui.page).to_have_url(re.compile(r"/dags/ingest_files/runs/.+"))
    run_id = _run_id_from(ui.page.url, "ingest_files")
    assert api.run("ingest_files", run_id)["conf"]["paths"] == [outside]

    run = api.wait_until_done("ingest_files", run_id, RUN_TIMEOUT)
    assert run["state"] == "failed"
    states = api.task_states("ingest_files", run_id)
    assert states["check_inputs"] == "failed" and states["list_new_files"] == "upstream_failed"
    ui.run_page(run_id)
    ui.shot("run-failed")

    expected = "ingest_files: invalid parameters: 1 path(s) outside the folders this DAG may read"
    log = ui.task_log("ingest_files", run_id, "check_inputs", expected)
    ui.shot("check-inputs-log")
    assert outside in log
    # The first error of the log is the whole message, on one line; Airflow's traceback follows.
    errors = [
        r
        for r in api.log_records("ingest_files", run_id, "check_inputs")
        if r.get("level") == "error"
    ]
    first = str(errors[0]["event"])
    assert first.startswith(expected) and outside in first and "\n" not in first

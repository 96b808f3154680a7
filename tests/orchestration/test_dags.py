"""The Airflow DAGs: they import cleanly and cheaply, run end to end, and refuse bad params.

Airflow runs in subprocesses with their own AIRFLOW_HOME and SQLite metadata DB (see
tests/airflow_fixtures.py). ``ingest_files`` runs twice with ``dag.test()`` in one
module-scoped fixture that every end-to-end test shares: the second run must find nothing new.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from etl.orchestration import params as p
from etl.settings import DEFAULT_SCHEDULE
from tests.airflow_fixtures import DAGS, airflow_env, migrate, result_of, run_dag, run_python
from tests.paths import EXAMPLES, ROOT

DAG_IDS = {"ingest_files", "ingest_urls", "reindex_articles"}
HEAVY_MODULES = ("spacy", "trafilatura", "elasticsearch", "thinc", "dateparser", "etl.pipeline")
OUTCOMES = ("indexed", "unchanged", "duplicate", "rejected")


def _article_dir(tmp: Path) -> Path:
    """examples/articles when present, else two small articles written here."""
    if EXAMPLES.is_dir() and any(EXAMPLES.iterdir()):
        return EXAMPLES
    folder = tmp / "articles"
    folder.mkdir()
    body = " ".join(["The council met on Tuesday in Bristol to discuss the library budget."] * 12)
    (folder / "library.txt").write_text(f"Bristol library budget approved\n\n{body}\n")
    (folder / "harbour.html").write_text(
        "<html><head><title>Rotterdam harbour strike ends</title></head><body><article>"
        f"<h1>Rotterdam harbour strike ends</h1><p>{body.replace('Bristol', 'Rotterdam')}</p>"
        "</article></body></html>"
    )
    return folder


def _files(folder: Path) -> list[Path]:
    from etl.sources import discover

    return discover([folder])


def _count_inputs(folder: Path) -> int:
    """Inputs, as the pipeline counts them: a JSON Lines file holds one per record."""
    from etl.sources import read_inputs

    return sum(1 for _ in read_inputs(_files(folder), 10 * 1024 * 1024))


# --- parsing -----------------------------------------------------------------------------------

INTEGRITY_SCRIPT = textwrap.dedent(
    """
    import json
    from airflow.dag_processing.dagbag import DagBag
    bag = DagBag()
    out = {"errors": bag.import_errors, "dags": {}}
    for dag_id, dag in bag.dags.items():
        tasks = {}
        for t in dag.tasks:
            tasks[t.task_id] = {
                "retries": t.retries, "backoff": t.retry_exponential_backoff,
                "trigger_rule": str(getattr(t.trigger_rule, "value", t.trigger_rule)),
                "outlets": [getattr(o, "uri", str(o)) for o in t.outlets],
                "mapped": bool(getattr(t, "is_mapped", False)),
            }
        out["dags"][dag_id] = {
            "schedule": str(dag.schedule) if dag.schedule is not None else None,
            "catchup": dag.catchup, "max_active_runs": dag.max_active_runs,
            "params": {k: dag.params.get_param(k).schema for k in dag.params},
            "param_titles": {k: dag.params.get_param(k).schema.get("title") for k in dag.params},
            "tasks": tasks,
        }
    print("@@RESULT@@" + json.dumps(out, default=str))
    """
)

IMPORTS_SCRIPT = textwrap.dedent(
    """
    import json, runpy, sys
    # Airflow itself loads the same for every DAG file; what we look at is the DAG file's own
    # imports, so the lazily loaded SDK names are loaded first.
    from airflow.sdk import Asset, Param, dag, get_current_context, task  # noqa: F401
    heavy = tuple(sys.argv[2].split(","))
    out = {}
    for path in sys.argv[1].split(","):
        runpy.run_path(path, run_name="dag_file")
        out[path] = {"heavy": sorted(m for m in sys.modules if m.split(".")[0] in heavy
                                     or m in heavy)}
    print("@@RESULT@@" + json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def parse_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("airflow-parse")
    return airflow_env(home, ARTICLE_ETL_INDEX=str(home / "index.db"))


@pytest.mark.airflow
def test_every_dag_imports_without_errors(parse_env: dict[str, str]) -> None:
    out = result_of(run_python(INTEGRITY_SCRIPT, parse_env))
    assert out["errors"] == {}
    assert set(out["dags"]) == DAG_IDS

    files = out["dags"]["ingest_files"]
    assert files["schedule"] == DEFAULT_SCHEDULE
    assert files["catchup"] is False and files["max_active_runs"] == 1
    assert set(files["params"]) == set(p.FILE_PARAM_KEYS)
    # optional: "not given" (null) is valid, so the trigger form does not mark it required
    assert files["params"]["paths"]["type"] == ["null", "array"]
    assert files["params"]["index"]["type"] == ["null", "string"]
    assert files["params"]["batch_size"]["minimum"] == p.MIN_BATCH_SIZE
    assert files["params"]["batch_size"]["maximum"] == p.MAX_BATCH_SIZE
    assert all(files["param_titles"].values()), "every param has a title for the trigger form"
    batch = files["tasks"]["ingest_batch"]
    assert batch["mapped"] and batch["retries"] == 3 and batch["backoff"] > 1
    assert files["tasks"]["report"]["trigger_rule"] == "none_failed"
    # (Airflow normalises the URI: article-etl://index/)
    outlets = files["tasks"]["announce_index_update"]["outlets"]
    assert [u.rstrip("/") for u in outlets] == [p.INDEX_ASSET_URI]

    urls = out["dags"]["ingest_urls"]
    assert set(urls["params"]) == set(p.URL_PARAM_KEYS)
    assert urls["tasks"]["ingest_batch"]["mapped"]
    assert urls["tasks"]["ingest_batch"]["retries"] == 3

    reindex = out["dags"]["reindex_articles"]
    assert reindex["schedule"] is None
    assert reindex["tasks"]["reindex"]["retries"] == 3


@pytest.mark.airflow
def test_schedule_comes_from_the_environment(tmp_path: Path) -> None:
    env = airflow_env(tmp_path, ARTICLE_ETL_SCHEDULE="@hourly", ARTICLE_ETL_URL_SCHEDULE="@daily")
    out = result_of(run_python(INTEGRITY_SCRIPT, env))
    assert out["errors"] == {}
    assert out["dags"]["ingest_files"]["schedule"] == "@hourly"
    assert out["dags"]["ingest_urls"]["schedule"] == "@daily"


@pytest.mark.airflow
def test_dag_files_import_nothing_heavy(parse_env: dict[str, str]) -> None:
    files = sorted(str(f) for f in DAGS.glob("*.py"))
    out = result_of(run_python(IMPORTS_SCRIPT, parse_env, ",".join(files), ",".join(HEAVY_MODULES)))
    assert set(out) == set(files)
    for path, loaded in out.items():
        assert loaded["heavy"] == [], f"{path} imports {loaded['heavy']} at parse time"


# --- checks of the first task (no Airflow run needed) --------------------------------------------

CHECKS_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from airflow.sdk.exceptions import AirflowFailException
    from etl.orchestration import tasks
    out = []
    for fn, *args in json.loads(sys.argv[1]):
        try:
            out.append({"ok": True, "plan": getattr(tasks, fn)(*args)})
        except AirflowFailException as exc:
            out.append({"ok": False, "message": str(exc)})
    print("@@RESULT@@" + json.dumps(out))
    """
)


@pytest.mark.airflow
def test_first_task_refuses_bad_inputs_with_clear_messages(
    parse_env: dict[str, str], tmp_path: Path
) -> None:
    url_list = tmp_path / "urls.txt"
    url_list.write_text("# news\nhttps://example.org/a\n\nftp://example.org/b\n")
    cases = [
        ("plan_file_run", {"paths": [str(tmp_path / "nope")]}, None),
        ("plan_file_run", {"paths": [str(tmp_path)]}, {"path": ["x"]}),
        ("plan_file_run", {"paths": [str(tmp_path)], "batch_size": 25}, None),
        ("plan_url_run", {"urls": ["file:///etc/passwd"]}, None),
        ("plan_url_run", {"url_list": str(url_list)}, None),
        ("plan_url_run", {"url_list": str(tmp_path / "missing.txt")}, None),
        ("plan_url_run", {}, None),
        ("plan_url_run", {"urls": ["https://example.org/a", "https://example.org/a"]}, None),
        ("reindex", {}),
        (
            "url_batches",
            {
                "urls": ["https://a.example/1", "https://a.example/2", "https://a.example/3"],
                "feeds": ["https://a.example/feed"],
                "sitemaps": [],
                "batch_size": 2,
            },
        ),
        # the trigger form's defaults: optional params as null mean "not given"
        (
            "plan_url_run",
            {k: None for k in ("urls", "url_list", "feeds", "sitemaps", "index")},
            None,
        ),
        ("plan_file_run", {"paths": None, "index": None, "batch_size": 25}, None),
    ]
    # paths outside the folders a trigger may read: the system's files, a link out, ".."
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "link-to-etc").symlink_to("/etc")
    cases += [
        ("plan_file_run", {"paths": ["/etc/passwd"]}, None),
        ("plan_file_run", {"paths": [str(allowed / "link-to-etc")]}, None),
        ("plan_file_run", {"paths": [f"{allowed}/../urls.txt"]}, None),
        ("plan_file_run", {"paths": [str(allowed)]}, None),
    ]
    env = {
        **parse_env,
        "ARTICLE_ETL_INBOX": str(tmp_path / "no-inbox"),
        "ARTICLE_ETL_PATH_ROOTS": f"{allowed}:{tmp_path}/nope:{tmp_path}",
    }
    out = result_of(run_python(CHECKS_SCRIPT, env, json.dumps(cases)))
    missing, unknown, good, scheme, listed, no_list, empty, repeated, reindex, url_batches = out[
        :10
    ]
    null_urls, null_files = out[10:12]
    system, link_out, dotdot, inside = out[12:]
    env["ARTICLE_ETL_PATH_ROOTS"] = str(allowed)  # tmp_path itself no longer allowed
    (dotdot,) = result_of(run_python(CHECKS_SCRIPT, env, json.dumps([cases[-2]])))
    for refused in (system, link_out, dotdot):
        assert not refused["ok"] and "outside the folders this DAG may read" in refused["message"]
        assert "ARTICLE_ETL_PATH_ROOTS" in refused["message"]
    assert "/etc/passwd" in system["message"] and "link-to-etc" in link_out["message"]
    assert inside["ok"] and inside["plan"]["paths"] == [str(allowed.resolve())]

    assert not missing["ok"] and "do not exist" in missing["message"]
    assert str(tmp_path / "nope") in missing["message"]
    assert not unknown["ok"] and "unknown parameter(s) 'path'" in unknown["message"]
    assert "paths" in unknown["message"]  # says what was expected
    assert good["ok"] and good["plan"]["paths"] == [str(tmp_path.resolve())]
    assert good["plan"]["inbox"] is False
    assert not scheme["ok"] and "not http(s) URLs: 'file:///etc/passwd'" in scheme["message"]
    assert not listed["ok"] and "ftp://example.org/b" in listed["message"]
    assert not no_list["ok"] and "cannot read the URL list" in no_list["message"]
    assert not empty["ok"] and "nothing to ingest" in empty["message"]
    assert repeated["ok"] and repeated["plan"]["urls"] == ["https://example.org/a"]
    # no Elasticsearch connection: the embedded index, which reindex_articles refuses plainly
    assert not reindex["ok"] and "works on Elasticsearch only" in reindex["message"]
    assert url_batches["plan"] == [
        {"inputs": ["https://a.example/1", "https://a.example/2"]},
        {"inputs": ["https://a.example/3"]},
        {"feeds": ["https://a.example/feed"]},
    ]
    # null is "not given": nothing to fetch; the inbox (missing here) for the files
    assert not null_urls["ok"] and "nothing to ingest" in null_urls["message"]
    assert not null_files["ok"] and "inbox folder" in null_files["message"]
    for refused in (missing, unknown, scheme, listed, no_list, empty, null_urls, null_files):
        assert "\n" not in refused["message"], "one line, like Airflow's validation messages"


@pytest.mark.airflow
def test_missing_inbox_is_refused(parse_env: dict[str, str], tmp_path: Path) -> None:
    env = {**parse_env, "ARTICLE_ETL_INBOX": str(tmp_path / "no-inbox")}
    (res,) = result_of(run_python(CHECKS_SCRIPT, env, json.dumps([["plan_file_run", {}, None]])))
    assert not res["ok"]
    assert "inbox folder" in res["message"] and "ARTICLE_ETL_INBOX" in res["message"]


# --- end to end ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def files_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``ingest_files`` over the example articles twice, a failing run, and bad triggers."""
    home = tmp_path_factory.mktemp("airflow-run")
    articles = _article_dir(home)
    index = home / "index.db"
    env = airflow_env(home, ARTICLE_ETL_INDEX=str(index))
    migrate(env)
    good = {"paths": [str(articles)], "batch_size": 5}
    result = run_dag(
        "ingest_files",
        env,
        runs=[good, good, {"paths": [str(home / "missing")]}],
        triggers=[
            {"batch_size": 0},
            {"batch_size": "ten"},
            {"paths": "not-a-list"},
            {"reprocess": "yes"},
            {"paths": [str(articles)], "batch_size": 10},  # valid: accepted
            # what the trigger form sends with its defaults: optional params as null
            {"paths": None, "index": None, "reprocess": False, "dry_run": False, "batch_size": 25},
        ],
    )
    yield {**result, "articles": articles, "index": index, "env": env}


@pytest.mark.airflow
@pytest.mark.slow
def test_ingest_files_indexes_the_articles(files_run: dict[str, Any]) -> None:
    first = files_run["runs"][0]
    assert first["state"] == "success", files_run["log"][-4000:]
    n_inputs = _count_inputs(files_run["articles"])
    batches = [k for k in first["tasks"] if k.startswith("ingest_batch[")]
    assert len(batches) == -(-len(_files(files_run["articles"])) // 5)
    assert all(first["tasks"][b] == "success" for b in batches)

    totals = first["xcoms"]["report"]
    assert sum(totals["counts"][k] for k in OUTCOMES) == n_inputs
    assert totals["counts"]["indexed"] >= 1
    # per-batch XComs are the small summaries, never articles
    for b in batches:
        summary = first["xcoms"][b]
        assert set(summary) >= {"run_id", "status", "counts"}
        assert len(json.dumps(summary)) < 2000
    # the index asset was updated, once
    assert first["tasks"]["announce_index_update"] == "success"
    assert [u.rstrip("/") for u in first["asset_events"]] == [p.INDEX_ASSET_URI]


@pytest.mark.airflow
@pytest.mark.slow
def test_documents_and_outcomes_are_in_the_index_and_ledger(files_run: dict[str, Any]) -> None:
    first = files_run["runs"][0]
    indexed = first["xcoms"]["report"]["counts"]["indexed"]
    env = {**files_run["env"], "ARTICLE_ETL_INDEX": str(files_run["index"])}
    done = subprocess.run(
        [sys.executable, "-m", "etl", "search", "--json", "--size", "100", "--facet", "site"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["total"] == indexed
    sources = {str(f) for f in _files(files_run["articles"])}
    assert {h["source"].split("#")[0] for h in found["hits"]} <= sources

    from etl.ledger import Ledger

    ledger = Ledger(files_run["index"])
    try:
        outcomes = [o for r in first["xcoms"]["report"]["run_ids"] for o in ledger.run_outcomes(r)]
    finally:
        ledger.close()
    assert len(outcomes) == _count_inputs(files_run["articles"])
    assert sum(o["outcome"] == "indexed" for o in outcomes) == indexed


@pytest.mark.airflow
@pytest.mark.slow
def test_second_run_indexes_nothing_new(files_run: dict[str, Any]) -> None:
    second = files_run["runs"][1]
    assert second["state"] == "success"
    totals = second["xcoms"]["report"]
    # at most container files (.gz, .jsonl: their records are checked one by one) come back,
    # and they are found unchanged; the files left out when listing count as unchanged too
    assert totals["counts"]["indexed"] == 0
    assert totals["counts"]["unchanged"] == _count_inputs(files_run["articles"])
    # nothing indexed: no asset event, so DAGs scheduled on the index do not run
    assert second["tasks"]["announce_index_update"] == "skipped"
    assert second["asset_events"] == []
    # the example articles hold no container file: nothing is listed, no batch runs
    assert totals["batches"] == 0
    assert second["tasks"]["ingest_batch"] == "skipped"
    assert "nothing new in" in files_run["log"]


@pytest.mark.airflow
@pytest.mark.slow
def test_bad_path_fails_the_first_task(files_run: dict[str, Any]) -> None:
    bad = files_run["runs"][2]
    assert bad["state"] == "failed"
    assert bad["tasks"]["check_inputs"] == "failed"
    assert bad["tasks"]["list_new_files"] == "upstream_failed"
    assert "path(s) do not exist on the worker" in files_run["log"]


@pytest.mark.airflow
@pytest.mark.slow
def test_invalid_trigger_params_are_refused(files_run: dict[str, Any]) -> None:
    too_small, not_int, not_list, not_bool, valid, form_defaults = files_run["triggers"]
    for refused in (too_small, not_int, not_list, not_bool):
        assert not refused["ok"]
        assert refused["error"] == "ParamValidationError"
    assert too_small["message"].startswith(
        "Invalid input for param batch_size: 0 is less than the minimum of 1"
    )
    assert not_int["message"].startswith(
        "Invalid input for param batch_size: 'ten' is not of type 'integer'"
    )
    assert not_list["message"].startswith("Invalid input for param paths:")
    assert "is not of type 'null', 'array'" in not_list["message"]
    assert not_bool["message"].startswith("Invalid input for param reprocess:")
    assert valid["ok"], valid
    assert form_defaults["ok"], form_defaults


# --- pure helpers (no Airflow) -------------------------------------------------------------------


def test_split_batches_caps_the_number_of_mapped_tasks() -> None:
    items = [str(i) for i in range(10)]
    assert p.split_batches(items, 4) == [items[0:4], items[4:8], items[8:10]]
    assert p.split_batches([], 4) == []
    capped = p.split_batches([str(i) for i in range(1000)], 1, max_batches=10)
    assert len(capped) == 10 and sum(map(len, capped)) == 1000
    with pytest.raises(ValueError, match="at least 1"):
        p.split_batches(items, 0)


def test_url_checks(tmp_path: Path) -> None:
    listing = tmp_path / "urls.txt"
    listing.write_text("# comment\n https://a.example/x#frag \n\nhttp://b.example/\n")
    assert p.read_url_list(str(listing)) == ["https://a.example/x#frag", "http://b.example/"]
    assert p.bad_urls(["https://a.example/", "ftp://x", "https://", "example.org"]) == [
        "ftp://x",
        "https://",
        "example.org",
    ]
    assert p.unknown_keys({"paths": [], "path": []}, p.FILE_PARAM_KEYS) == ["path"]
    assert p.unknown_keys(None, p.FILE_PARAM_KEYS) == []


def test_demo_script_is_valid_bash() -> None:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash")
    done = subprocess.run(
        [bash, "-n", str(ROOT / "scripts" / "demo.sh")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr

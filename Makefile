# The two set-up commands of the README: `make demo` (the main job) and `make test`.
# Both create .venv and install what they need on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint bench clean es es-stop

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

# The real Airflow DAG `ingest_files` over examples/articles (and ../shared/seeds when present)
# into the embedded index data/articles.db, then a faceted search.
demo: install
	bash scripts/demo.sh

lint: install
	$(BIN)/ruff check etl dags tests bench
	$(BIN)/ruff format --check etl dags tests bench
	$(BIN)/mypy
	$(BIN)/python scripts/check_layout.py

# Starts the Elasticsearch node (and installs chromium) first, stops the node at the end.
test: lint
	bash scripts/test.sh $(PYTEST_ARGS)

# A real single-node Elasticsearch on 127.0.0.1:$(ES_PORT) (default 9200): Elasticsearch's own
# server from Maven Central, security off. Returns once green and prints its URL.
es:
	bash scripts/es_node.sh start

es-stop:
	bash scripts/es_node.sh stop

# The pipeline benchmark (520 documents) and the embedded index at 100,000 documents, every
# figure beside its target. BENCH_ARGS='--runs 3' reports min / median / max.
bench: install
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

clean:
	-bash scripts/es_node.sh stop
	rm -rf $(VENV) data .airflow .cache

# A local Airflow 3 (api-server, scheduler, dag-processor; LocalExecutor, SQLite in .airflow/) on
# http://127.0.0.1:8080 (AIRFLOW_PORT), login `admin` with a generated password. Returns once the
# UI answers and the DAGs are parsed, and prints the password. Inbox ./inbox (created with the
# example articles), index data/articles.db, or Elasticsearch when ES_URL is set.
.PHONY: airflow airflow-stop
airflow: install
	bash scripts/airflow_env.sh start

airflow-stop:
	bash scripts/airflow_env.sh stop

# Issue 16: real PostgreSQL and Redis from Debian's packages (apt-get when missing) on 127.0.0.1,
# data in temporary folders removed by the -stop targets (PG_PORT 54329, REDIS_PORT 63799).
.PHONY: pg pg-stop redis redis-stop celery celery-stop
pg:
	bash scripts/pg_node.sh start

pg-stop:
	bash scripts/pg_node.sh stop

redis:
	bash scripts/redis_node.sh start

redis-stop:
	bash scripts/redis_node.sh stop

# A local Airflow 3 with the CeleryExecutor on http://127.0.0.1:8081 (AIRFLOW_PORT): metadata DB
# in PostgreSQL, broker Redis (both started when not running), api-server, scheduler,
# dag-processor and two Celery workers of concurrency 1; AIRFLOW_HOME .cache/airflow-celery/.
celery: install
	bash scripts/celery_stack.sh start

celery-stop:
	bash scripts/celery_stack.sh stop

# ingest_files on one and on two Celery workers of a throwaway stack (its own PostgreSQL and
# Redis on free ports; Elasticsearch when ES_URL is set): docs/s, ratio, the ledger's share.
.PHONY: bench-celery
bench-celery: install
	$(BIN)/python bench/bench_celery.py $(BENCH_ARGS)

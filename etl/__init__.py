"""article-etl: article files and web pages to clean text, entities and dates, in a searchable,
faceted index. Stages: ``etl.extract`` -> ``etl.enrich`` -> ``etl.backends`` (index), driven by
``etl.pipeline``; the CLI is ``etl.cli``, the Airflow DAGs in ``dags/`` call
``etl.orchestration.tasks``."""

__version__ = "0.1.0"

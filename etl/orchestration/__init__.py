"""Airflow glue: DAG parameters, task callables and the shared retry policy."""

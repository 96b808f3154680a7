"""Everything Elasticsearch: the client (``client``), the index backend (``backend``) and the
search bodies it sends (``query``), administration of the template and aliases (``admin``),
Kibana's saved objects (``kibana``), settings from an Airflow connection
(``airflow_connection``) and the ``article-etl es`` / ``kibana`` command line (``cli``).

Nothing is imported here, so that ``kibana`` or ``airflow_connection`` load without the client."""

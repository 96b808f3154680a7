"""The web wing: finding article URLs and fetching them politely, safely and cheaply.

- ``discovery``: URLs from the command line, list files, feeds and sitemaps (``discover_urls``);
- ``dispatch``: many URLs -> one ``RawInput`` each (``fetch_inputs``), the entry point;
- ``fetcher``: one URL, redirects followed hop by hop (``Fetcher``);
- ``robots``, ``politeness``: robots.txt rules and the per-host clock;
- ``connections``, ``netguard``: which addresses may be reached, and how long a response takes;
- ``protocol``, ``decompress``: errors, responses, content types, bounded gzip/deflate;
- ``fetch_cache``: validators and hashes of the last fetch, for conditional re-runs.
"""

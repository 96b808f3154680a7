"""Article records for tests."""

from __future__ import annotations

from etl.record import Article, DateMention, Entity


def full_article() -> Article:
    """An article with every field set, so ``to_document()`` produces every key."""
    return Article(
        id="a1",
        source="/data/a1.html",
        source_kind="file",
        raw_hash="r" * 64,
        text="Maria Okafor spoke in Lagos. " * 20,
        content_hash="c" * 64,
        title="Harbour strike ends",
        title_derived=False,
        description="The strike is over.",
        url="https://news.example/a1",
        canonical_url="https://news.example/a1",
        site="News Example",
        host="news.example",
        author=["Ann Writer"],
        category=["Economy"],
        tag=["strike"],
        language="en",
        published="2025-03-14T09:30:00+00:00",
        published_source="structured_data",
        published_confidence="high",
        file_modified="2025-03-15T00:00:00+00:00",
        entities=[
            Entity(name, etype, 2, [name.split()[0]])
            for etype, name in [
                ("person", "Maria Okafor"),
                ("organization", "Dock Union"),
                ("location", "Lagos"),
                ("group", "Dockers"),
                ("event", "Strike"),
                ("product", "Crane"),
                ("work", "Report"),
                ("law", "Labour Act"),
            ]
        ],
        date_mentions=[
            DateMention(
                "last March", "2024-03", "month", "2024-03-01", "2024-03-31", True, True, ""
            )
        ],
        warning=["no_author"],
        model="en_core_web_sm 3.8.0",
        processed_at="2025-03-16T00:00:00+00:00",
    )

"""A web archive written by the tests themselves (warcio's writer), as a crawler leaves them.

``write_crawl(path)`` writes a ``.warc.gz`` (one gzip member per record, as Common Crawl) or a
``.warc`` holding:

* five versions of one story (a Rotterdam port strike) on five hosts, each page with its own
  navigation, sidebar, share buttons and footer, and small edits: headlines changed, a
  corrected paragraph, a wire credit line, a dropped closing paragraph, a correction note. One
  of them is sent gzip-compressed (``Content-Encoding: gzip``), one chunked;
* unrelated stories in several encodings declared only in the HTTP ``Content-Type``:
  UTF-8, windows-1252, Shift_JIS (Japanese) and EUC-KR (Korean);
* what is not an article: the ``warcinfo`` record, a ``request`` before every response, a
  ``metadata`` record, a ``revisit`` of the first story page, a PNG image, a 404 page, a
  ``dns:`` lookup;
* and last a response record cut off in the middle (a download that stopped).
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

STORY_HOSTS = (
    "harbourtimes.example",
    "coastalnews.example",
    "dailywire.example",
    "metropost.example",
    "regionalherald.example",
)

_STORY = [
    "Dock workers in Rotterdam voted on Wednesday to end a nine-day strike that had "
    "paralysed Europe's largest port, after the port authority and the FNV union agreed on "
    "a new collective labour agreement covering pay, shift rosters and the use of automated "
    "cranes.",
    "The deal raises wages by 6.5 percent over two years and guarantees that no crane "
    "operator will lose a job because of automation before 2030, union negotiator Maria "
    "Okafor told reporters outside the Waalhaven terminal late on Tuesday night.",
    "The strike involved about 4,000 workers at the container terminals of the Maasvlakte "
    "and left more than 60 ships waiting at anchor in the North Sea, according to figures "
    "published by the port authority on Monday.",
    "Shipping companies had diverted some vessels to Antwerp and Hamburg, and retailers "
    "warned that shelves could empty before the holidays if the dispute dragged on into "
    "next week. Freight rates on routes to northern Europe rose sharply during the stoppage.",
    "Port chief executive Boudewijn Siemons said the first ships would berth on Thursday "
    "morning and that it could take two weeks to clear the backlog of containers stacked at "
    "the quays and in the inland depots around the city.",
    "Members of the union approved the agreement by a large majority in a vote held at the "
    "Ahoy convention centre, where several thousand dock workers gathered on Wednesday "
    "afternoon to hear the terms read out by their delegates.",
    "Employers' association Deltalinqs welcomed the outcome but said the cost of the strike "
    "to the regional economy would run into hundreds of millions of euros, and called for "
    "talks on a faster way to settle future disputes in the port.",
]

# (host, headline, paragraphs, boilerplate lines the page shows inside its article)
_VERSIONS: list[tuple[str, list[str], list[str]]] = [
    (
        "Rotterdam dock workers end nine-day port strike",
        _STORY,
        ["Reporting by Anna de Vries; Editing by Tom Hughes"],
    ),
    (
        "Rotterdam port strike is over: dockers accept new deal",
        _STORY,
        ["Sign up for our morning newsletter and never miss a story."],
    ),
    (
        "Strike ends at Europe's biggest port",
        [
            *_STORY[:2],
            _STORY[2]
            .replace("about 4,000 workers", "some 4,200 workers")
            .replace("on Monday", "on Tuesday"),
            *_STORY[3:],
        ],
        ["(Corrects number of workers in paragraph three)", "© 2024 Daily Wire Service"],
    ),
    (
        "Dockers vote to end Rotterdam stoppage",
        _STORY[:-1],
        ["Follow us on social media for the latest updates from the port."],
    ),
    (
        "Rotterdam port strike ends after nine days",
        [
            _STORY[0].replace("voted on Wednesday", "voted overwhelmingly on Wednesday"),
            *_STORY[1:4],
            _STORY[4].replace("two weeks", "up to two weeks"),
            *_STORY[5:],
        ],
        ["This article was updated with comment from the port authority."],
    ),
]

OTHER_STORIES = {
    "utf-8": (
        "https://alpinescience.example/2025/03/aletsch-glacier-record-melt",
        "Aletsch glacier melt sets a record",
        [
            "Glaciologists measured a record loss of ice on the Aletsch glacier this summer, "
            "the largest glacier of the Alps, after a heatwave in July pushed the zero-degree "
            "line above 5,000 metres for eleven days in a row.",
            "The glacier lost about 2.5 metres of thickness at the Konkordiaplatz measuring "
            "station, twice the average of the past decade, said Lena Brunner of the Swiss "
            "glacier monitoring network in Zürich.",
            "Tourism offices in the Valais fear that the famous view from the Eggishorn will "
            "change within a generation, while hydropower companies are planning new dams "
            "in the valleys the retreating ice leaves behind.",
        ],
    ),
    "windows-1252": (
        "https://parisgazette.example/culture/cafe-naive-art-exhibition",
        "A café devoted to naïve art opens in Montmartre",
        [
            "A small café in Montmartre has turned its walls into a gallery of naïve "
            "painting, showing forty works by self-taught artists from Haiti, Brittany and "
            "the Balkans until the end of the year.",
            "“We wanted people to drink their coffee among pictures they could have painted "
            "themselves,” said the owner, Hélène Moreau, who spent three years collecting the "
            "works at flea markets and village fêtes.",
            "Entry is free, and every Sunday morning a painter from the exhibition gives a "
            "workshop for children in the back room — the first sessions were booked out "
            "within a day.",
        ],
    ),
    "shift_jis": (
        "https://tokyodaily.example/news/2025/04/sakura-forecast",
        "東京で桜が満開に、平年より五日早く",
        [
            "気象庁は四日、東京都心の桜が満開になったと発表した。平年より五日早く、"
            "昨年より三日早い満開となった。上野公園や千鳥ヶ淵には朝から多くの花見客が訪れた。",
            "今年は三月の気温が平年を大きく上回り、開花から満開までの期間が短かった。"
            "気象庁の担当者は、週末にかけて天気が崩れる見込みで、花びらが散り始める"
            "可能性があると話している。",
            "都内の公園では、混雑を避けるために入場制限を行うところもあり、"
            "主催者は公共交通機関の利用を呼びかけている。",
        ],
    ),
    "euc-kr": (
        "https://seoulherald.example/society/2025/05/subway-line-opens",
        "서울 지하철 새 노선 개통, 출퇴근 시간 단축 기대",
        [
            "서울시는 새 지하철 노선이 오늘 오전 다섯 시 삼십 분에 개통했다고 밝혔다. "
            "새 노선은 도심과 남부 지역을 연결하며 모두 열다섯 개 역을 지난다.",
            "시는 이번 개통으로 남부 지역 주민들의 출퇴근 시간이 평균 이십 분 정도 "
            "줄어들 것으로 예상한다고 설명했다. 첫날 이용객은 약 십만 명으로 집계됐다.",
            "일부 역에서는 안내 표지판이 부족하다는 지적도 나왔으며, 시는 다음 주까지 "
            "보완하겠다고 밝혔다.",
        ],
    ),
}


@dataclass(frozen=True)
class Crawl:
    path: Path
    story_urls: list[str]  # the five versions' canonical URLs, in the order written
    other_urls: dict[str, str]  # encoding -> canonical URL
    truncated_url: str
    skipped: dict[str, int]  # what the run's summary must count


def _page(host: str, headline: str, paragraphs: list[str], boilerplate: list[str], n: int) -> str:
    """A news page as sites make them: the article among navigation, sidebars and footers
    that differ from site to site."""
    site = host.split(".")[0].capitalize()
    nav = "".join(
        f'<li><a href="/{s.lower()}">{s}</a></li>'
        for s in ["World", "Business", "Sport", "Culture", "Opinion"][: 3 + n % 3]
    )
    related = "".join(
        f'<li><a href="/news/{i}">{t}</a></li>'
        for i, t in enumerate(
            [
                "Weather: storms expected over the weekend",
                f"{site} podcast: the week in review",
                "Opinion: what the port needs next",
                "Markets close higher on tech rally",
            ][: 2 + n % 3]
        )
    )
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    extra = "".join(f"<p><em>{b}</em></p>" for b in boilerplate)
    return (
        f"<!DOCTYPE html><html lang='en'><head><title>{headline} | {site}</title>"
        f"<meta property='og:site_name' content='{site}'>"
        "<meta name='article:published_time' content='2024-11-07T09:42:00+01:00'></head>"
        f"<body><header><a href='/'>{site}</a><nav><ul>{nav}</ul></nav>"
        f"<form><input name='q' placeholder='Search {site}'></form></header>"
        f"<main><article><h1>{headline}</h1>"
        f"<p class='byline'>By Staff Reporter · November 7, 2024</p>{body}{extra}</article>"
        f"<aside><h2>Most read</h2><ul>{related}</ul>"
        "<div class='share'>Share on Facebook · Share on X · Email</div></aside></main>"
        f"<footer><p>© {site} Media Group</p><a href='/privacy'>Privacy</a> · "
        "<a href='/terms'>Terms</a> · <a href='/cookies'>Cookie settings</a></footer>"
        "</body></html>"
    )


def _http(status: str, content_type: str, extra: list[tuple[str, str]] = ()) -> StatusAndHeaders:  # type: ignore[assignment]
    headers = [("Content-Type", content_type), *extra] if content_type else list(extra)
    return StatusAndHeaders(status, headers, protocol="HTTP/1.1")


def _chunked(data: bytes, size: int = 700) -> bytes:
    parts = [data[i : i + size] for i in range(0, len(data), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def write_crawl(path: Path) -> Crawl:
    """Write the test crawl to ``path`` (gzip members when it ends in ``.gz``)."""
    compressed = path.name.endswith(".gz")
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=compressed)
    date = "2024-11-07T10:{:02d}:00Z"
    minute = 0

    def warc_date() -> dict[str, str]:
        nonlocal minute
        minute += 1
        return {"WARC-Date": date.format(minute)}

    def request(url: str) -> None:
        host = url.split("/")[2]
        path_part = "/" + url.split("/", 3)[3]
        headers = StatusAndHeaders(
            f"GET {path_part} HTTP/1.1", [("Host", host)], is_http_request=True
        )
        writer.write_record(
            writer.create_warc_record(
                url, "request", http_headers=headers, warc_headers_dict=warc_date()
            )
        )

    def response(url: str, body: bytes, headers: StatusAndHeaders) -> None:
        request(url)
        writer.write_record(
            writer.create_warc_record(
                url,
                "response",
                payload=io.BytesIO(body),
                http_headers=headers,
                warc_headers_dict=warc_date(),
            )
        )

    writer.write_record(writer.create_warcinfo_record(path.name, {"software": "article-etl tests"}))
    story_urls = []
    for n, (host, (headline, paragraphs, boilerplate)) in enumerate(
        zip(STORY_HOSTS, _VERSIONS, strict=True)
    ):
        url = f"https://{host}/news/2024/11/07/rotterdam-port-strike-{n}"
        html = _page(host, headline, paragraphs, boilerplate, n).encode("utf-8")
        if n == 1:  # sent compressed
            body = gzip.compress(html)
            headers = _http("200 OK", "text/html; charset=utf-8", [("Content-Encoding", "gzip")])
        elif n == 2:  # sent in chunks
            body = _chunked(html)
            headers = _http(
                "200 OK", "text/html; charset=UTF-8", [("Transfer-Encoding", "chunked")]
            )
        else:
            body, headers = html, _http("200 OK", "text/html; charset=utf-8")
        # The crawler saw tracking parameters: the key is the canonical URL without them.
        response(f"{url}?utm_source=rss&utm_medium=feed", body, headers)
        story_urls.append(url)

    other_urls = {}
    for encoding, (url, headline, paragraphs) in OTHER_STORIES.items():
        body_html = "".join(f"<p>{p}</p>" for p in paragraphs)
        html = (
            f"<html><head><title>{headline}</title></head><body><article><h1>{headline}</h1>"
            f"{body_html}</article></body></html>"
        )
        # The charset is declared in the HTTP header only (no <meta charset>).
        response(url, html.encode(encoding), _http("200 OK", f"text/html; charset={encoding}"))
        other_urls[encoding] = url

    # Not articles.
    first = story_urls[0] + "?utm_source=rss&utm_medium=feed"
    writer.write_record(
        writer.create_warc_record(
            first,
            "metadata",
            payload=io.BytesIO(b"via: https://harbourtimes.example/rss\r\nhopsFromSeed: L\r\n"),
            warc_content_type="application/warc-fields",
            warc_headers_dict=warc_date(),
        )
    )
    request(first)
    writer.write_record(
        writer.create_revisit_record(
            first,
            digest="sha1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            refers_to_uri=first,
            refers_to_date="2024-11-07T10:01:00Z",
            http_headers=_http("200 OK", "text/html; charset=utf-8"),
        )
    )
    response(
        "https://harbourtimes.example/images/crane.png",
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
        _http("200 OK", "image/png"),
    )
    response(
        "https://harbourtimes.example/news/missing",
        b"<html><body><h1>Not found</h1></body></html>",
        _http("404 Not Found", "text/html; charset=utf-8"),
    )
    writer.write_record(
        writer.create_warc_record(
            "dns:harbourtimes.example",
            "response",
            payload=io.BytesIO(b"20241107101500\nharbourtimes.example.\t300\tIN\tA\t192.0.2.7\n"),
            warc_content_type="text/dns",
            warc_headers_dict=warc_date(),
        )
    )

    # Last, a page whose record the file ends inside.
    truncated_url = "https://coastalnews.example/news/2024/11/08/harbour-cranes"
    request(truncated_url)
    tail = io.BytesIO()
    tail_writer = WARCWriter(tail, gzip=compressed)
    page = _page("coastalnews.example", "New cranes for the harbour", _STORY[4:], [], 1).encode(
        "utf-8"
    )
    tail_writer.write_record(
        tail_writer.create_warc_record(
            truncated_url,
            "response",
            payload=io.BytesIO(page),
            http_headers=_http("200 OK", "text/html; charset=utf-8"),
            warc_headers_dict=warc_date(),
        )
    )
    whole = tail.getvalue()
    path.write_bytes(out.getvalue() + whole[: len(whole) * 2 // 3])
    return Crawl(
        path=path,
        story_urls=story_urls,
        other_urls=other_urls,
        truncated_url=truncated_url,
        skipped={
            "warcinfo record": 1,
            "request record": len(story_urls) + len(other_urls) + 4,
            "metadata record": 1,
            "revisit record": 1,
            "non-HTML response": 1,
            "HTTP 404 response": 1,
            "non-HTTP response": 1,
        },
    )

"""Languages from the text, declared tags normalised, lengths for every script."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl.enrich import enrich, load_nlp
from etl.extract import Rejected, extract
from etl.language import detect_language, normalise_language, word_equivalents
from etl.record import RawInput, reading_minutes
from etl.settings import DEFAULT_MODEL
from etl.sources import read_file

ENGLISH = (
    "The city council approved a new budget on Tuesday after a long debate about the cost of "
    "public transport. Mayor Anne Keller said the plan would add two bus lines next year and "
    "that fares would stay the same. The opposition said the budget relied on optimistic "
    "forecasts of tax income, and asked for an independent review before the summer."
)
GERMAN = (
    "Der Patient gibt an, seit drei Tagen unter starken Kopfschmerzen zu leiden. Die Ärztin "
    "im Kreiskrankenhaus untersuchte ihn am Montag und ordnete eine Computertomografie an. "
    "Nach Angaben der Klinik ist sein Zustand stabil, er soll aber noch einige Tage zur "
    "Beobachtung bleiben, bevor über eine weitere Behandlung entschieden wird."
)


@pytest.mark.parametrize(
    ("declared", "code"),
    [
        ("en_us", "en"),
        ("EN-GB", "en"),
        ("en", "en"),
        ("zh-Hant-TW", "zh"),
        ("deu", "de"),
        ("ger", "de"),
        ("pt_BR", "pt"),
        ("x-klingon", ""),
        ("", ""),
        ("english", ""),
    ],
)
def test_declared_languages_become_iso_639_1(declared: str, code: str) -> None:
    assert normalise_language(declared) == code


def test_the_text_decides_the_language_not_the_declaration() -> None:
    assert detect_language(ENGLISH, "de") == "en"
    assert detect_language(GERMAN, "en") == "de"
    assert detect_language(ENGLISH, "en_us") == "en"


def test_the_declaration_breaks_ties_only_for_very_short_texts() -> None:
    short = "Solar Park Nord Eröffnung Juni"  # a few words, could be German or English
    assert detect_language(short, "de") == "de"
    assert detect_language(ENGLISH, "fr") == "en"  # a long English text stays English


def _page(text: str, lang: str) -> RawInput:
    html = (
        f'<html lang="{lang}"><head><title>Budget news</title></head>'
        f"<body><article><p>{text}</p></article></body></html>"
    )
    return RawInput(key="page", kind="file", data=html.encode(), media_type="html")


def test_a_page_declaring_another_language_is_flagged_and_tagged_by_its_text() -> None:
    english = extract(_page(ENGLISH, "de"))
    assert (english.language, english.language_declared) == ("en", "de")
    assert "language_mismatch" in english.warning
    german = extract(_page(GERMAN, "en"))
    assert (german.language, german.language_declared) == ("de", "en")
    assert "language_mismatch" in german.warning
    us = extract(_page(ENGLISH, "en_us"))
    assert (us.language, us.language_declared) == ("en", "en_us")
    assert "language_mismatch" not in us.warning


def test_german_text_declared_english_gets_no_english_entities() -> None:
    (german,) = enrich([extract(_page(GERMAN, "en"))], load_nlp(DEFAULT_MODEL))
    assert german.entities == []  # no "gibt der Patient" as a person
    assert "language_not_supported_by_ner" in german.warning


# --- lengths ---------------------------------------------------------------------------------

CHINESE = "中国国家统计局周一公布的数据显示，今年前三个季度国内生产总值同比增长百分之四点八。"
JAPANESE = "東京都は十五日、都内の公立小中学校の給食費を来年度から無償化する方針を明らかにした。"
THAI = "กรุงเทพมหานครประกาศแผนพัฒนาระบบขนส่งสาธารณะใหม่เพื่อลดปัญหาการจราจรติดขัดในเมือง"
KOREAN = "서울시는 오늘 대중교통 요금을 내년부터 동결하겠다고 발표했다"


def test_scripts_without_spaces_count_characters_as_word_equivalents() -> None:
    assert word_equivalents("The council met on Tuesday.") == 5
    # Chinese: ~0.9 of a word a character; Japanese ~0.65 (it reads faster per character)
    han = sum(1 for ch in CHINESE if "\u4e00" <= ch <= "\u9fff")
    assert word_equivalents(CHINESE) == pytest.approx(0.9 * han, abs=2)
    assert word_equivalents(JAPANESE) == pytest.approx(0.64 * (len(JAPANESE) - 3), abs=2)
    assert 8 <= word_equivalents(THAI) <= 20  # four letters a word
    assert word_equivalents(KOREAN) == 7  # Korean has spaces between words
    assert word_equivalents("iPhone 16 発売、アップル") > 2  # mixed scripts add up


def test_reading_time_of_a_chinese_article_follows_its_characters() -> None:
    text = CHINESE * 10  # ~390 characters, about a minute and a half at 255 a minute
    assert 1.2 <= reading_minutes(word_equivalents(text)) <= 1.8


@pytest.mark.parametrize("text", [CHINESE * 3, JAPANESE * 3, THAI * 4])
def test_a_short_complete_article_is_never_rejected_for_its_script(
    tmp_path: Path, text: str
) -> None:
    path = tmp_path / "news.txt"
    path.write_text("ニュース\n" + text, encoding="utf-8")
    (raw,) = read_file(path, 10_000_000)
    article = extract(raw)
    assert article.word_count >= 25


def test_a_note_is_still_too_short_in_any_script(tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    path.write_text("会議は火曜日に変更になりました。資料を持ってきてください。", encoding="utf-8")
    (raw,) = read_file(path, 10_000_000)
    with pytest.raises(Rejected, match="not an article"):
        extract(raw)

"""Finding inputs: which files a folder contributes, and how a file becomes inputs."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

from etl.sources import discover, media_type_for, read_file, recorded_hash


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A folder as users have them: articles in sub-folders, and things that are not."""
    files = {
        "a.html": "<html></html>",
        "b.txt": "text",
        "c.md": "# md",
        "feed.jsonl": "{}",
        "old.htm.gz": "",
        "notes.pdf": "%PDF",
        "image.png": "png",
        "README": "readme",
        "data.csv": "x,y",
        "sub/d.HTML": "<html></html>",
        "sub/deeper/e.txt": "text",
        "sub/deeper/f.markdown": "# md",
        "drafts/g.txt": "draft",
        ".git/h.txt": "objects",
        "sub/.cache/i.html": "<html></html>",
        ".hidden.txt": "hidden file",
    }
    for name, content in files.items():
        path = tmp_path / "root" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return tmp_path / "root"


def _names(paths: list[Path], root: Path) -> list[str]:
    return [p.relative_to(root.resolve()).as_posix() for p in paths]


def test_discover_recurses_and_keeps_only_article_files(tree: Path) -> None:
    found = discover([tree])
    assert _names(found, tree) == [
        "a.html",
        "b.txt",
        "c.md",
        "drafts/g.txt",
        "feed.jsonl",
        "old.htm.gz",
        "sub/d.HTML",
        "sub/deeper/e.txt",
        "sub/deeper/f.markdown",
    ]
    assert all(p.is_absolute() for p in found)


def test_hidden_files_and_folders_are_skipped(tree: Path) -> None:
    names = _names(discover([tree]), tree)
    assert not [n for n in names if any(part.startswith(".") for part in n.split("/"))]


def test_hidden_folder_named_explicitly_is_walked(tree: Path) -> None:
    # Only what is hidden *below* the folder given is skipped.
    found = discover([tree / "sub" / ".cache"])
    assert [p.name for p in found] == ["i.html"]


def test_include_glob(tree: Path) -> None:
    assert _names(discover([tree], include=["*.txt"]), tree) == [
        "b.txt",
        "drafts/g.txt",
        "sub/deeper/e.txt",
    ]
    assert _names(discover([tree], include=["*.md", "*.markdown"]), tree) == [
        "c.md",
        "sub/deeper/f.markdown",
    ]


def test_exclude_glob_on_names_and_paths(tree: Path) -> None:
    names = _names(discover([tree], exclude=["*/drafts/*", "*.jsonl"]), tree)
    assert "drafts/g.txt" not in names
    assert "feed.jsonl" not in names
    assert "b.txt" in names and "sub/deeper/e.txt" in names


def test_include_and_exclude_together(tree: Path) -> None:
    names = _names(discover([tree], include=["*.txt"], exclude=["g.txt"]), tree)
    assert names == ["b.txt", "sub/deeper/e.txt"]


def test_explicit_files_are_taken_whatever_their_suffix(tree: Path) -> None:
    found = discover([tree / "README", tree / "notes.pdf"])
    assert [p.name for p in found] == ["README", "notes.pdf"]
    (raw,) = read_file(found[0], 1024)
    assert raw.rejection is None
    assert raw.data == b"readme"
    assert raw.media_type == ""  # guessed from the content later


def test_no_repeats_when_a_file_is_named_twice(tree: Path) -> None:
    found = discover([tree, tree / "b.txt", str(tree / "sub" / ".." / "b.txt")])
    assert len(found) == len(set(found))
    assert sum(p.name == "b.txt" for p in found) == 1


def test_missing_path_is_kept_so_that_it_can_be_reported(tmp_path: Path) -> None:
    missing = tmp_path / "nope.html"
    assert discover([missing]) == [missing.absolute()]
    (raw,) = read_file(missing, 1024)
    assert raw.rejection is not None and "cannot read" in raw.rejection


def test_directory_named_as_a_file_is_not_a_regular_file(tree: Path) -> None:
    (raw,) = read_file(tree / "sub", 1024)
    assert raw.rejection == "not a regular file"


def test_read_file_records_modification_time_and_media_type(tree: Path) -> None:
    (raw,) = read_file((tree / "sub" / "d.HTML").resolve(), 1024)
    assert raw.kind == "file"
    assert raw.key == str((tree / "sub" / "d.HTML").resolve())
    assert raw.media_type == "html"
    assert raw.modified is not None and raw.modified[:2] == "20" and raw.modified[10] == "T"


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("a.html", "html"),
        ("a.HTM", "html"),
        ("a.xhtml", "html"),
        ("a.html.gz", "html"),
        ("a.txt", "text"),
        ("a.md", "markdown"),
        ("a.markdown", "markdown"),
        ("a", ""),
    ],
)
def test_media_type_from_name(name: str, media_type: str) -> None:
    assert media_type_for(name) == media_type


def test_blank_lines_in_json_lines_are_not_inputs(tmp_path: Path) -> None:
    path = tmp_path / "recs.ndjson"
    path.write_text('\n{"text": "one"}\n\n   \n{"html": "<p>two</p>"}\n')
    raws = list(read_file(path, 1024))
    assert [r.key.rsplit("#", 1)[1] for r in raws] == ["L2", "L5"]
    assert [r.media_type for r in raws] == ["text", "html"]


def test_recorded_hash_of_a_gz_file_is_that_of_its_inflated_bytes(tmp_path: Path) -> None:
    """What the listing of changed files compares with the ledger: the hash the run records,
    which for .gz is the hash of the inflated bytes (whatever the gzip header's time)."""
    html = b"<html><body><p>" + b"An article. " * 50 + b"</p></body></html>"
    page = tmp_path / "a.html.gz"
    page.write_bytes(gzip.compress(html, mtime=1))
    (raw,) = read_file(page, 100_000)
    assert recorded_hash(page, 100_000) == raw.raw_hash == hashlib.sha256(html).hexdigest()
    page.write_bytes(gzip.compress(html, mtime=2))  # compressed again: other bytes on disk
    assert recorded_hash(page, 100_000) == hashlib.sha256(html).hexdigest()
    plain = tmp_path / "b.html"
    plain.write_bytes(html)
    assert recorded_hash(plain, 100_000) == hashlib.sha256(html).hexdigest()


def test_recorded_hash_is_none_when_there_is_no_single_input(tmp_path: Path) -> None:
    records = tmp_path / "recs.jsonl"
    records.write_text('{"text": "one"}\n')
    broken = tmp_path / "broken.html.gz"
    broken.write_bytes(b"not gzip at all")
    empty = tmp_path / "empty.html"
    empty.write_bytes(b"")
    for path in (records, broken, empty, tmp_path / "missing.html"):
        assert recorded_hash(path, 100_000) is None, path

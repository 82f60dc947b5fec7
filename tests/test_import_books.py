"""The import_books management command: EPUB files and folders into books of one owner."""

import hashlib
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from books.models import Book, FileFormat, Visibility
from tests import epub_factory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def owner():
    return get_user_model().objects.create_user(username="importer", password="x")


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("import_books", *map(str, args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_imports_a_folder_recursively_and_reports_skipped_files(tmp_path, owner):
    write(tmp_path / "a.epub", epub_factory.make_epub(title="Alpha", cover=True))
    write(tmp_path / "nested" / "deeper" / "b.EPUB", epub_factory.make_epub(title="Beta"))
    broken = write(tmp_path / "nested" / "broken.epub", epub_factory.not_a_zip())
    write(tmp_path / "notes.txt", b"not an epub, not even looked at")

    out, _ = run(tmp_path, "--owner", "importer")

    assert sorted(Book.objects.values_list("title", flat=True)) == ["Alpha", "Beta"]
    assert out.splitlines()[0] == "Imported 2, skipped 1"
    assert f"{broken}: The file is not an EPUB" in out
    assert "notes.txt" not in out


def test_books_get_their_chapters_metadata_file_and_cover(tmp_path, owner):
    data = epub_factory.make_epub(title="Alpha", author="Ann Author", cover=True)
    path = write(tmp_path / "alpha.epub", data)

    run(path, "--owner", "importer")

    book = Book.objects.get()
    assert (book.owner, book.title, book.author, book.visibility, book.file_format) == (
        owner,
        "Alpha",
        "Ann Author",
        Visibility.PRIVATE,
        FileFormat.EPUB,
    )
    assert list(book.chapters.values_list("number", "title", "word_count")) == [
        (1, "Chapter One", epub_factory.DEFAULT_WORD_COUNTS[0]),
        (2, "Chapter Two", epub_factory.DEFAULT_WORD_COUNTS[1]),
        (3, "Chapter Three", epub_factory.DEFAULT_WORD_COUNTS[2]),
    ]
    assert (book.chapter_count, book.word_count) == (3, sum(epub_factory.DEFAULT_WORD_COUNTS))
    assert book.file_size == len(data)
    assert book.cover_etag == hashlib.sha256(epub_factory.PNG_1X1).hexdigest()


def test_public_flag(tmp_path, owner):
    path = write(tmp_path / "a.epub", epub_factory.make_epub())

    run(path, "--owner", "importer", "--public")

    assert Book.objects.get().visibility == Visibility.PUBLIC


def test_several_paths_and_reasons_for_skipping(tmp_path, owner):
    good = write(tmp_path / "good.epub", epub_factory.make_epub(title="Good"))
    missing = tmp_path / "missing.epub"
    library = tmp_path / "library"
    folder_named_epub = library / "unpacked.epub"
    folder_named_epub.mkdir(parents=True)
    bomb = write(library / "entities.epub", epub_factory.entity_expansion_epub())

    out, _ = run(good, missing, library, "--owner", "importer")

    assert list(Book.objects.values_list("title", flat=True)) == ["Good"]
    lines = out.splitlines()
    assert lines[0] == "Imported 1, skipped 3"
    assert f"  {missing}: no such file" in lines
    assert f"  {folder_named_epub}: not a file" in lines
    assert any(line.startswith(f"  {bomb}: ") and "declares XML entities" in line for line in lines)


def test_unknown_owner_fails_without_importing(tmp_path, owner):
    path = write(tmp_path / "a.epub", epub_factory.make_epub())

    with pytest.raises(CommandError, match="No user named 'nobody'"):
        run(path, "--owner", "nobody")

    assert not Book.objects.exists()


def test_progress_bar_goes_to_stderr(tmp_path, owner):
    write(tmp_path / "a.epub", epub_factory.make_epub())
    write(tmp_path / "b.epub", epub_factory.make_epub())

    out, err = run(tmp_path, "--owner", "importer")

    assert "Importing" in err and "2/2" in err
    assert "Importing" not in out

"""The seed_demo management command: users, tokens and a generated library, idempotently."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Sum
from rest_framework.authtoken.models import Token

from books.management.commands.seed_demo import (
    DEFAULT_DEMO_PASSWORD,
    DEFAULT_STAFF_PASSWORD,
    MAX_CHAPTERS,
    MIN_CHAPTERS,
    demo_library,
)
from books.models import Book, Chapter, Description, DescriptionKind, Visibility

User = get_user_model()


@pytest.fixture(autouse=True)
def default_passwords(monkeypatch):
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    monkeypatch.delenv("DEMO_STAFF_PASSWORD", raising=False)


def seed():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def snapshot():
    return {
        "users": User.objects.count(),
        "tokens": sorted(Token.objects.values_list("user__username", "key")),
        "books": sorted(Book.objects.values_list("id", "title", "chapter_count", "word_count")),
        "chapters": Chapter.objects.count(),
        "descriptions": Description.objects.count(),
        "passwords": sorted(User.objects.values_list("username", "password")),
    }


def test_demo_library_is_deterministic_and_varied():
    library = demo_library()
    assert library == demo_library()
    assert library != demo_library(seed=1)
    assert len(library) == 6
    assert len({book.title for book in library}) == 6
    assert len({book.author for book in library}) == 6
    assert len({book.genre for book in library}) >= 4
    assert sorted(book.visibility for book in library) == ["private"] * 3 + ["public"] * 3
    for book in library:
        assert MIN_CHAPTERS <= len(book.chapters) <= MAX_CHAPTERS
        assert all(chapter.content.startswith("<p>") for chapter in book.chapters)
        assert {d.kind for d in book.descriptions} <= set(DescriptionKind.values)
        assert all(1 <= d.chapter <= len(book.chapters) for d in book.descriptions)


@pytest.mark.django_db(transaction=True)
def test_seed_demo_creates_users_tokens_and_library():
    output = seed()

    demo = User.objects.get(username="demo")
    staff = User.objects.get(username="staff")
    assert demo.check_password(DEFAULT_DEMO_PASSWORD)
    assert staff.check_password(DEFAULT_STAFF_PASSWORD)
    assert not demo.check_password(DEFAULT_STAFF_PASSWORD)
    assert demo.is_active and not demo.is_staff and not demo.is_superuser
    assert staff.is_active and staff.is_staff and staff.is_superuser

    for user in (demo, staff):
        token = Token.objects.get(user=user)
        assert token.key in output
    assert DEFAULT_DEMO_PASSWORD in output and DEFAULT_STAFF_PASSWORD in output

    books = Book.objects.filter(owner=demo)
    assert books.count() == 6
    assert books.filter(visibility=Visibility.PUBLIC).count() == 3
    assert books.filter(visibility=Visibility.PRIVATE).count() == 3
    assert not Book.objects.filter(owner=staff).exists()
    for book in books:
        numbers = list(book.chapters.order_by("number").values_list("number", flat=True))
        assert MIN_CHAPTERS <= len(numbers) <= MAX_CHAPTERS
        assert numbers == list(range(1, len(numbers) + 1))
        assert book.chapter_count == len(numbers)
        assert book.word_count > 0
        assert book.word_count == book.chapters.aggregate(total=Sum("word_count"))["total"]
        assert book.author and book.genre and book.description
        assert all(chapter.content.startswith("<p>") for chapter in book.chapters.all())

    descriptions = Description.objects.select_related("chapter")
    assert descriptions.count() >= 6
    for description in descriptions:
        assert description.kind in DescriptionKind.values
        assert description.chapter.book_id == description.book_id
        assert description.text


@pytest.mark.django_db(transaction=True)
def test_seed_demo_is_idempotent():
    seed()
    first = snapshot()
    output = seed()
    assert snapshot() == first
    assert first["users"] == 2
    assert len(first["books"]) == 6
    assert first["chapters"] == sum(row[2] for row in first["books"])
    assert "already exists" in output


@pytest.mark.django_db(transaction=True)
def test_seed_demo_leaves_an_existing_library_alone():
    seed()
    demo = User.objects.get(username="demo")
    keep = Book.objects.filter(owner=demo).order_by("id").first()
    Book.objects.filter(owner=demo).exclude(pk=keep.pk).delete()

    seed()

    assert list(Book.objects.filter(owner=demo).values_list("pk", flat=True)) == [keep.pk]


@pytest.mark.django_db(transaction=True)
def test_seed_demo_passwords_come_from_the_environment(monkeypatch):
    seed()
    monkeypatch.setenv("DEMO_PASSWORD", "another-demo-secret")
    monkeypatch.setenv("DEMO_STAFF_PASSWORD", "another-staff-secret")

    output = seed()

    assert User.objects.get(username="demo").check_password("another-demo-secret")
    assert User.objects.get(username="staff").check_password("another-staff-secret")
    assert not User.objects.get(username="demo").check_password(DEFAULT_DEMO_PASSWORD)
    # Passwords chosen through the environment are not echoed.
    assert "another-demo-secret" not in output and "another-staff-secret" not in output
    assert Book.objects.count() == 6

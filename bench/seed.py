"""The load test's library, made with the Django ORM (call setup_django first), and its plan.

200 readers, 300 books (40 % public) of 10-40 chapters of 800-8,000 words (median about
3,000: a chapter answer of about 20 KB), a few descriptions per book, a staff user. Made
once (from a fixed random seed) and kept: a later run only resets what the previous run
wrote (progress, descriptions added by readers, edited titles). The plan, a JSON file,
tells the locustfile who may read what; Locust's process never imports Django.
"""

import json
import math
import random

SEED = 11
READERS = 200
BOOKS = 300
PUBLIC_SHARE = 0.4
USERNAME = "lt-reader-{:03d}"
STAFF = "lt-staff"
from reading import ADDED_MARK, TITLE_MARK  # noqa: E402  (one definition, shared with the locustfile)

SYLLABLES = ["ka", "lo", "mi", "ra", "ten", "su", "ve", "an", "or", "is", "el", "um", "dra",
             "fen", "gol", "har", "in", "jo", "ket", "lun", "mar", "nes", "op", "pra", "qui", "ros"]  # fmt: skip
KINDS = ["location", "character", "atmosphere", "object", "action"]


def vocabulary(rng, size=2000):
    words = {"".join(rng.choice(SYLLABLES) for _ in range(rng.choice((1, 1, 2, 2, 3)))) for _ in range(size * 2)}
    words = sorted(words)[:size]
    rng.shuffle(words)
    return words


def chapter_html(rng, words, weights, number, length):
    """`length` words of prose in paragraphs of 40-180 words under a heading."""
    parts = [f"<h2>Chapter {number}</h2>"]
    left = length
    while left > 0:
        size = min(left, rng.randint(40, 180))
        text = " ".join(rng.choices(words, cum_weights=weights, k=size))
        parts.append(f"<p>{text[0].upper()}{text[1:]}.</p>")
        left -= size
    return "\n".join(parts)


def chapter_words(rng):
    return max(800, min(8000, int(rng.lognormvariate(math.log(3000), 0.45))))


def seed(books=BOOKS, readers=READERS, log=print):
    """Make the library if it is not there, reset what a previous run wrote; return the plan."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return prepare(books, readers, log)


def prepare(books=BOOKS, readers=READERS, log=print):
    """seed() on a migrated database."""
    from django.contrib.auth import get_user_model

    from books.models import Book

    users = _users(get_user_model(), readers)
    owned = Book.objects.filter(owner__username__startswith="lt-reader-")
    if owned.count() != books:
        log(f"seeding {books} books for {readers} readers (once; kept for later runs)")
        owned.delete()
        _books(users, books)
    _reset()
    return plan(users)


def _users(User, readers):
    from rest_framework.authtoken.models import Token

    names = [USERNAME.format(n) for n in range(1, readers + 1)]
    existing = set(User.objects.filter(username__in=names).values_list("username", flat=True))
    User.objects.bulk_create([User(username=name, password="!") for name in names if name not in existing])
    staff, created = User.objects.get_or_create(username=STAFF, defaults={"is_staff": True, "is_superuser": True})
    if created:
        staff.set_unusable_password()
        staff.save()
    users = list(User.objects.filter(username__in=[*names, STAFF]).order_by("username"))
    for user in users:
        Token.objects.get_or_create(user=user)
    return users


def _books(users, count):
    from books import services
    from books.models import Description, Visibility

    rng = random.Random(SEED)
    words = vocabulary(rng)
    weights, total = [], 0.0
    for rank in range(1, len(words) + 1):  # word frequencies follow Zipf's law too
        total += 1 / rank
        weights.append(total)
    readers = [user for user in users if user.username != STAFF]
    rng.shuffle(readers)
    # A few readers own many books, many own one or none (weights by a power law).
    owners = rng.choices(readers, weights=[1 / rank**0.7 for rank in range(1, len(readers) + 1)], k=count)
    for n in range(count):
        chapters = [
            services.ChapterInput(f"Chapter {c}", chapter_html(rng, words, weights, c, chapter_words(rng)))
            for c in range(1, rng.randint(10, 40) + 1)
        ]
        title = " ".join(rng.choice(words) for _ in range(rng.randint(1, 4))).title()
        book = services.create_book(
            owners[n],
            title=title,
            author=" ".join(rng.choice(words) for _ in range(2)).title(),
            description=" ".join(rng.choices(words, cum_weights=weights, k=40)),
            chapters=chapters,
            visibility=Visibility.PUBLIC if rng.random() < PUBLIC_SHARE else Visibility.PRIVATE,
        )
        numbered = {chapter.number: chapter for chapter in book.chapters.only("id", "number")}
        Description.objects.bulk_create(
            Description(
                book=book,
                chapter=numbered[rng.randint(1, len(numbered))],
                kind=rng.choice(KINDS),
                text=" ".join(rng.choices(words, cum_weights=weights, k=rng.randint(15, 60))),
            )
            for _ in range(rng.randint(0, 8))
        )


def _reset():
    """Undo what a previous run wrote, so every run starts from the same library."""
    from django.db.models import Value
    from django.db.models.functions import StrIndex, Substr

    from books.models import Book, Description
    from reader.models import ReadingProgress

    ReadingProgress.objects.filter(user__username__startswith="lt-").delete()
    Description.objects.filter(text__startswith=ADDED_MARK).delete()
    edited = Book.objects.filter(owner__username__startswith="lt-reader-", title__contains=f" {TITLE_MARK} ")
    edited.update(title=Substr("title", 1, StrIndex("title", Value(f" {TITLE_MARK} ")) - 1))
    # Chapter edits stay: an editor rewrites one marked paragraph, so chapters keep their size.


def plan(users):
    """Who may read what: tokens, each reader's own books, the public books, chapter counts.

    Public books get a popularity rank (a fixed random order): readers pick by Zipf's law on it.
    """
    from books.models import Book

    rng = random.Random(SEED + 1)
    books = list(
        Book.objects.filter(owner__username__startswith="lt-reader-")
        .order_by("pk")
        .values("pk", "owner_id", "visibility", "chapter_count", "title")
    )
    ranks = list(range(1, len(books) + 1))
    rng.shuffle(ranks)
    token_of = {user.pk: user.auth_token.key for user in users}
    staff = next(user for user in users if user.username == STAFF)
    return {
        "staff_token": token_of[staff.pk],
        "readers": [
            {
                "user_id": user.pk,
                "token": token_of[user.pk],
                "own": [book["pk"] for book in books if book["owner_id"] == user.pk],
            }
            for user in users
            if user.pk != staff.pk
        ],
        "books": {
            str(book["pk"]): {
                "chapters": book["chapter_count"],
                "public": book["visibility"] == "public",
                "owner": book["owner_id"],
                "rank": rank,
                "title": book["title"],
            }
            for book, rank in zip(books, ranks, strict=True)
        },
    }


def write_plan(plan_data, path):
    path.write_text(json.dumps(plan_data))
    return path

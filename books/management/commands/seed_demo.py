"""Demo users and a generated library for trying the API locally (`make run` calls this).

Idempotent: users and tokens are created once (a password is reset only when it no
longer matches the environment), and the library is generated only while `demo` owns
no book at all, so changes made to the demo library are left alone.
"""

import os
import random
from dataclasses import dataclass
from html import escape

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from rest_framework.authtoken.models import Token

from books.models import Book, DescriptionKind, Visibility
from books.services import ChapterInput, create_book, create_description

DEMO_USERNAME = "demo"
STAFF_USERNAME = "staff"
DEFAULT_DEMO_PASSWORD = "reader-demo-2026"
DEFAULT_STAFF_PASSWORD = "reader-staff-2026"
SEED = 2026

MIN_CHAPTERS = 8
MAX_CHAPTERS = 15
DESCRIPTIONS_PER_BOOK = 3


@dataclass(frozen=True)
class DemoDescription:
    chapter: int  # 1-based chapter number
    kind: str
    text: str


@dataclass(frozen=True)
class DemoBook:
    title: str
    author: str
    genre: str
    description: str
    visibility: str
    chapters: tuple  # of ChapterInput
    descriptions: tuple  # of DemoDescription


BOOKS = [
    # title, author, genre, visibility, blurb
    (
        "The Lighthouse at Vellmar",
        "Ada Kestrel",
        "mystery",
        Visibility.PUBLIC,
        "A keeper's logbook, a missing ship and a coast that keeps its secrets.",
    ),
    (
        "Orchards of the Red Planet",
        "Tomas Irving",
        "science fiction",
        Visibility.PUBLIC,
        "The first farmers on Mars learn what the soil remembers.",
    ),
    (
        "A Winter in Salt and Ink",
        "Marguerite Holloway",
        "historical fiction",
        Visibility.PUBLIC,
        "A printer's apprentice in a frozen harbour town, one hard season.",
    ),
    (
        "The Clockmaker's Daughter",
        "Ines Albrecht",
        "fantasy",
        Visibility.PRIVATE,
        "Every clock in the city stops at once, except hers.",
    ),
    (
        "Notes from a Quiet Valley",
        "Samuel Okafor",
        "memoir",
        Visibility.PRIVATE,
        "A year of small observations in a village at the end of the road.",
    ),
    (
        "Signals Beneath the Ice",
        "Priya Natarajan",
        "thriller",
        Visibility.PRIVATE,
        "A research station, a buried transmitter and six people who cannot leave.",
    ),
]

_WORDS_TEXT = """
amber ancient anchor archive autumn balcony beacon bell birch bridge bright candle canyon
careful cedar chalk chapel cinder cliff cloud cobalt compass copper corridor courtyard crimson
crystal current dawn distant drift dusk echo ember engine evening faded feather fern field fog
forest fountain frost garden glass gentle golden granite gravel harbor hazel hidden hollow
horizon island ivory journey lantern ledger letter library lighthouse linen marble market
meadow midnight mirror misty moss narrow needle north oak ocean orchard paper path pebble pine
quiet rain raven ribbon river road rust saddle salt scarlet secret shadow shore silent silver
slow smoke snow soft spiral spring station stone storm street summer tower thread timber tide
train tunnel valley velvet village violet voice wander warm water wheel whisper willow window
winter wire wooden yellow
"""
WORDS = tuple(_WORDS_TEXT.split())

_VERBS_TEXT = """
carried crossed found followed gathered held kept left lifted listened looked opened passed
remembered returned shaped turned waited walked watched wrote
"""
VERBS = tuple(_VERBS_TEXT.split())

NAMES = ["Mara", "Ellis", "Juno", "Theo", "Wren", "Oskar", "Lena", "Cato", "Ivy", "Rafe"]

DESCRIPTION_TEMPLATES = {
    DescriptionKind.LOCATION: "A {a} {b} beside the {c}, where the {d} never quite settles.",
    DescriptionKind.CHARACTER: "{name}, with {a} eyes and a {b} coat, who {verb} every {c} twice.",
    DescriptionKind.ATMOSPHERE: "The air is {a} and {b}; somewhere a {c} {verb} in the {d}.",
    DescriptionKind.OBJECT: "A {a} {b} wrapped in {c} thread, heavier than it looks.",
    DescriptionKind.ACTION: "{name} {verb} the {a} {b} and ran toward the {c}.",
}


def _sentence(rng):
    words = [rng.choice(WORDS) for _ in range(rng.randint(5, 14))]
    words.insert(rng.randint(1, len(words) - 1), rng.choice(VERBS))
    if rng.random() < 0.3:
        words.insert(0, rng.choice(NAMES))
    text = " ".join(words)
    return text[0].upper() + text[1:] + rng.choice(".....!?")


def _paragraph(rng):
    return " ".join(_sentence(rng) for _ in range(rng.randint(3, 7)))


def _chapter_title(rng, number):
    return f"Chapter {number}: The {rng.choice(WORDS).title()} {rng.choice(WORDS).title()}"


def _chapter_html(rng):
    return "".join(f"<p>{escape(_paragraph(rng))}</p>" for _ in range(rng.randint(4, 9)))


def _description_text(rng, kind):
    picks = {key: rng.choice(WORDS) for key in "abcd"}
    return DESCRIPTION_TEMPLATES[kind].format(name=rng.choice(NAMES), verb=rng.choice(VERBS), **picks)


def demo_library(seed=SEED):
    """The demo books as plain data; the same seed always gives the same library."""
    rng = random.Random(seed)
    kinds = list(DescriptionKind.values)
    library = []
    for title, author, genre, visibility, blurb in BOOKS:
        numbers = range(1, rng.randint(MIN_CHAPTERS, MAX_CHAPTERS) + 1)
        chapters = tuple(ChapterInput(_chapter_title(rng, n), _chapter_html(rng)) for n in numbers)
        descriptions = tuple(
            DemoDescription(chapter=rng.choice(numbers), kind=kind, text=_description_text(rng, kind))
            for kind in rng.sample(kinds, DESCRIPTIONS_PER_BOOK)
        )
        library.append(DemoBook(title, author, genre, blurb, visibility, chapters, descriptions))
    return library


def _shown(password, default, variable):
    # The built-in defaults are public anyway; a password chosen through the environment is not echoed.
    return password if password == default else f"<from {variable}>"


class Command(BaseCommand):
    help = "Create the demo users (demo, staff), their API tokens and a generated demo library."

    def handle(self, *args, **options):
        demo_password = os.environ.get("DEMO_PASSWORD") or DEFAULT_DEMO_PASSWORD
        staff_password = os.environ.get("DEMO_STAFF_PASSWORD") or DEFAULT_STAFF_PASSWORD
        shown = {
            DEMO_USERNAME: _shown(demo_password, DEFAULT_DEMO_PASSWORD, "DEMO_PASSWORD"),
            STAFF_USERNAME: _shown(staff_password, DEFAULT_STAFF_PASSWORD, "DEMO_STAFF_PASSWORD"),
        }

        with transaction.atomic():
            demo = self._user(DEMO_USERNAME, demo_password, staff=False)
            staff = self._user(STAFF_USERNAME, staff_password, staff=True)
            tokens = {user.username: Token.objects.get_or_create(user=user)[0].key for user in (demo, staff)}
            created = 0
            # Locks the demo user's row so two concurrent runs cannot both seed the library.
            get_user_model().objects.select_for_update().filter(pk=demo.pk).first()
            if not Book.objects.filter(owner=demo).exists():
                created = self._seed_library(demo)

        if created:
            self.stdout.write(self.style.SUCCESS(f"Created {created} demo books for '{demo.username}'."))
        else:
            self.stdout.write("The demo library already exists; left unchanged.")
        self.stdout.write("Demo credentials (for local use only):")
        for user in (demo, staff):
            role = "staff, superuser" if user.is_superuser else "reader"
            name = user.username
            self.stdout.write(f"  {name:<6} password={shown[name]}  token={tokens[name]}  ({role})")
        self.stdout.write('  e.g. curl -H "Authorization: Bearer <token>" http://127.0.0.1:8000/api/v1/books/')

    def _user(self, username, password, *, staff):
        user, created = get_user_model().objects.get_or_create(
            username=username,
            defaults={"email": f"{username}@example.com", "is_staff": staff, "is_superuser": staff},
        )
        changed = []
        if created or not user.check_password(password):
            user.set_password(password)
            changed.append("password")
        wanted = {"is_active": True}
        if staff:
            wanted.update(is_staff=True, is_superuser=True)
        for field, value in wanted.items():
            if getattr(user, field) != value:
                setattr(user, field, value)
                changed.append(field)
        if changed:
            user.save(update_fields=changed)
        return user

    def _seed_library(self, owner):
        for item in demo_library():
            book = create_book(
                owner,
                title=item.title,
                author=item.author,
                genre=item.genre,
                description=item.description,
                visibility=item.visibility,
                chapters=list(item.chapters),
            )
            for description in item.descriptions:
                create_description(book, chapter=description.chapter, kind=description.kind, text=description.text)
        return len(BOOKS)

import factory
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from books import services
from books.models import Description, Visibility


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"reader{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "a-long-passphrase-1")

    @factory.post_generation
    def token(user, create, extracted, **kwargs):
        if create:
            user.save()
            Token.objects.create(user=user)


def make_book(owner, *, title="A Book", chapters=3, visibility=Visibility.PRIVATE, words=50, **fields):
    """A JSON book with `chapters` chapters of `words` words each (chapter n has n*words)."""
    contents = [
        services.ChapterInput(f"Chapter {n}", "<p>" + " ".join(["word"] * (words * n)) + "</p>")
        for n in range(1, chapters + 1)
    ]
    return services.create_book(owner, title=title, chapters=contents, visibility=visibility, **fields)


class DescriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Description

    kind = "location"
    text = factory.Sequence(lambda n: f"A place, number {n}.")


def admin_book_form(book, **changes):
    """The Book admin change form as the browser posts it (no chapter inline rows)."""
    return {
        "owner": book.owner_id,
        "title": book.title,
        "author": book.author,
        "language": book.language,
        "genre": book.genre,
        "description": book.description,
        "visibility": book.visibility,
        "file_format": book.file_format,
        "chapters-TOTAL_FORMS": "0",
        "chapters-INITIAL_FORMS": "0",
        "chapters-MIN_NUM_FORMS": "0",
        "chapters-MAX_NUM_FORMS": "1000",
        **changes,
    }

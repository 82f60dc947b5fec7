from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework.authtoken.models import Token

from books.models import Chapter
from books.services import hold_book
from reader.models import ReadingProgress
from reader.selectors import etag_matches, progress_etag, progress_of


class ProgressChanged(Exception):
    """If-Match named a progress that is no longer the current one (another device wrote)."""

    def __init__(self, current):
        super().__init__("The progress changed since it was read.")
        self.current = current


def save_progress(user, book, *, chapter, position, cfi="", percent=None, if_match=None):
    """Store the user's progress on the book. With if_match (an If-Match header), only while
    the current progress still has that ETag; ProgressChanged (nothing stored) otherwise."""
    if percent is None:
        percent = percent_read(book, chapter, position)
    with transaction.atomic():
        hold_book(book.pk)  # a book deleted meanwhile answers 404, not a foreign-key error
        if if_match is not None:
            # One conditional write per user at a time: the check and the write see the same row.
            get_user_model().objects.select_for_update().filter(pk=user.pk).exists()
            current = progress_of(user.pk, book)
            if not etag_matches(if_match, progress_etag(current)):
                raise ProgressChanged(current)
        progress, _ = ReadingProgress.objects.update_or_create(
            user_id=user.pk,
            book=book,
            defaults={"chapter": chapter, "position": position, "cfi": cfi, "percent": percent},
        )
    return progress


def percent_read(book, chapter, position):
    """How far into the book, weighted by the chapters' word counts (numbers may have gaps)."""
    chapters = list(Chapter.objects.filter(book=book).order_by("number").values_list("number", "word_count"))
    numbers = [number for number, _ in chapters]
    if chapter not in numbers:
        return 0.0
    total = sum(words for _, words in chapters)
    if total == 0:
        return round(100.0 * (numbers.index(chapter) + position) / len(chapters), 2)
    done = sum(words for number, words in chapters if number < chapter)
    done += position * dict(chapters)[chapter]
    return round(100.0 * done / total, 2)


def sign_out(user, token_key):
    """Delete the API token the caller signed in with (None for a browser session)."""
    if token_key is not None:
        Token.objects.filter(user_id=user.pk, key=token_key).delete()


@transaction.atomic
def change_password(user, new_password):
    """Set the password, replace every token of the user by one new token, and return it.

    Deleting the tokens (and saving the user) retires their cached entries once this commits,
    so no worker accepts an old token afterwards, cached reads included.
    """
    user.set_password(new_password)
    user.save(update_fields=["password"])
    for token in Token.objects.filter(user_id=user.pk):
        token.delete()  # one by one: each delete retires that token's cached entry (signals)
    return Token.objects.create(user=user)

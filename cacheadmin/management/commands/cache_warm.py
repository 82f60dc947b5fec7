from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from cacheadmin import operations
from cacheadmin.cache import CacheUnavailable


class _Stream:
    """tqdm's output through the command's stderr, without the wrapper's line endings."""

    def __init__(self, wrapper):
        self.wrapper = wrapper

    def write(self, text):
        self.wrapper.write(text, style_func=str, ending="")

    def flush(self):
        self.wrapper.flush()


class Command(BaseCommand):
    help = "Compute and store the cached reads of chosen books (--book ID, repeatable) or of all (--all)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--book", type=int, action="append", dest="books", metavar="ID", help="A book's id (repeatable)."
        )
        parser.add_argument("--all", action="store_true", dest="all_books", help="Warm every book.")
        parser.add_argument("--no-progress", action="store_true", help="Do not show a progress bar.")

    def handle(self, *args, books=None, all_books=False, no_progress=False, **options):
        try:
            operations.check_warm_target(books, all_books, books="--book ID (repeatable)", everything="--all")
        except operations.InvalidWarmTarget as error:
            raise CommandError(str(error)) from error
        bar = None

        def progress(done, total):
            nonlocal bar
            if bar is None:
                bar = tqdm(total=total, unit="book", file=_Stream(self.stderr), disable=no_progress)
            bar.update(done - bar.n)

        try:
            result = operations.warm(book_ids=books, all_books=all_books, progress=progress)
        except CacheUnavailable as error:
            raise CommandError(operations.unavailable_message()) from error
        finally:
            if bar is not None:
                bar.close()
        if result.missing:
            self.stderr.write(self.style.WARNING(result.missing_summary()))
            if not result.books:
                raise CommandError("None of the books exist; nothing warmed.")
        self.stdout.write(self.style.SUCCESS(result.summary()))

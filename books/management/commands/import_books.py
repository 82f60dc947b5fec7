"""Import EPUB files, or folders of them, as books of one user.

python manage.py import_books PATH [PATH ...] --owner USERNAME [--public]
"""

import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from books.epub import EpubError
from books.models import Visibility
from books.services import import_epub


class Command(BaseCommand):
    help = "Import .epub files (folders are searched for them) as books of --owner."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="PATH", help="an .epub file, or a folder to search")
        parser.add_argument("--owner", required=True, metavar="USERNAME", help="the user who owns the books")
        parser.add_argument("--public", action="store_true", help="make the books public (default: private)")

    def handle(self, *args, paths, owner, public, **options):
        user = _get_owner(owner)
        visibility = Visibility.PUBLIC if public else Visibility.PRIVATE
        files = list(dict.fromkeys(_epub_paths(paths)))
        # tqdm needs the raw stream: Django's OutputWrapper appends a newline to every write.
        progress_stream = options.get("stderr") or sys.stderr
        imported, skipped = 0, []
        for path in tqdm(files, desc="Importing", unit="book", file=progress_stream):
            reason = _import_file(user, path, visibility)
            if reason is None:
                imported += 1
            else:
                skipped.append((path, reason))
        self._report(imported, skipped)

    def _report(self, imported, skipped):
        self.stdout.write(f"Imported {imported}, skipped {len(skipped)}")
        for path, reason in skipped:
            self.stdout.write(self.style.WARNING(f"  {path}: {reason}"))


def _get_owner(username):
    User = get_user_model()
    try:
        return User.objects.get(**{User.USERNAME_FIELD: username})
    except User.DoesNotExist:
        raise CommandError(f"No user named {username!r}.") from None


def _epub_paths(arguments):
    """Files named on the command line as they are; folders searched for *.epub."""
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            yield from sorted(found for found in path.rglob("*") if found.suffix.lower() == ".epub")
        else:
            yield path


def _import_file(owner, path, visibility):
    """Import one file; return None on success, else the reason it was skipped."""
    if not path.exists():
        return "no such file"
    if not path.is_file():
        return "not a file"
    try:
        handle = path.open("rb")
    except OSError as error:
        return f"cannot open: {error.strerror or error}"
    with handle:
        try:
            import_epub(owner, File(handle, name=path.name), visibility=visibility)
        except EpubError as error:
            return str(error)
    return None

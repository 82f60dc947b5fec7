from django.core.management.base import BaseCommand, CommandError

from cacheadmin import operations
from cacheadmin.cache import CacheUnavailable


class Command(BaseCommand):
    help = (
        "Delete the response cache (or the keys matching --pattern). Tokens, sessions, "
        "statistics and other programs' keys are never touched."
    )

    def add_arguments(self, parser):
        parser.add_argument("--pattern", help="A logical key pattern such as 'book:7:*'.")
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")

    def handle(self, *args, pattern=None, yes=False, **options):
        if pattern is not None:
            try:
                operations.validate_pattern(pattern)
            except operations.InvalidPattern as error:
                raise CommandError(f"Invalid pattern {pattern!r}. {error}") from error
        what = f"matching '{pattern}'" if pattern is not None else "(all of them)"
        try:
            if not yes and not self.confirmed(pattern, what):
                return
            if pattern is None:
                deleted = operations.clear()["deleted"]
            else:
                deleted = operations.clear_pattern(pattern)["deleted"]
        except CacheUnavailable as error:
            raise CommandError(operations.unavailable_message()) from error
        self.stdout.write(self.style.SUCCESS(f"Deleted {deleted} key(s) of the response cache {what}."))

    def confirmed(self, pattern, what):
        count = operations.count_pattern(pattern or "*")
        if not count:
            self.stdout.write(f"No key of the response cache {what}: nothing to delete.")
            return False
        try:
            answer = input(f"Delete {count} key(s) of the response cache {what}? [y/N] ")
        except EOFError as error:
            raise CommandError("No answer to the question; pass --yes to clear without asking.") from error
        if answer.strip().lower() not in ("y", "yes"):
            self.stdout.write("Cancelled: nothing deleted.")
            return False
        return True

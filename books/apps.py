from django.apps import AppConfig


class BooksConfig(AppConfig):
    name = "books"

    def ready(self):
        from books import cached, signals  # noqa: F401  (signals: the books' own model rules)

        cached.declare()

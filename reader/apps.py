from django.apps import AppConfig


class ReaderConfig(AppConfig):
    name = "reader"

    def ready(self):
        from books import changes
        from reader.models import ReadingProgress

        changes.track(ReadingProgress, "user_id")

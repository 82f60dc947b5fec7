from django.conf import settings
from django.db import models


class ReadingProgress(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="progress")
    book = models.ForeignKey("books.Book", on_delete=models.CASCADE, related_name="progress")
    chapter = models.PositiveIntegerField(default=1)
    position = models.FloatField(default=0.0)
    cfi = models.CharField(max_length=1000, blank=True)
    percent = models.FloatField(default=0.0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "reading progress"
        constraints = [
            models.UniqueConstraint(fields=["user", "book"], name="progress_one_per_user_book"),
        ]

    def __str__(self):
        return f"{self.user_id} on {self.book_id}: {self.percent:.1f}%"

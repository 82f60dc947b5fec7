from rest_framework import serializers

from books.serializers import ChapterNumberField
from reader.models import ReadingProgress


class ProgressSerializer(serializers.ModelSerializer):
    book_id = serializers.IntegerField(read_only=True)
    # null until the reader first stores progress on the book (the answer is then the default).
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = ReadingProgress
        fields = ["book_id", "chapter", "position", "cfi", "percent", "updated_at"]


class ProgressInputSerializer(serializers.Serializer):
    chapter = ChapterNumberField()
    position = serializers.FloatField(min_value=0.0, max_value=1.0)
    cfi = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
    percent = serializers.FloatField(min_value=0.0, max_value=100.0, required=False)

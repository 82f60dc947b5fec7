from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from rest_framework import serializers

from reader.models import ReadingProgress

User = get_user_model()


class ProgressSerializer(serializers.ModelSerializer):
    book_id = serializers.IntegerField(read_only=True)
    # null until the reader first stores progress on the book (the answer is then the default).
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = ReadingProgress
        fields = ["book_id", "chapter", "position", "cfi", "percent", "updated_at"]


class ProgressInputSerializer(serializers.Serializer):
    chapter = serializers.IntegerField(min_value=1)
    position = serializers.FloatField(min_value=0.0, max_value=1.0)
    cfi = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
    percent = serializers.FloatField(min_value=0.0, max_value=100.0, required=False)

    def validate_chapter(self, value):
        if not self.context["book"].chapters.filter(number=value).exists():
            raise serializers.ValidationError("There is no such chapter in this book.")
        return value


class RegisterSerializer(serializers.ModelSerializer):
    password = serializers.CharField(write_only=True, trim_whitespace=False)
    email = serializers.EmailField(required=False, allow_blank=True, default="")

    class Meta:
        model = User
        fields = ["username", "password", "email"]

    def validate(self, attrs):
        candidate = User(username=attrs["username"], email=attrs.get("email", ""))
        try:
            validate_password(attrs["password"], user=candidate)
        except DjangoValidationError as error:
            raise serializers.ValidationError({"password": list(error.messages)}) from error
        return attrs

    def create(self, validated_data):
        try:
            with transaction.atomic():
                return User.objects.create_user(**validated_data)
        except IntegrityError as error:  # the same name, registered a moment earlier
            raise serializers.ValidationError({"username": ["A user with that username already exists."]}) from error

"""Registration, token sign-in, sign-out and password change."""

from django.contrib.auth import get_user_model, logout, update_session_auth_hash
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from books.parsers import SafeJSONParser
from cacheadmin.throttling import RegisterThrottle, SignInAddressThrottle, SignInUsernameThrottle, WriteThrottle
from reader import openapi, services

User = get_user_model()


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


@openapi.register(RegisterSerializer)
class RegisterView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [RegisterThrottle]

    def post(self, request):
        form = RegisterSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        user = form.save()
        token = Token.objects.create(user=user)
        return Response({"id": user.pk, "username": user.username, "token": token.key}, status=status.HTTP_201_CREATED)


@openapi.token
class TokenView(ObtainAuthToken):
    authentication_classes = []
    permission_classes = [AllowAny]
    parser_classes = [SafeJSONParser, FormParser, MultiPartParser]
    throttle_classes = [SignInAddressThrottle, SignInUsernameThrottle]


class LogoutView(APIView):
    """Deletes the caller's token: it stops working at once, on every worker (the token's
    cached entry is retired by the delete, cacheadmin.auth). A browser session ends too."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: OpenApiResponse(description="Signed out: the token is gone.")})
    def post(self, request):
        services.sign_out(request.user, request.auth)
        if request.auth is None:
            logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeSerializer(serializers.Serializer):
    old_password = serializers.CharField(trim_whitespace=False)
    new_password = serializers.CharField(trim_whitespace=False)

    def validate_old_password(self, value):
        if not self.context["user"].check_password(value):
            raise serializers.ValidationError("The old password is not correct.")
        return value

    def validate_new_password(self, value):
        try:
            validate_password(value, user=self.context["user"])
        except DjangoValidationError as error:
            raise serializers.ValidationError(list(error.messages)) from error
        return value


class PasswordView(APIView):
    """A new password and a new token; every older token of the user stops working at once.
    Guessing the old password counts like a sign-in of that user."""

    permission_classes = [IsAuthenticated]
    throttle_classes = [SignInUsernameThrottle, WriteThrottle]

    @extend_schema(
        request=PasswordChangeSerializer,
        responses=inline_serializer("NewToken", {"token": serializers.CharField()}),
    )
    def post(self, request):
        user = User.objects.get(pk=request.user.pk)  # the cached user carries no password hash
        form = PasswordChangeSerializer(data=request.data, context={"user": user})
        form.is_valid(raise_exception=True)
        token = services.change_password(user, form.validated_data["new_password"])
        if request.auth is None:  # a browser session stays signed in; the user's others end
            update_session_auth_hash(request._request, user)
        return Response({"token": token.key})

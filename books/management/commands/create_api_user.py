"""manage.py create_api_user NAME: make an API user and print its token."""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = (
        "Create an API user (or reuse an existing one) and print its token. Without "
        "--password the user can only use the token, not sign in."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument("--password", help="Also let the user sign in (admin, /auth/token/).")
        parser.add_argument("--staff", action="store_true", help="Allow the user into /admin/.")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        username: str = options["username"].strip()
        if not username:
            raise CommandError("The username must not be blank.")
        user, created = user_model.objects.get_or_create(
            username=username, defaults={"email": options["email"]}
        )
        if created:
            password = options["password"]
            if password:
                try:
                    validate_password(password, user)
                except ValidationError as error:
                    raise CommandError(" ".join(error.messages)) from error
                user.set_password(password)
            else:
                user.set_unusable_password()
            user.is_staff = options["staff"]
            user.save()
        elif options["password"] or options["staff"]:
            self.stderr.write(f"User {username!r} exists; its password and flags were left as is.")
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)

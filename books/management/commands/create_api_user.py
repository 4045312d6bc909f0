"""manage.py create_api_user NAME [--role reader|editor]: make an API user (if missing) and
print a new token for it."""

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from books.permissions import ROLES, give_role
from core.tokens import auth_token_create, auth_tokens_revoke_all, default_token_ttl


class Command(BaseCommand):
    help = (
        "Create an API user (or reuse an existing one) and print a new token for it on the last "
        "line of output. Only a digest of the token is stored, so it cannot be shown again: each "
        "run issues another one, and earlier tokens keep working until they expire or are "
        "revoked (see --revoke-others). Without --password the user can only use tokens, not "
        "sign in. --role chooses what the user may do with books: reader (read only) or "
        "editor (add, change, delete; the default for a new user)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument("--password", help="Also let the user sign in (admin, /auth/token/).")
        parser.add_argument("--staff", action="store_true", help="Allow the user into /admin/.")
        parser.add_argument(
            "--role",
            choices=sorted(ROLES),
            help="reader: reads only; editor: adds, changes and deletes books. Default: editor "
            "for a new user; an existing user's role changes only when this is given.",
        )
        parser.add_argument(
            "--ttl-hours",
            type=int,
            help="Hours until the token expires; 0: never. Default: TOKEN_TTL_HOURS.",
        )
        parser.add_argument(
            "--revoke-others",
            action="store_true",
            help="Revoke the user's other tokens, so only the one printed works.",
        )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        username: str = options["username"].strip()
        if not username:
            raise CommandError("The username must not be blank.")
        ttl = self._ttl(options["ttl_hours"])
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
        role = options["role"] or ("editor" if created else None)
        if role is not None:
            give_role(user, role)
            self.stderr.write(f"{username!r} is a {role}.")
        token, key = auth_token_create(user=user, ttl=ttl)
        if options["revoke_others"]:
            revoked = auth_tokens_revoke_all(user=user, keep=token)
            self.stderr.write(f"Revoked {revoked} other token(s) of {username!r}.")
        expires = f"expires {token.expiry.isoformat()}" if token.expiry else "never expires"
        # The key alone on stdout, for scripts; the rest on stderr.
        self.stderr.write(f"A new token for {username!r}; it {expires}.")
        self.stdout.write(key)

    @staticmethod
    def _ttl(hours: int | None) -> timedelta | None:
        if hours is None:
            return default_token_ttl()
        if hours < 0:
            raise CommandError("--ttl-hours must be 0 (never expires) or a number of hours.")
        return timedelta(hours=hours) if hours else None

"""Who may do what with books: reads are public, each write needs its model permission.

The groups a migration creates (0004_reader_and_editor_groups) give them: READERS may view
only, EDITORS may add, change and delete books. ``manage.py create_api_user --role`` puts a
user in one; the admin (Users, Groups) changes it.
"""

from typing import Any

from django.contrib.auth.models import Group, Permission
from rest_framework.permissions import DjangoModelPermissionsOrAnonReadOnly
from rest_framework.request import Request

READERS = "readers"
EDITORS = "editors"
#: Each group's permissions on the Book model, by codename.
GROUP_PERMISSIONS = {
    READERS: ("view_book",),
    EDITORS: ("view_book", "add_book", "change_book", "delete_book"),
}
#: What ``create_api_user --role`` accepts, and the group each role is.
ROLES = {"reader": READERS, "editor": EDITORS}
#: The actions the API's /books/permissions/ reports, and the permission each needs.
BOOK_ACTIONS = {
    "add": "books.add_book",
    "change": "books.change_book",
    "delete": "books.delete_book",
}


class BookPermissions(DjangoModelPermissionsOrAnonReadOnly):
    """Anyone reads; a write needs the user's add/change/delete permission on books.

    The answers keep their shapes: an anonymous write is a 401 (the token authenticator's
    challenge), a signed-in user without the permission a 403. Reads need no permission, so
    an account with none still reads what the public does."""


def book_actions_allowed(request: Request) -> dict[str, bool]:
    """Which writes the request's user may make, for the web page to show only those."""
    user: Any = request.user
    signed_in = bool(user and user.is_authenticated)
    return {action: signed_in and user.has_perm(perm) for action, perm in BOOK_ACTIONS.items()}


def role_group(name: str) -> Group:
    """The group ``name`` (READERS or EDITORS) with its permissions, made if missing (the
    migration makes both; a database flushed since, as by some tests, has neither)."""
    group, created = Group.objects.get_or_create(name=name)
    if created:
        group.permissions.set(
            Permission.objects.filter(
                content_type__app_label="books", codename__in=GROUP_PERMISSIONS[name]
            )
        )
    return group


def give_role(user: Any, role: str) -> None:
    """Make ``user`` a reader or an editor (ROLES), and not the other."""
    user.groups.remove(*Group.objects.filter(name__in=ROLES.values()))
    user.groups.add(role_group(ROLES[role]))

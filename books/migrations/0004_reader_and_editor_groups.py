"""The groups "readers" (view books) and "editors" (add, change, delete books).

Existing accounts join "editors": until this migration every account could write, and an
upgrade must not take that away silently; demote an account in the admin (issue 13, #6)."""

from typing import Any

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP_PERMISSIONS = {
    "readers": ("view_book",),
    "editors": ("view_book", "add_book", "change_book", "delete_book"),
}


def create_groups(apps: Any, schema_editor: Any) -> None:
    # Permissions are made after migrations (post_migrate): make the books app's now.
    books = apps.get_app_config("books")
    books.models_module = True
    create_permissions(books, apps=apps, verbosity=0)
    books.models_module = None
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for name, codenames in GROUP_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=name)
        group.permissions.add(
            *permission_model.objects.filter(
                content_type__app_label="books", codename__in=codenames
            )
        )
    user_model = apps.get_model("auth", "User")
    editors = group_model.objects.get(name="editors")
    for user in user_model.objects.filter(is_superuser=False).iterator():
        user.groups.add(editors)


def remove_groups(apps: Any, schema_editor: Any) -> None:
    apps.get_model("auth", "Group").objects.filter(name__in=GROUP_PERMISSIONS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("books", "0003_search_and_list_indexes"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]

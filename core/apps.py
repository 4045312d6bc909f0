from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Cross-cutting HTTP concerns: error shapes, body limits, health checks, schema."""

    name = "core"

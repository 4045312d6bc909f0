from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Cross-cutting HTTP concerns: error shapes, body limits, health checks, observability."""

    name = "core"

    def ready(self) -> None:
        # Database metrics and slow-query logging on every connection Django opens.
        from core import db_connections, db_instrumentation

        db_instrumentation.install()
        # Server-ended persistent connections dropped before a request uses them.
        db_connections.install()

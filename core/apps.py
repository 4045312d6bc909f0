from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Cross-cutting HTTP concerns: error shapes, body limits, health checks, observability."""

    name = "core"

    def ready(self) -> None:
        # Database metrics and slow-query logging on every connection Django opens.
        from django.contrib.auth.signals import user_login_failed

        from core import checks, db_connections, db_instrumentation
        from core.authentication import count_failed_sign_in

        db_instrumentation.install()
        # Server-ended persistent connections dropped before a request uses them.
        db_connections.install()
        # Failed password sign-ins, wherever they happen, count towards the lockout.
        user_login_failed.connect(count_failed_sign_in, dispatch_uid="core.count_failed_sign_in")
        checks.register()

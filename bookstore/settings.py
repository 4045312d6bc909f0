"""Settings for the bookstore API, read from the environment (see .env.example).

One module serves every environment; only the test run overrides a few values
(bookstore/test_settings.py). Defaults are safe for production: DEBUG is off and
SECRET_KEY must be given whenever it is.
"""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from core.replicas.config import replica_databases

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env (written by `make run` with a generated SECRET_KEY) fills in what the
# real environment leaves unset; the real environment always wins.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
# With DEBUG off the key signs sessions, CSRF tokens and cursors: a guessable one lets anyone
# forge them. Refused like Django's deploy check would flag it (security.W009), and by name.
SECRET_KEY_MIN_LENGTH = 50
WEAK_SECRET_KEYS = frozenset({"change-me", "changeme", "secret", "secret-key", "secretkey"})
WEAK_SECRET_KEY_PREFIXES = ("django-insecure-", "insecure-")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off (`make run` generates one into .env)."
        )
    SECRET_KEY = "insecure-development-only-key"  # noqa: S105 - only ever used with DEBUG on
elif not DEBUG and (
    len(SECRET_KEY) < SECRET_KEY_MIN_LENGTH
    or len(set(SECRET_KEY)) < 5
    or SECRET_KEY.strip().lower() in WEAK_SECRET_KEYS
    or SECRET_KEY.startswith(WEAK_SECRET_KEY_PREFIXES)
):
    raise ImproperlyConfigured(
        f"SECRET_KEY is too weak: use at least {SECRET_KEY_MIN_LENGTH} random characters, not a "
        "placeholder. Generate one: python3 -c 'import secrets; print(secrets.token_urlsafe(50))'"
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "corsheaders",
    "django_prometheus",
    "core",
    "books",
    "web",
]

# The request id first, so every line logged below it carries the id (a 413 included) and its
# access line times the whole stack.
MIDDLEWARE = [
    "core.request_id.RequestIdMiddleware",
    # Outside every middleware that may answer in a view's place: a 304 or 429 keeps the fields.
    "core.ratelimit_headers.RateLimitHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "core.middleware.RequestBodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.DatabaseUnavailableMiddleware",
    "core.metrics.RequestMetricsMiddleware",
    # Last, so a read it answers again from the primary is counted and logged once.
    "core.replicas.middleware.ReadRoutingMiddleware",
]

ROOT_URLCONF = "bookstore.urls"
WSGI_APPLICATION = "bookstore.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
# Default: an embedded SQLite file beside the code. Production: DATABASE_URL=postgres://...
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
# Persistent connections: each worker thread keeps its connection for CONN_MAX_AGE seconds.
# Without persistence, 2.5x slower; measured against psycopg's pool (docs/performance.md): no
# faster here with one connection per thread, and it needs the psycopg-pool package.
# A connection the server dropped (a restart) is replaced before a request uses it by
# core.db_connections, which asks the socket, not the server. CONN_HEALTH_CHECKS (Django's own
# check, a `SELECT 1` round trip before each request's first query) is off by default for that.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=False)
# Behind PgBouncer in transaction pooling mode, a server-side cursor (the export's iterator)
# cannot outlive its transaction: set this, and the rows are fetched client-side instead.
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env.bool(
    "DATABASE_DISABLE_SERVER_SIDE_CURSORS", default=False
)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # When the database is down, fail within a second (a 503) rather than hang a worker.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=1)
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent writers from several server threads: take the write lock at BEGIN and
    # wait for it instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0

# --- Read replicas (docs/scaling.md) --------------------------------------------------
# DATABASE_REPLICA_URLS: comma-separated URLs of streaming replicas of DATABASE_URL (the
# primary). Catalogue reads then go to a replica that is up and at most REPLICA_MAX_LAG_SECONDS
# behind (checked every REPLICA_CHECK_INTERVAL_SECONDS); writes, transactions, migrations and
# accounts stay on the primary, and a user who wrote reads from the primary for
# READ_YOUR_WRITES_SECONDS (core/replicas/).
DATABASE_REPLICA_URLS = env.list("DATABASE_REPLICA_URLS", default=[])
REPLICA_MAX_LAG_SECONDS = env.float("REPLICA_MAX_LAG_SECONDS", default=2.0)
REPLICA_CHECK_INTERVAL_SECONDS = env.float("REPLICA_CHECK_INTERVAL_SECONDS", default=1.0)
READ_YOUR_WRITES_SECONDS = env.float("READ_YOUR_WRITES_SECONDS", default=5.0)
# Each URL becomes an alias replica_1, replica_2, ...; settings that could hide a user's own
# write are refused here (core/replicas/config.py).
DATABASES.update(
    replica_databases(
        DATABASE_REPLICA_URLS,
        primary=DATABASES["default"],
        max_lag_seconds=REPLICA_MAX_LAG_SECONDS,
        check_interval_seconds=REPLICA_CHECK_INTERVAL_SECONDS,
        read_your_writes_seconds=READ_YOUR_WRITES_SECONDS,
        redis_url=env.str("REDIS_URL", default=""),
    )
)
if DATABASE_REPLICA_URLS:
    DATABASE_ROUTERS = ["core.replicas.routing.ReplicaRouter"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "core.cache_backends.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "bookstore",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 1,
                "SOCKET_TIMEOUT": 1,
                # Redis down is a cache miss, not an error: reads and writes go on from the
                # database (and throttling is lenient) until it is back. See docs/reliability.md.
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "core.cache_backends.LocMemCache"}}

# Anonymous JSON reads of books are answered from the shared cache (books.hot_path,
# books.read_cache): on by default when the cache is Redis, which every worker and host shares;
# with the per-process local-memory cache a write in one worker could not invalidate another's.
READ_CACHE_ENABLED = env.bool("READ_CACHE_ENABLED", default=bool(REDIS_URL))
# Seconds an entry (and a write's fence) lives. Writes invalidate at once; this bounds memory.
READ_CACHE_TTL = env.int("READ_CACHE_TTL", default=300)

# --- Auth -----------------------------------------------------------------------------
# Every password sign-in (POST /auth/token/, the admin's login form) first passes the lockout
# (core.authentication.SignInLockoutBackend): SIGN_IN_FAILURE_LIMIT failures for one username
# from anywhere, or from one address for any usernames, within SIGN_IN_FAILURE_WINDOW_SECONDS
# lock it until the window ends. Counted in the shared cache, like the rate limits.
AUTHENTICATION_BACKENDS = [
    "core.authentication.SignInLockoutBackend",
    # ModelBackend, with a user's permissions read in one query (each write checks one).
    "core.authentication.PermissionsBackend",
]
SIGN_IN_FAILURE_LIMIT = env.int("SIGN_IN_FAILURE_LIMIT", default=10)
SIGN_IN_FAILURE_WINDOW_SECONDS = env.int("SIGN_IN_FAILURE_WINDOW_SECONDS", default=15 * 60)
# Tokens refused per client address before it gets 429 (each costs a database query).
TOKEN_FAILURE_LIMIT = env.int("TOKEN_FAILURE_LIMIT", default=30)
TOKEN_FAILURE_WINDOW_SECONDS = env.int("TOKEN_FAILURE_WINDOW_SECONDS", default=60)

# Argon2 for new passwords; the others only verify older hashes, which are re-hashed with
# Argon2 the next time their user signs in.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Internationalisation -------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files (admin, browsable API, Swagger UI), served by WhiteNoise -----------
STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "core.storage.StaticFilesStorage"},
}

# --- Requests -------------------------------------------------------------------------
# Bodies larger than this are refused with 413 before any parsing.
REQUEST_BODY_MAX_BYTES = env.int("REQUEST_BODY_MAX_BYTES", default=4 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_BODY_MAX_BYTES

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"

# --- Proxies in front of the app ----------------------------------------------------------
# How many reverse proxies stand between clients and the app, each appending the address it saw
# to X-Forwarded-For (compose and Kubernetes: nginx, 1). 0, the default: the app is reached
# directly and the client is its direct peer (REMOTE_ADDR); every X-Forwarded-* header is the
# client's own claim and is ignored. Rate limits and lockouts count clients by this rule
# (core.throttling.client_address); a count higher than the real one lets clients pick their
# address.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)
if NUM_PROXIES < 0:
    raise ImproperlyConfigured("NUM_PROXIES must be 0 (no proxy) or the number of proxies.")

# --- HTTPS, behind a TLS-terminating proxy ---------------------------------------------
# Behind a proxy that terminates TLS and sets X-Forwarded-Proto (compose, Kubernetes), its
# header tells whether the client used https. Without a declared proxy anyone could send it,
# so it is trusted by default only when NUM_PROXIES is above 0 (`manage.py check --deploy`
# warns when it is set without one: core.checks).
if env.bool("SECURE_PROXY_SSL_HEADER", default=NUM_PROXIES > 0):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Redirecting http to https is the TLS terminator's job (it sees the plain request first);
# set this when the app is reachable over plain HTTP from browsers.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_SSL_REDIRECT else ["security.W008"]
# Health checks and metrics are scraped over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- CORS: browsers on other origins, by allowlist only --------------------------------
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_EXPOSE_HEADERS = [
    "ETag",
    "Location",
    "Retry-After",
    "X-Request-ID",
    "Idempotent-Replayed",
    "RateLimit",
    "RateLimit-Policy",
]
CORS_ALLOW_HEADERS = (
    "accept",
    "authorization",
    "content-type",
    "if-match",
    "if-none-match",
    "idempotency-key",
    "x-request-id",
)

# A strict Content-Security-Policy for every HTML page (the web app, the browsable API,
# Swagger UI, the admin): scripts and styles only from our own origin, nothing inline.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- Safe retries -----------------------------------------------------------------------
# A POST with an Idempotency-Key is replayed to its retries for this many hours (the API
# promises at least 24); `manage.py purge_idempotency_keys` deletes older records.
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24)

# --- Bulk writes ----------------------------------------------------------------------
# POST /books/ with a JSON array creates up to this many books in one transaction.
BULK_CREATE_MAX_ITEMS = env.int("BULK_CREATE_MAX_ITEMS", default=1000)

# --- Roles, quotas and read-cache bounds (books.permissions, books.throttling, read_cache) --
# Writes need the model permissions (groups "readers" and "editors"); each signed-in user
# may write this many books a day (UTC), a bulk create counting each book; 0: no quota.
WRITE_QUOTA_PER_DAY = env.int("WRITE_QUOTA_PER_DAY", default=10_000)
# The read cache stores at most this many megabytes of list pages per READ_CACHE_TTL window
# (so at most twice as much at once); pages past it are served uncached. 0: no bound.
# Counted in bytes, not pages: 64 MB is ~7,000 ordinary pages of 20 books, or ~550 of the
# largest (100 books of 20,000-character summaries).
READ_CACHE_LIST_BUDGET_BYTES = env.int("READ_CACHE_LIST_BUDGET_MB", default=64) * 2**20

# --- Search (books.search) -------------------------------------------------------------
# PostgreSQL stops a search's statement after this long and the API answers 503: the worst
# search (only the commonest words) cannot hold a worker and a connection for longer.
SEARCH_STATEMENT_TIMEOUT_MS = env.int("SEARCH_STATEMENT_TIMEOUT_MS", default=1000)

# --- Django REST framework ------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its WWW-Authenticate header turns an anonymous write into a 401.
        "core.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "core.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    "EXCEPTION_HANDLER": "core.exceptions.api_exception_handler",
    # Counted in the shared cache (Redis in production), so a limit holds across workers and
    # hosts. Over it: 429 with Retry-After.
    "DEFAULT_THROTTLE_CLASSES": [
        "core.throttling.AnonRateThrottle",
        "core.throttling.UserRateThrottle",
        "core.throttling.ScopedRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("THROTTLE_ANON_RATE", default="600/min"),
        "user": env.str("THROTTLE_USER_RATE", default="3000/min"),
        # Sign-in, per client address: password guessing gets 10 tries a minute.
        "auth": env.str("THROTTLE_AUTH_RATE", default="10/min"),
    },
    # The client's address: the direct peer, or behind NUM_PROXIES proxies the X-Forwarded-For
    # entry the outermost one appended (never None: DRF would take the whole header).
    "NUM_PROXIES": NUM_PROXIES,
}

# API tokens (django-rest-knox): only a SHA-512 digest of each key is stored, so a key is shown
# once, when it is issued (POST /auth/token/, manage.py create_api_user). A token lives
# TOKEN_TTL_HOURS from issue, used or not (0: until revoked); POST /auth/logout/ revokes it,
# /auth/logout-all/ every token of its user.
_token_ttl_hours = env.int("TOKEN_TTL_HOURS", default=30 * 24)
if _token_ttl_hours < 0:
    raise ImproperlyConfigured("TOKEN_TTL_HOURS must be 0 (no expiry) or a number of hours.")
REST_KNOX = {
    "AUTH_HEADER_PREFIX": "Token",
    "TOKEN_TTL": timedelta(hours=_token_ttl_hours) if _token_ttl_hours else None,
    # A fixed lifetime: using a token does not extend it, so a leaked one still dies on
    # schedule, and no request has to write a new expiry.
    "AUTO_REFRESH": False,
    # Live tokens per user; issuing one more revokes that user's oldest (core.tokens) rather
    # than refusing a sign-in, so forgotten tokens do not pile up. 0: no limit.
    "TOKEN_LIMIT_PER_USER": env.int("TOKEN_LIMIT_PER_USER", default=25) or None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Bookstore API",
    "DESCRIPTION": (
        "A book catalogue. Reads are public; writes need `Authorization: Token <key>` "
        "(get one from `POST /auth/token/`). Lists are cursor-paginated: follow `next`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Logging and metrics --------------------------------------------------------------
# Every line, Django's and granian's included, goes through core.logging: one JSON object per
# line (LOG_FORMAT=json, the default with DEBUG off) or readable text (console, with DEBUG on).
# Lines written while a request is served carry its request_id (core.request_id).
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="") or ("console" if DEBUG else "json")
LOGGING_CONFIG = "core.logging.configure_logging"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "structured": {"()": "core.logging.build_formatter", "log_format": LOG_FORMAT},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own handlers (plain text with DEBUG on) would write its lines a second time.
        "django": {"handlers": [], "propagate": True},
        "django.db.backends": {"level": "WARNING"},
    },
}

# A request or a database statement slower than this (milliseconds) is logged as
# slow_request / slow_query, with its timing.
SLOW_REQUEST_MS = env.float("SLOW_REQUEST_MS", default=500)
SLOW_QUERY_MS = env.float("SLOW_QUERY_MS", default=100)

# /metrics (Prometheus) answers only to these addresses or networks (the direct peer, not
# X-Forwarded-For), or to anyone sending `Authorization: Bearer <METRICS_TOKEN>` when it is set.
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

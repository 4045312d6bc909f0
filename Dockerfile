# The bookstore API in production: granian (deploy/server.py) on Python 3.11, as a non-root user.
# Build: docker build -t bookstore .
# Run:   docker run -p 8000:8000 -e SECRET_KEY=... -e DATABASE_URL=postgres://... \
#               -e REDIS_URL=redis://... -e ALLOWED_HOSTS=api.example.com bookstore
# Migrate once per release: docker run --rm -e ... bookstore python manage.py migrate
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOST=0.0.0.0 \
    PORT=8000

WORKDIR /app

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app

# Dependencies first, so code changes do not reinstall them. A build behind a TLS-inspecting
# proxy may pass its CA bundle as a secret: --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt
COPY requirements.txt .
RUN --mount=type=secret,id=ca,required=false \
    if [ -f /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi; \
    pip install --no-cache-dir -r requirements.txt

COPY . .
# Static files (admin, browsable API, Swagger UI) are collected into the image and served
# by WhiteNoise; the key is only needed for Django to start, not kept (a random one: the
# settings refuse a weak key with DEBUG off).
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    python manage.py collectstatic --noinput --verbosity 0

USER 10001:10001
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/healthz', timeout=2)"]

CMD ["python", "-m", "deploy.server"]

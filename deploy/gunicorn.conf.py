"""gunicorn settings for the production server, read from the environment.

HOST and PORT choose the address; WEB_CONCURRENCY the worker processes (default: two per
core) and GUNICORN_THREADS the threads in each (default 4): threads overlap the waits on
the database and cache without a process's memory each.
"""

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# A bounded life per worker caps the effect of any slow leak; jitter avoids restarting all at once.
max_requests = 10_000
max_requests_jitter = 1_000
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

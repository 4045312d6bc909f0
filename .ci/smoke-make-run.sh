#!/usr/bin/env bash
# Starts `make run` as the README says, waits for it, and drives the API with curl:
# the real demo catalogue loaded (again: unchanged), create with a token, read, list, filter,
# update, delete, a 400 and a 401.
set -euo pipefail
cd "$(dirname "$0")/.."

port="${SMOKE_PORT:-18123}"
base="http://127.0.0.1:$port"
log="$(mktemp)"

PORT="$port" setsid make run >"$log" 2>&1 &
server=$!
cleanup() { kill -TERM -- "-$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
trap cleanup EXIT

for _ in $(seq 1 120); do
    curl -fsS "$base/readyz" >/dev/null 2>&1 && break
    if ! kill -0 "$server" 2>/dev/null; then cat "$log"; echo "FATAL: make run exited" >&2; exit 1; fi
    sleep 1
done
curl -fsS "$base/readyz" >/dev/null || { cat "$log"; echo "FATAL: not ready after 120 s" >&2; exit 1; }

fail() { echo "SMOKE FAILED: $*" >&2; exit 1; }
expect() {  # expect STATUS METHOD PATH [curl args...]
    local want="$1" method="$2" path="$3"; shift 3
    local got
    got=$(curl -sS -o /tmp/smoke-body -w '%{http_code}' -X "$method" "$base$path" "$@")
    echo "$method $path -> $got $(head -c 200 /tmp/smoke-body)"
    [ "$got" = "$want" ] || fail "$method $path: expected $want, got $got"
}

token=$(.venv/bin/python manage.py create_api_user smoke-user)
auth=(-H "Authorization: Token $token")
json=(-H "Content-Type: application/json")

expect 200 GET "/books/?page_size=2"
count=$(.venv/bin/python -c 'import json; print(len(json.load(open("/tmp/smoke-body"))["results"]))')
[ "$count" = 2 ] || fail "demo catalogue not loaded"
expect 200 GET "/books/?isbn=0-340-83993-7"
grep -q '"title":"Dune (Dune Chronicles #1)"' /tmp/smoke-body || fail "the demo catalogue (books/data) is not the one loaded"
expect 201 POST /books/ "${auth[@]}" "${json[@]}" \
    -d '{"title":"Smoke","author":"CI","publication_date":"2001-02-03","isbn":"0-306-40615-2"}'
id=$(.venv/bin/python -c 'import json; print(json.load(open("/tmp/smoke-body"))["id"])')
expect 200 GET "/books/$id/"
expect 200 GET "/books/?isbn=978-0-306-40615-7"
grep -q '"isbn":"9780306406157"' /tmp/smoke-body || fail "isbn filter did not find the book"
etag=$(curl -sSI "$base/books/$id/" | tr -d '\r' | sed -n 's/^[Ee][Tt]ag: //p')
[ -n "$etag" ] || fail "no ETag on a book"
expect 304 GET "/books/$id/" -H "If-None-Match: $etag"
expect 200 PATCH "/books/$id/" "${auth[@]}" "${json[@]}" -H "If-Match: $etag" -d '{"summary":"updated"}'
expect 412 PATCH "/books/$id/" "${auth[@]}" "${json[@]}" -H "If-Match: $etag" -d '{"summary":"stale"}'
expect 201 POST /books/ "${auth[@]}" "${json[@]}" \
    -d '[{"title":"Bulk A","author":"CI","publication_date":"2001-02-03","isbn":"978-0-13-110362-7"},
         {"title":"Bulk B","author":"CI","publication_date":"2001-02-04","isbn":"0-441-17271-7"}]'
expect 400 POST /books/ "${auth[@]}" "${json[@]}" \
    -d '[{"title":"Again","author":"CI","publication_date":"2001-02-03","isbn":"9780131103627"}]'
expect 200 GET "/books/export/?format=csv&author=ci" "${auth[@]}"
[ "$(wc -l < /tmp/smoke-body)" = 4 ] || fail "export: expected a header and 3 CI books"
expect 401 GET "/books/export/"
expect 200 GET /app/
grep -qF "Web page:  $base/app/" "$log" || fail "make run did not print the web page's URL"
expect 200 GET /
grep -qF "\"app\":\"$base/app/\"" /tmp/smoke-body || fail "the API root does not link the web page"
expect 400 POST /books/ "${auth[@]}" "${json[@]}" -d '{"title":" ","isbn":"123"}'
expect 401 POST /books/ "${json[@]}" -d '{}'
expect 204 DELETE "/books/$id/" "${auth[@]}"
expect 404 GET "/books/$id/"
expect 200 GET /api/schema/
expect 200 GET /api/docs/
# What `make run` loads, loaded again (as a second `make run` does), adds nothing.
again=$(.venv/bin/python manage.py seed_books --real)
echo "$again"
case "$again" in "Added 0 books ("*) ;; *) fail "loading the demo catalogue again changed it" ;; esac
# The search as a reader types it, on the real books (README's Search).
expect 200 GET "/books/?search=tolkein"
grep -q '"similar":true' /tmp/smoke-body || fail "search: a typo found no similar books"
expect 200 GET "/books/?search=miserables"
grep -q 'Mis\(é\|\\u00e9\)rables' /tmp/smoke-body || fail "search: miserables did not find Les Misérables"
echo "smoke: OK"

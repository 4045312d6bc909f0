// The bookstore's public API over fetch: JSON both ways, the session's token, ETags for
// safe edits, and one error type whose `kind` says what the person can do about it.

import { getToken, rememberPermissions, signOut } from "./session.js";

const config = document.documentElement.dataset;
const BOOKS_URL = config.booksUrl || "/books/";
const TOKEN_URL = config.tokenUrl || "/auth/token/";
const LOGOUT_URL = config.logoutUrl || "/auth/logout/";

/** A request that takes longer than this is reported as a network problem. */
const REQUEST_TIMEOUT_MS = 20000;

/**
 * Why a request failed. `kind` is one of: "invalid" (400, see `fieldErrors`), "unauthorized"
 * (401), "forbidden" (403), "not-found" (404), "conflict" (412), "rate-limited" (429, see
 * `retryAfterSeconds`), "server" (5xx), "network" (no answer), "aborted" (cancelled by us),
 * "unexpected" (anything else).
 */
export class ApiError extends Error {
  constructor(kind, message, { status = 0, fieldErrors = {}, retryAfterSeconds = null } = {}) {
    super(message);
    this.name = "ApiError";
    this.kind = kind;
    this.status = status;
    this.fieldErrors = fieldErrors;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The API's 400 body as {field: "message. message"}; general errors under non_field_errors. */
function fieldErrorsFrom(body) {
  const errors = {};
  if (!body || typeof body !== "object" || Array.isArray(body)) {
    return { non_field_errors: "The request was not accepted." };
  }
  for (const [field, value] of Object.entries(body)) {
    const name = field === "detail" ? "non_field_errors" : field;
    const messages = Array.isArray(value) ? value : [value];
    const text = messages.filter((message) => typeof message === "string").join(" ");
    if (text) errors[name] = errors[name] ? `${errors[name]} ${text}` : text;
  }
  return errors;
}

/** Retry-After is either seconds or an HTTP date. */
function retryAfterSecondsFrom(header) {
  if (!header) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

function errorFromResponse(response, body) {
  const status = response.status;
  const detail = body && typeof body.detail === "string" ? body.detail : "";
  switch (status) {
    case 400:
      return new ApiError("invalid", "Some values need fixing.", {
        status,
        fieldErrors: fieldErrorsFrom(body),
      });
    case 401:
      return new ApiError("unauthorized", "You are not signed in any more. Please sign in again.", {
        status,
      });
    case 403:
      return new ApiError("forbidden", detail || "You are not allowed to do that.", { status });
    case 404:
      return new ApiError("not-found", detail || "Not found.", { status });
    case 412:
      return new ApiError("conflict", detail || "Someone else changed this book.", { status });
    case 429: {
      const retryAfterSeconds = retryAfterSecondsFrom(response.headers.get("Retry-After"));
      const wait =
        retryAfterSeconds === null
          ? "Please wait a moment"
          : `Please wait ${retryAfterSeconds} second${retryAfterSeconds === 1 ? "" : "s"}`;
      return new ApiError("rate-limited", `Too many requests just now. ${wait}, then try again.`, {
        status,
        retryAfterSeconds,
      });
    }
    default:
      if (status >= 500) {
        return new ApiError(
          "server",
          `The bookstore had a problem (error ${status}). Please try again in a moment.`,
          { status },
        );
      }
      return new ApiError("unexpected", detail || `Unexpected answer (${status}).`, { status });
  }
}

async function readJson(response) {
  if (response.status === 204 || response.status === 304) return null;
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null; // e.g. an HTML error page from a proxy; the status still tells what happened
  }
}

/** Aborts when either does (browsers without AbortSignal.any keep the caller's only). */
function combinedSignal(signal, timeout) {
  if (!signal) return timeout;
  return typeof AbortSignal.any === "function" ? AbortSignal.any([signal, timeout]) : signal;
}

/**
 * One API call. Resolves to {body, etag, response}; rejects with an ApiError.
 * `etag` is sent as If-Match; `signal` lets the caller cancel an outdated request.
 */
async function request(method, url, { body, etag, signal, cache } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (etag) headers["If-Match"] = etag;
  const token = getToken();
  if (token && url !== TOKEN_URL) headers.Authorization = `Token ${token}`;

  const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      // Tokens only: a leftover admin session cookie must not change who we are.
      credentials: "omit",
      cache: cache || "default",
      signal: combinedSignal(signal, timeout),
    });
  } catch (error) {
    if (signal && signal.aborted) throw new ApiError("aborted", "Cancelled.");
    if (timeout.aborted) {
      throw new ApiError(
        "network",
        "The bookstore took too long to answer. Check your connection and try again.",
      );
    }
    throw new ApiError(
      "network",
      "Could not reach the bookstore. Check your connection and try again.",
    );
  }
  let payload;
  try {
    payload = await readJson(response);
  } catch {
    if (signal && signal.aborted) throw new ApiError("aborted", "Cancelled.");
    throw new ApiError("network", "The connection broke while the answer was arriving. Try again.");
  }
  if (response.status === 401 && headers.Authorization) {
    // The server no longer knows this token (revoked, user removed): forget it. Reads are
    // public, so a read is simply asked again without it.
    signOut();
    if (method === "GET") return request(method, url, { signal, cache });
  }
  if (!response.ok) throw errorFromResponse(response, payload);
  return { body: payload, etag: response.headers.get("ETag"), response };
}

/** The path and query of a link the API gave (it gives absolute URLs). */
function localPath(link) {
  const url = new URL(link, window.location.href);
  return url.pathname + url.search;
}

function bookApiUrl(id) {
  return `${BOOKS_URL}${encodeURIComponent(id)}/`;
}

/**
 * One page of the list. `query` (URLSearchParams) is used for the first page; `pageUrl`, a
 * `next` link of an earlier page, for the ones after. Resolves to {books, nextPageUrl,
 * search}: `search` is how the API read a search ({words, isbns, similar, did_you_mean}), or
 * null when there was none.
 */
export async function listBooks({ query, pageUrl, signal }) {
  const url = pageUrl || `${BOOKS_URL}?${query.toString()}`;
  const { body } = await request("GET", url, { signal });
  return {
    books: body.results,
    nextPageUrl: body.next ? localPath(body.next) : null,
    search: body.search || null,
  };
}

/**
 * How many books the list of `query` has: {count, exact, estimate} (GET /books/count/):
 * `count` exactly when `exact`, else at least `count`, with PostgreSQL's `estimate` or null.
 */
export async function countBooks({ query, signal }) {
  const search = query.toString();
  const url = `${BOOKS_URL}count/${search ? `?${search}` : ""}`;
  const { body } = await request("GET", url, { signal });
  return body;
}

/** A book and its ETag, revalidated with the server (never a stale copy). */
export async function getBook(id, { signal } = {}) {
  const { body, etag } = await request("GET", bookApiUrl(id), { signal, cache: "no-cache" });
  return { book: body, etag };
}

export async function createBook(fields) {
  const { body, etag } = await request("POST", BOOKS_URL, { body: fields });
  return { book: body, etag };
}

/** Replaces a book's fields, only if it is still the version `etag` names (else "conflict"). */
export async function updateBook(id, fields, etag) {
  const { body, etag: newEtag } = await request("PUT", bookApiUrl(id), { body: fields, etag });
  return { book: body, etag: newEtag };
}

export async function deleteBook(id, etag) {
  await request("DELETE", bookApiUrl(id), { etag });
}

/** Asks which writes the signed-in user may make, and remembers it for the buttons. */
export async function refreshPermissions() {
  const { body } = await request("GET", `${BOOKS_URL}permissions/`, { cache: "no-store" });
  if (getToken()) rememberPermissions(body);
}

export async function obtainToken(username, password) {
  const { body } = await request("POST", TOKEN_URL, { body: { username, password } });
  return body.token;
}

/**
 * Asks the server to revoke `token`, so a copy left behind (a shared computer, a backup of the
 * browser profile) stops working. Never rejects: offline, or the token is already gone, the
 * sign-out still happens locally.
 */
export async function revokeToken(token) {
  try {
    await fetch(LOGOUT_URL, {
      method: "POST",
      headers: { Accept: "application/json", Authorization: `Token ${token}` },
      credentials: "omit",
      // Finish even if the page is left or reloaded right after signing out.
      keepalive: true,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch {
    // The token still expires on its own.
  }
}

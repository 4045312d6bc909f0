// Client-side routing over the History API: every page of the app is a real URL (so it can be
// bookmarked, shared and reloaded), links inside the app change the view without a reload,
// and Back and Forward work.
//
// A view is {section, show(params, context), hide()}: `section` is its element in the page;
// show() is called on every visit, with the route's named groups and {url, focus, revisit}.

import { renderFlash } from "./dom.js";

const appBase = document.documentElement.dataset.appUrl || "/app/";

const routes = [];
const navigationListeners = new Set();
let notFoundView = null;
let currentView = null;

export function addRoute(pattern, view) {
  routes.push({ pattern, view });
}

export function setNotFoundView(view) {
  notFoundView = view;
}

/** Calls `listener` after every change of view or address made through the router. */
export function onNavigate(listener) {
  navigationListeners.add(listener);
}

export function appPath(relative = "") {
  return `${appBase}${relative}`;
}

/** The address of the sign-in page that comes back to `returnTo` afterwards. */
export function signInPath(returnTo) {
  const query = returnTo ? `?${new URLSearchParams({ next: returnTo })}` : "";
  return `${appPath("sign-in/")}${query}`;
}

/** Only a path inside this app may be a place to return to (no open redirects). */
export function safeReturnPath(candidate) {
  if (typeof candidate !== "string") return appBase;
  if (!candidate.startsWith(appBase) || candidate.startsWith("//")) return appBase;
  return candidate;
}

export function currentPath() {
  return window.location.pathname + window.location.search;
}

function match(pathname) {
  if (!pathname.startsWith(appBase)) return null;
  const rest = pathname.slice(appBase.length);
  for (const { pattern, view } of routes) {
    const found = pattern.exec(rest);
    if (found) return { view, params: found.groups || {} };
  }
  return null;
}

function render({ focus }) {
  const url = new URL(window.location.href);
  const found = match(url.pathname) || { view: notFoundView, params: {} };
  const revisit = found.view === currentView;
  if (currentView && !revisit) {
    currentView.hide();
    currentView.section.hidden = true;
  }
  currentView = found.view;
  currentView.section.hidden = false;
  renderFlash();
  currentView.show(found.params, { url, focus, revisit });
  for (const listener of navigationListeners) listener();
}

/** Goes to `path` inside the app: a new history entry, or (replace) the current one. */
export function navigate(path, { replace = false } = {}) {
  if (replace) window.history.replaceState(null, "", path);
  else window.history.pushState(null, "", path);
  render({ focus: true });
}

/** Changes the address's query (e.g. a new search) without showing another view. */
export function replaceQuery(query) {
  const search = query.toString();
  window.history.replaceState(null, "", `${window.location.pathname}${search ? `?${search}` : ""}`);
}

function isPlainLeftClick(event) {
  return (
    !event.defaultPrevented &&
    event.button === 0 &&
    !event.metaKey &&
    !event.ctrlKey &&
    !event.shiftKey &&
    !event.altKey
  );
}

function followAppLinks(event) {
  if (!isPlainLeftClick(event)) return;
  const link = event.target.closest("a[href]");
  if (!link || link.target || link.hasAttribute("download")) return;
  const url = new URL(link.href);
  if (url.origin !== window.location.origin || !url.pathname.startsWith(appBase)) return;
  // A link to a spot on the same page (#main) is the browser's job.
  if (url.hash && url.pathname === window.location.pathname && url.search === window.location.search) {
    return;
  }
  event.preventDefault();
  navigate(url.pathname + url.search);
}

export function startRouter() {
  // Views restore their own scroll position (the catalogue keeps its place in a long list).
  window.history.scrollRestoration = "manual";
  document.addEventListener("click", followAppLinks);
  window.addEventListener("popstate", () => render({ focus: true }));
  // The first view does not take the focus: the page has just loaded, the reader starts at the top.
  render({ focus: false });
}

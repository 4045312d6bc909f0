// The catalogue: search (as you type, after a pause), filters and sort order, all kept in the
// address so a search can be bookmarked and shared; the list grows page by page, following
// the API's cursor links, as the reader scrolls (or presses "Load more books"). A search is
// ranked by relevance unless the reader picks another order; when it finds nothing, the page
// says which words (as the API read them) no book has, and when the API fell back to similar
// spellings it says so and offers its correction. Beside the list, its total, from the API's
// count (exact up to a cap, then "about" or "10,000+"). Dates the other way round (published
// after a day later than published before) get a hint and a swap, not an empty list.

import { countBooks, listBooks } from "../api.js";
import {
  announce,
  byId,
  dateControlMessage,
  formatDate,
  formatNumber,
  setPublicationDate,
} from "../dom.js";
import { clearFormErrors, showFormErrors } from "../form-errors.js";
import { appPath, replaceQuery } from "../router.js";

const FILTER_NAMES = ["search", "author_name", "published_after", "published_before"];
/** The filters besides the search: when a search finds nothing, they may be why. */
const NARROWING_FILTER_NAMES = ["author_name", "published_after", "published_before"];
/** The API's order without a search, and with one: neither is written in the address. */
const DEFAULT_ORDERING = "-created_at";
const SEARCH_ORDERING = "relevance";
const PAGE_SIZE = 20;
/** Typing pauses this long before the search runs: one request per pause, not per key. */
const TYPING_DELAY_MS = 350;
/** The next page is fetched when the end of the list is this close to the screen. */
const SCROLL_AHEAD_PX = 400;

const section = byId("view-catalogue");
const heading = byId("catalogue-heading");
const form = byId("catalogue-filters");
const moreFilters = byId("more-filters");
const orderingSelect = byId("filter-ordering");
const relevanceOption = byId("filter-ordering-relevance");
const searchInput = byId("filter-search");
const list = byId("book-list");
const cardTemplate = byId("book-card-template");
const status = byId("catalogue-status");
const errorBox = byId("catalogue-error");
const similarNotice = byId("catalogue-similar");
const empty = byId("catalogue-empty");
const loading = byId("catalogue-loading");
const loadMoreButton = byId("load-more");
const listEnd = byId("list-end");
const sentinel = byId("scroll-sentinel");
const clearButton = byId("clear-filters");
const rangeHint = byId("catalogue-range-hint");
const afterInput = byId("filter-published-after");
const beforeInput = byId("filter-published-before");

const ORDERINGS = new Set(Array.from(orderingSelect.options, (option) => option.value));

const state = {
  query: new URLSearchParams(), // what the list on screen shows
  shownKey: null, // query.toString(), or null before the first load
  nextPageUrl: null,
  count: 0,
  total: null, // the API's count of the list on screen ({count, exact, estimate}), once known
  countController: null,
  reversed: false, // the list on screen asks for a date range that ends before it starts
  loading: false,
  failure: null, // the ApiError of the last load, until a load succeeds
  search: null, // how the API read the search of the list on screen ({words, isbns, ...})
  controller: null, // aborts the request of a list that is no longer wanted
  stale: false, // a book was added, changed or deleted since the list was loaded
  scrollY: 0,
  lastOpenedId: null,
  typingTimer: 0,
};

function defaultOrdering(searching) {
  return searching ? SEARCH_ORDERING : DEFAULT_ORDERING;
}

function filterValue(params, name) {
  // Addresses bookmarked before the forgiving author filter said `author=`.
  const value = params.get(name) ?? (name === "author_name" ? params.get("author") : null);
  return (value || "").trim();
}

/** The list's query from any parameters: known names, trimmed, defaults left out. */
function normalizedQuery(params) {
  const query = new URLSearchParams();
  for (const name of FILTER_NAMES) {
    const value = filterValue(params, name);
    if (value) query.set(name, value);
  }
  const searching = query.has("search");
  const ordering = params.get("ordering");
  const possible = ORDERINGS.has(ordering) && (searching || ordering !== SEARCH_ORDERING);
  if (possible && ordering !== defaultOrdering(searching)) query.set("ordering", ordering);
  return query;
}

function queryFromForm() {
  return normalizedQuery(new URLSearchParams(new FormData(form)));
}

/** The catalogue's address showing the books of `author` (the forgiving author filter). */
export function authorBooksPath(author) {
  return appPath(`?${new URLSearchParams({ author_name: author })}`);
}

/**
 * "Relevance" is in the sort control only while there is a search (the API refuses it
 * otherwise). The order follows the search: starting one turns the default order into
 * relevance, ending one turns relevance back into the default; an order the reader picked
 * stays.
 */
function offerRelevance(searching) {
  const wasSearching = !relevanceOption.disabled;
  if (searching && !wasSearching && orderingSelect.value === DEFAULT_ORDERING) {
    orderingSelect.value = SEARCH_ORDERING;
  }
  if (!searching && orderingSelect.value === SEARCH_ORDERING) {
    orderingSelect.value = DEFAULT_ORDERING;
  }
  relevanceOption.disabled = !searching;
  relevanceOption.hidden = !searching;
}

function fillForm(query) {
  for (const name of FILTER_NAMES) form.elements.namedItem(name).value = query.get(name) || "";
  const searching = query.has("search");
  relevanceOption.disabled = !searching;
  relevanceOption.hidden = !searching;
  orderingSelect.value = query.get("ordering") || defaultOrdering(searching);
  if (NARROWING_FILTER_NAMES.some((name) => query.has(name))) moreFilters.open = true;
}

function isFiltered(query) {
  return FILTER_NAMES.some((name) => query.has(name));
}

function setDocumentTitle(query) {
  const search = query.get("search");
  document.title = search ? `Search: ${search} – Bookstore` : "Catalogue – Bookstore";
}

function cardFor(book) {
  const card = cardTemplate.content.firstElementChild.cloneNode(true);
  const link = card.querySelector(".book-card__link");
  link.href = appPath(`books/${book.id}/`);
  link.textContent = book.title;
  link.dataset.bookId = String(book.id);
  const author = card.querySelector(".book-card__author");
  author.href = authorBooksPath(book.author);
  author.textContent = book.author;
  author.title = `Books by ${book.author}`;
  setPublicationDate(card.querySelector(".book-card__date"), book);
  card.querySelector(".book-card__summary").textContent = book.summary;
  return card;
}

function booksText(count) {
  return `${formatNumber(count)} book${count === 1 ? "" : "s"}`;
}

/** An estimate as people say it: two significant digits ("about 12,000"). */
function roughly(estimate) {
  return formatNumber(Number(estimate.toPrecision(2)));
}

/** The total the count gave: exact, "about" the planner's estimate, or at least its cap. */
function totalText(total) {
  if (total.exact) return booksText(total.count);
  if (total.estimate) return `about ${roughly(total.estimate)} books`;
  return `${formatNumber(total.count)}+ books`;
}

function statusText() {
  if (state.count === 0) return "";
  const found = isFiltered(state.query) ? ` found` : "";
  // The whole list is on screen: its length is the exact total.
  if (!state.nextPageUrl) return `${booksText(state.count)}${found}.`;
  if (!state.total) return `${booksText(state.count)}${found} so far; more below.`;
  return `${totalText(state.total)}${found}; showing ${formatNumber(state.count)}, more below.`;
}

function quoted(words) {
  return words.map((word) => `“${word}”`).join(", ");
}

/** What no book (that the filters let through) has: the search's ISBNs and words, as read. */
function notFoundTitle(search, narrowed) {
  const words = search?.words || [];
  const isbns = search?.isbns || [];
  const missing = [];
  if (isbns.length === 1) missing.push(`the ISBN ${isbns[0]}`);
  if (isbns.length > 1) missing.push(`any of the ISBNs ${isbns.join(", ")}`);
  if (words.length === 1) missing.push(`the word ${quoted(words)}`);
  if (words.length > 1) missing.push(`all of these words: ${quoted(words)}`);
  if (!missing.length) return "No books match your search.";
  return `No book ${narrowed ? "that fits the filters " : ""}has ${missing.join(", nor ")}.`;
}

/** The empty state's title and text: why nothing is listed, and what to try. */
function emptyExplanation(query, search) {
  const narrowed = NARROWING_FILTER_NAMES.some((name) => query.has(name));
  if (query.has("search")) {
    return {
      title: notFoundTitle(search, narrowed),
      text: narrowed
        ? "The author and date filters may be excluding books: " +
          "clear them to search the whole catalogue."
        : "Try fewer or different words, or clear the search.",
    };
  }
  if (narrowed) {
    return {
      title: "No books match these filters.",
      text: "Try another author or other dates, or clear the filters.",
    };
  }
  return { title: "The catalogue is empty.", text: "No books have been added yet." };
}

/** Says that the list shows similar spellings, and offers the API's correction as a search. */
function renderSimilar() {
  const similar = state.count > 0 && state.search?.similar === true;
  similarNotice.hidden = !similar;
  if (!similar) return;
  const text = byId("catalogue-similar-text");
  const lead = `No exact matches for “${state.query.get("search")}”. Showing similar books`;
  const correction = state.search.did_you_mean;
  if (!correction) {
    text.replaceChildren(`${lead}.`);
    return;
  }
  const params = new URLSearchParams(state.query);
  params.set("search", correction);
  const link = document.createElement("a");
  link.href = appPath(`?${normalizedQuery(params)}`);
  link.textContent = correction;
  text.replaceChildren(`${lead} — did you mean `, link, "?");
}

/** Shows what the state says: loading, results, the end, empty, or a failure. */
function renderState() {
  const failed = state.failure !== null;
  const retryable = failed && state.failure.kind !== "invalid";
  list.setAttribute("aria-busy", String(state.loading));
  loading.hidden = !state.loading;
  status.textContent = statusText();
  loadMoreButton.hidden = state.loading || !(retryable || (state.nextPageUrl && !failed));
  loadMoreButton.textContent = retryable ? "Try again" : "Load more books";
  listEnd.hidden = state.loading || failed || state.count === 0 || Boolean(state.nextPageUrl);
  const isEmpty =
    !state.loading && !failed && !state.reversed && state.count === 0 && state.shownKey !== null;
  empty.hidden = !isEmpty;
  clearButton.hidden = !isFiltered(state.query) || isEmpty; // the empty state has its own
  if (isEmpty) {
    const { title, text } = emptyExplanation(state.query, state.search);
    byId("catalogue-empty-title").textContent = title;
    byId("catalogue-empty-text").textContent = text;
    byId("catalogue-empty-clear").hidden = !isFiltered(state.query);
  }
}

function showFailure(error) {
  if (error.kind === "invalid") {
    const { firstInvalid } = showFormErrors(form, null, error.fieldErrors);
    if (firstInvalid && moreFilters.contains(firstInvalid)) moreFilters.open = true;
    errorBox.textContent = firstInvalid
      ? "Please check the search and filters."
      : Object.values(error.fieldErrors).join(" ");
  } else {
    errorBox.textContent = `Could not load the books. ${error.message}`;
  }
  errorBox.hidden = false;
}

async function fetchPage(request) {
  state.controller?.abort();
  const controller = new AbortController();
  state.controller = controller;
  state.loading = true;
  renderState();
  let page;
  try {
    page = await listBooks({ ...request, signal: controller.signal });
  } catch (error) {
    if (controller !== state.controller) return; // a newer list replaced this one
    state.loading = false;
    if (error.kind === "aborted") return;
    state.failure = error;
    showFailure(error);
    renderState();
    announce(errorBox.textContent);
    return;
  }
  if (controller !== state.controller) return;
  const isNextPage = Boolean(request.pageUrl);
  state.loading = false;
  state.failure = null;
  errorBox.hidden = true;
  clearFormErrors(form, null);
  list.append(...page.books.map(cardFor));
  state.count += page.books.length;
  state.nextPageUrl = page.nextPageUrl;
  if (!isNextPage) {
    state.search = page.search;
    renderSimilar();
  }
  renderState();
  if (isNextPage) {
    announce(`Loaded ${page.books.length} more. ${statusText()}`);
  } else if (state.count === 0) {
    const { title, text } = emptyExplanation(state.query, state.search);
    announce(`${title} ${text}`);
  } else {
    announce(similarNotice.hidden ? statusText() : `${similarNotice.textContent} ${statusText()}`);
  }
  // A tall screen may still show the end of the list: keep filling it.
  window.requestAnimationFrame(loadMoreIfNearEnd);
}

/** Replaces the list with the first page of `query`. */
function load(query) {
  state.query = query;
  state.shownKey = query.toString();
  state.stale = false;
  state.failure = null;
  state.search = null;
  state.count = 0;
  state.total = null;
  state.nextPageUrl = null;
  list.replaceChildren();
  errorBox.hidden = true;
  similarNotice.hidden = true;
  setDocumentTitle(query);
  state.reversed = isReversedRange(query);
  showRangeHint(query);
  if (state.reversed) {
    // No book is published both after and before: ask for nothing, say why.
    state.controller?.abort();
    state.countController?.abort();
    state.loading = false;
    renderState();
    announce(byId("catalogue-range-hint-text").textContent);
    return;
  }
  const apiQuery = new URLSearchParams(query);
  apiQuery.set("page_size", String(PAGE_SIZE));
  fetchPage({ query: apiQuery });
  fetchTotal(query);
}

/** Asks the API how many books `query` lists; the status shows it when it comes. */
async function fetchTotal(query) {
  state.countController?.abort();
  const controller = new AbortController();
  state.countController = controller;
  try {
    const total = await countBooks({ query, signal: controller.signal });
    if (controller !== state.countController) return;
    state.total = total;
    renderState();
  } catch {
    // A rate limit or a slow count: the list stands without its total, as before it came.
  }
}

/** Both dates given, and "on or after" later than "on or before" (ISO dates sort as text). */
function isReversedRange(query) {
  const after = query.get("published_after");
  const before = query.get("published_before");
  return Boolean(after && before && after > before);
}

function showRangeHint(query) {
  rangeHint.hidden = !state.reversed;
  if (!state.reversed) return;
  const after = formatDate(query.get("published_after"));
  const before = formatDate(query.get("published_before"));
  byId("catalogue-range-hint-text").textContent =
    `The dates are the wrong way round: no book is published on or after ${after} and also ` +
    `on or before ${before}. Swap them to see the books in between.`;
  moreFilters.open = true;
}

/** Exchanges the two dates, and lists the books between them. */
function swapDates() {
  const after = afterInput.value;
  afterInput.value = beforeInput.value;
  beforeInput.value = after;
  applyForm();
  afterInput.focus();
}

/**
 * A date control whose text is not a whole date gives the form "" (no filter): say so beside
 * it, in the control's own format, rather than list books unfiltered.
 */
function incompleteDateControl() {
  for (const control of [afterInput, beforeInput]) {
    const errorElement = byId(`${control.id}-error`);
    const incomplete = control.validity.badInput;
    errorElement.textContent = incomplete ? dateControlMessage() : "";
    errorElement.hidden = !incomplete;
    if (incomplete) control.setAttribute("aria-invalid", "true");
    else control.removeAttribute("aria-invalid");
  }
  return [afterInput, beforeInput].find((control) => control.validity.badInput) || null;
}

function loadMore() {
  if (section.hidden || state.loading || state.failure || !state.nextPageUrl) return;
  fetchPage({ pageUrl: state.nextPageUrl });
}

function loadMoreIfNearEnd() {
  if (section.hidden) return;
  if (sentinel.getBoundingClientRect().top < window.innerHeight + SCROLL_AHEAD_PX) loadMore();
}

/** Runs the search the form now describes, unless the list already shows it. */
function applyForm({ force = false } = {}) {
  window.clearTimeout(state.typingTimer);
  const query = queryFromForm();
  if (!force && query.toString() === state.shownKey && !state.failure) return;
  replaceQuery(query);
  load(query);
}

/** Empties the search and filters; the sort order stays. */
function clearSearchAndFilters() {
  for (const name of FILTER_NAMES) form.elements.namedItem(name).value = "";
  offerRelevance(false);
  applyForm();
  searchInput.focus();
}

form.addEventListener("input", (event) => {
  const control = event.target;
  if (control.type === "date" || control === orderingSelect) return; // see "change"
  if (control === searchInput) offerRelevance(searchInput.value.trim() !== "");
  window.clearTimeout(state.typingTimer);
  state.typingTimer = window.setTimeout(applyForm, TYPING_DELAY_MS);
});
form.addEventListener("change", (event) => {
  const control = event.target;
  if (control.type === "date" && incompleteDateControl()) return;
  if (control.type === "date" || control === orderingSelect) applyForm();
});
form.addEventListener("submit", (event) => {
  event.preventDefault();
  applyForm({ force: true });
});
clearButton.addEventListener("click", clearSearchAndFilters);
byId("catalogue-range-swap").addEventListener("click", swapDates);
byId("catalogue-empty-clear").addEventListener("click", clearSearchAndFilters);

loadMoreButton.addEventListener("click", () => {
  if (state.failure && state.count === 0 && !state.nextPageUrl) {
    load(state.query); // the first page failed: start again
    return;
  }
  state.failure = null;
  errorBox.hidden = true;
  loadMore();
});

list.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-book-id]");
  if (link) state.lastOpenedId = link.dataset.bookId;
});

new IntersectionObserver(
  (entries) => {
    if (entries.some((entry) => entry.isIntersecting)) loadMore();
  },
  { rootMargin: `0px 0px ${SCROLL_AHEAD_PX}px 0px` },
).observe(sentinel);

/** After a book was added, changed or deleted: the next visit loads the list afresh. */
export function markCatalogueStale() {
  state.stale = true;
}

export const catalogueView = {
  section,

  show(params, { url, focus, revisit }) {
    const query = normalizedQuery(url.searchParams);
    if (query.toString() !== url.searchParams.toString()) replaceQuery(query);
    const showing = query.toString() === state.shownKey && !state.stale && !state.failure;
    if (showing && revisit) return; // e.g. "Catalogue" clicked on the catalogue itself
    if (showing) {
      // Back from a book: the same list, scrolled where the reader left it.
      setDocumentTitle(query);
      window.scrollTo(0, state.scrollY);
      const opened = state.lastOpenedId
        ? list.querySelector(`a[data-book-id="${state.lastOpenedId}"]`)
        : null;
      if (focus) (opened || heading).focus({ preventScroll: true });
      return;
    }
    fillForm(query);
    window.scrollTo(0, 0);
    load(query);
    if (focus) heading.focus();
  },

  hide() {
    window.clearTimeout(state.typingTimer);
    state.scrollY = window.scrollY;
  },
};

// Adding and editing a book. The API judges the input: its 400 field errors show next to
// their fields. An edit sends the ETag it started from; if someone else saved in between the
// API answers 412 and the form offers to reload the latest version, listing what the person
// typed so it can be applied again. A failed save (rate limit, network, server) says why and
// keeps every field as typed; the text is also kept as a draft until it is saved or cancelled.

import { createBook, getBook, updateBook } from "../api.js";
import { announce, byId, focusTopNotice, queueFlash } from "../dom.js";
import { clearDraft, draftKey, loadDraft, saveDraft } from "../drafts.js";
import { clearFormErrors, showFormErrors } from "../form-errors.js";
import { appPath, currentPath, navigate, signInPath } from "../router.js";
import { isSignedIn } from "../session.js";
import { markCatalogueStale } from "./catalogue.js";

const FIELDS = ["title", "author", "publication_date", "isbn", "summary"];

const section = byId("view-form");
const heading = byId("form-heading");
const form = byId("book-form");
const errorSummary = byId("book-form-errors");
const loading = byId("form-loading");
const notice = byId("form-notice");
const noticeText = byId("form-notice-text");
const noticeSignIn = byId("form-notice-sign-in");
const conflict = byId("form-conflict");
const draftNotice = byId("form-draft-notice");
const previousEdits = byId("form-previous-edits");
const submitButton = byId("form-submit");
const backLink = byId("form-back");

const state = {
  id: null, // null: a new book
  original: null, // the book as last read from the API (edits only)
  etag: null, // the version a save must still find (If-Match)
  latestEtag: null, // the version last read, for when a restored draft is discarded
  saving: false,
  controller: null,
};

function readValues() {
  const values = {};
  for (const name of FIELDS) values[name] = form.elements.namedItem(name).value;
  return values;
}

function fill(values) {
  for (const name of FIELDS) form.elements.namedItem(name).value = values[name] ?? "";
}

function differs(values, book) {
  return FIELDS.some((name) => (values[name] ?? "") !== (book ? (book[name] ?? "") : ""));
}

function labelOf(name) {
  return document
    .querySelector(`label[for="${form.elements.namedItem(name).id}"]`)
    .textContent.replace(/\s*\(optional\)\s*$/, "");
}

function hideNotices() {
  notice.hidden = true;
  noticeSignIn.hidden = true;
  conflict.hidden = true;
  clearFormErrors(form, errorSummary);
}

function showNotice(message, { signInAgain = false } = {}) {
  noticeText.textContent = message;
  noticeSignIn.hidden = !signInAgain;
  byId("form-notice-sign-in-link").href = signInPath(currentPath());
  notice.hidden = false;
  focusTopNotice(notice);
}

/** After a 412: the fields the person changed from the version they started on, to re-apply. */
function listPreviousEdits(edits, startedFrom) {
  const rows = [];
  for (const name of FIELDS) {
    if ((edits[name] ?? "") === (startedFrom[name] ?? "")) continue;
    const term = document.createElement("dt");
    term.textContent = labelOf(name);
    const value = document.createElement("dd");
    value.textContent = edits[name] || "(empty)";
    rows.push(term, value);
  }
  byId("form-previous-edits-list").replaceChildren(...rows);
  previousEdits.hidden = rows.length === 0;
  previousEdits.open = rows.length > 0;
}

function rememberDraft() {
  saveDraft(draftKey(state.id), readValues(), state.etag);
}

function bookPath(id) {
  return appPath(`books/${id}/`);
}

/**
 * The date control holds a whole day; a book whose date is known to the year or month only is
 * stored as its first day. Its precision is sent back while the date is unchanged, so that
 * editing the title does not turn "1965" into "January 1, 1965"; a new date is a day.
 */
function withKnownPrecision(values) {
  const original = state.original;
  const precision = original?.publication_date_precision;
  if (!precision || values.publication_date !== original.publication_date) return values;
  return { ...values, publication_date_precision: precision };
}

async function save() {
  if (state.saving) return;
  state.saving = true;
  submitButton.disabled = true;
  submitButton.textContent = "Saving…";
  hideNotices();
  const values = readValues();
  try {
    const { book } = state.id
      ? await updateBook(state.id, withKnownPrecision(values), state.etag)
      : await createBook(values);
    clearDraft(draftKey(state.id));
    markCatalogueStale();
    queueFlash(state.id ? "Saved your changes." : `Added “${book.title}” to the catalogue.`);
    navigate(bookPath(book.id));
  } catch (error) {
    handleSaveError(error);
  } finally {
    state.saving = false;
    submitButton.disabled = false;
    submitButton.textContent = "Save";
  }
}

function handleSaveError(error) {
  switch (error.kind) {
    case "invalid": {
      const { count, firstInvalid } = showFormErrors(form, errorSummary, error.fieldErrors);
      announce(`${count} problem${count === 1 ? "" : "s"} to fix before saving.`);
      if (firstInvalid) firstInvalid.focus();
      else focusTopNotice(errorSummary);
      return;
    }
    case "conflict":
      conflict.hidden = false;
      focusTopNotice(conflict);
      return;
    case "unauthorized": // api.js has already forgotten the dead token
      showNotice("You are not signed in any more, so nothing was saved.", { signInAgain: true });
      return;
    case "not-found":
      showNotice(
        "This book has been deleted by someone else, so your changes could not be saved. " +
          "What you typed is still in the form if you want to copy it.",
      );
      return;
    default:
      // Rate limits, network failures, server errors: nothing typed is lost; try again later.
      showNotice(`Nothing was saved. ${error.message} Everything you typed is still here.`);
  }
}

async function reloadLatest() {
  const edits = readValues();
  const startedFrom = state.original;
  const reloadButton = byId("form-conflict-reload");
  reloadButton.disabled = true;
  try {
    const { book, etag } = await getBook(state.id);
    state.original = book;
    state.etag = etag;
    state.latestEtag = etag;
    fill(book);
    clearDraft(draftKey(state.id));
    hideNotices();
    draftNotice.hidden = true;
    listPreviousEdits(edits, startedFrom);
    heading.textContent = `Edit “${book.title}”`;
    announce("Loaded the latest version. Your edits that were not saved are listed above the form.");
    form.elements.namedItem("title").focus();
  } catch (error) {
    conflict.hidden = true;
    showNotice(`Could not reload the book. ${error.message}`);
  } finally {
    reloadButton.disabled = false;
  }
}

/** Opens the form on `values`, or on the unsaved draft if one is waiting. */
function start(values, original) {
  const draft = loadDraft(draftKey(state.id));
  if (draft && differs(draft.values, original)) {
    fill(draft.values);
    // A draft keeps the version it was started from: saving it still detects conflicts.
    if (state.id && draft.etag) state.etag = draft.etag;
    draftNotice.hidden = false;
  } else {
    fill(values);
  }
  form.hidden = false;
}

async function openEdit() {
  state.controller?.abort();
  const controller = new AbortController();
  state.controller = controller;
  loading.hidden = false;
  try {
    const { book, etag } = await getBook(state.id, { signal: controller.signal });
    if (controller !== state.controller) return;
    state.original = book;
    state.etag = etag;
    state.latestEtag = etag;
    heading.textContent = `Edit “${book.title}”`;
    document.title = `Edit ${book.title} – Bookstore`;
    start(book, book);
  } catch (error) {
    if (controller !== state.controller || error.kind === "aborted") return;
    heading.textContent = error.kind === "not-found" ? "Book not found" : "Could not load the book";
    showNotice(
      error.kind === "not-found" ? "There is no such book. It may have been deleted." : error.message,
    );
  } finally {
    if (controller === state.controller) loading.hidden = true;
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  save();
});
form.addEventListener("input", rememberDraft);
byId("form-conflict-reload").addEventListener("click", reloadLatest);
byId("form-cancel").addEventListener("click", () => {
  clearDraft(draftKey(state.id));
  navigate(state.id ? bookPath(state.id) : appPath());
});
byId("form-discard-draft").addEventListener("click", () => {
  clearDraft(draftKey(state.id));
  fill(state.original || {});
  state.etag = state.latestEtag;
  draftNotice.hidden = true;
  form.elements.namedItem("title").focus();
});

export const bookFormView = {
  section,

  show(params, { focus }) {
    if (!isSignedIn()) {
      queueFlash("Please sign in to add or edit books.", "info");
      navigate(signInPath(currentPath()), { replace: true });
      return;
    }
    state.id = params.id || null;
    state.original = null;
    state.etag = null;
    state.latestEtag = null;
    hideNotices();
    draftNotice.hidden = true;
    previousEdits.hidden = true;
    form.hidden = true;
    window.scrollTo(0, 0);
    backLink.href = state.id ? bookPath(state.id) : appPath();
    backLink.textContent = state.id ? "Back to the book" : "Back to the catalogue";
    if (state.id) {
      heading.textContent = "Edit book";
      document.title = "Edit book – Bookstore";
      openEdit();
    } else {
      heading.textContent = "Add a book";
      document.title = "Add a book – Bookstore";
      start({}, null);
    }
    if (focus) heading.focus();
  },

  hide() {
    state.controller?.abort();
  },
};

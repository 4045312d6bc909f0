// One book: its fields, and for a signed-in person Edit and Delete. Deleting asks first, in a
// modal dialog, and sends the ETag it read, so a book someone else just changed is not deleted
// unseen.

import { deleteBook, getBook } from "../api.js";
import {
  announce,
  byId,
  formatDateTime,
  queueFlash,
  setPublicationDate,
  setText,
  setTime,
  showMessage,
} from "../dom.js";
import { appPath, currentPath, navigate, signInPath } from "../router.js";
import { isSignedIn, may, onSessionChange } from "../session.js";
import { authorBooksPath, markCatalogueStale } from "./catalogue.js";

const section = byId("view-book");
const heading = byId("detail-heading");
const loading = byId("detail-loading");
const body = byId("detail-body");
const notice = byId("detail-notice");
const noticeText = byId("detail-notice-text");
const retryButton = byId("detail-retry");
const actions = byId("detail-actions");
const signInHint = byId("detail-sign-in-hint");
const dialog = byId("delete-dialog");
const dialogError = byId("delete-dialog-error");
const dialogErrorText = byId("delete-dialog-error-text");
const dialogReload = byId("delete-dialog-reload");
const confirmButton = byId("delete-confirm");

const state = { id: null, book: null, etag: null, controller: null };

function showAccountActions() {
  const signedIn = isSignedIn();
  // Only what the user may do: a reader signed in sees neither button.
  byId("detail-edit-link").hidden = !may("change");
  byId("detail-delete-button").hidden = !may("delete");
  actions.hidden = !may("change") && !may("delete");
  signInHint.hidden = signedIn;
  byId("detail-sign-in-link").href = signInPath(currentPath());
}

function showBook(book) {
  heading.textContent = book.title;
  document.title = `${book.title} – Bookstore`;
  const author = byId("detail-author");
  author.textContent = book.author;
  author.href = authorBooksPath(book.author);
  author.title = `Books by ${book.author}`;
  setPublicationDate(byId("detail-published"), book);
  // Hyphenated by the API (an older server sends the 13 digits only).
  setText("detail-isbn", book.isbn_display || book.isbn);
  setTime(byId("detail-created"), book.created_at, formatDateTime);
  setTime(byId("detail-updated"), book.updated_at, formatDateTime);
  const summary = byId("detail-summary");
  const paragraphs = book.summary.split(/\n\s*\n/).filter((text) => text.trim());
  if (paragraphs.length) {
    summary.replaceChildren(
      ...paragraphs.map((text) => {
        const paragraph = document.createElement("p");
        paragraph.textContent = text.trim();
        return paragraph;
      }),
    );
  } else {
    const none = document.createElement("p");
    none.className = "hint";
    none.textContent = "No summary yet.";
    summary.replaceChildren(none);
  }
  byId("detail-edit-link").href = appPath(`books/${book.id}/edit/`);
  showAccountActions();
  body.hidden = false;
}

async function load() {
  state.controller?.abort();
  const controller = new AbortController();
  state.controller = controller;
  notice.hidden = true;
  body.hidden = true;
  loading.hidden = false;
  heading.textContent = "Loading the book…";
  try {
    const { book, etag } = await getBook(state.id, { signal: controller.signal });
    if (controller !== state.controller) return;
    state.book = book;
    state.etag = etag;
    showBook(book);
  } catch (error) {
    if (controller !== state.controller || error.kind === "aborted") return;
    const gone = error.kind === "not-found";
    heading.textContent = gone ? "Book not found" : "Could not load the book";
    document.title = `${heading.textContent} – Bookstore`;
    noticeText.textContent = gone
      ? "There is no such book. It may have been deleted."
      : error.message;
    retryButton.hidden = gone;
    notice.hidden = false;
    announce(`${heading.textContent}. ${noticeText.textContent}`);
  } finally {
    if (controller === state.controller) loading.hidden = true;
  }
}

function openDeleteDialog() {
  if (!state.book) return;
  setText("delete-dialog-title", state.book.title);
  dialogError.hidden = true;
  dialogReload.hidden = true;
  confirmButton.disabled = false;
  dialog.showModal();
  byId("delete-cancel").focus(); // the safe choice first
}

function showDeleteError(message, { offerReload = false } = {}) {
  showMessage(dialogErrorText, message);
  dialogReload.hidden = !offerReload;
  dialogError.hidden = false;
}

async function confirmDelete() {
  confirmButton.disabled = true;
  confirmButton.textContent = "Deleting…";
  let stale = false; // after a 412, deleting again needs the latest version first
  try {
    await deleteBook(state.id, state.etag);
  } catch (error) {
    if (error.kind === "not-found") {
      // Someone deleted it first: the outcome the person wanted.
      dialog.close();
      markCatalogueStale();
      queueFlash(`“${state.book.title}” had already been deleted.`, "info");
      navigate(appPath());
      return;
    }
    if (error.kind === "conflict") {
      stale = true;
      showDeleteError(
        "Someone else changed this book since you opened it, so it was not deleted. " +
          "Reload it to see the changes, then decide.",
        { offerReload: true },
      );
    } else if (error.kind === "unauthorized") {
      showDeleteError("You are not signed in any more, so the book was not deleted. Sign in again.");
    } else {
      showDeleteError(`The book was not deleted. ${error.message}`);
    }
    return;
  } finally {
    confirmButton.disabled = stale;
    confirmButton.textContent = "Delete";
  }
  dialog.close();
  markCatalogueStale();
  queueFlash(`Deleted “${state.book.title}”.`);
  navigate(appPath());
}

byId("detail-delete-button").addEventListener("click", openDeleteDialog);
byId("delete-cancel").addEventListener("click", () => dialog.close());
confirmButton.addEventListener("click", confirmDelete);
dialogReload.addEventListener("click", () => {
  dialog.close();
  load().then(() => heading.focus());
});
dialog.addEventListener("close", () => {
  if (!section.hidden && !body.hidden) byId("detail-delete-button").focus();
});
retryButton.addEventListener("click", () => load());

onSessionChange(() => {
  if (!section.hidden && state.book) showAccountActions();
});

export const bookView = {
  section,

  show(params, { focus }) {
    state.id = params.id;
    state.book = null;
    state.etag = null;
    window.scrollTo(0, 0);
    const loaded = load();
    if (focus) heading.focus();
    return loaded;
  },

  hide() {
    state.controller?.abort();
    if (dialog.open) dialog.close();
  },
};

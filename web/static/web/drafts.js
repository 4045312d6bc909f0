// Unsaved form text, kept in sessionStorage while the person types, so that nothing is lost
// to a failed save, an expired sign-in, a reload or a wrong click: the form offers it back.
// A draft of an edit remembers the ETag of the version it started from, so saving it later
// still detects that someone else changed the book meanwhile.

const PREFIX = "bookstore.draft.";

export function draftKey(bookId) {
  return bookId ? `book-${bookId}` : "new-book";
}

export function saveDraft(key, values, etag) {
  try {
    window.sessionStorage.setItem(PREFIX + key, JSON.stringify({ values, etag }));
  } catch {
    // Storage full or disabled: the text is still in the form.
  }
}

/** {values, etag} or null. */
export function loadDraft(key) {
  try {
    const stored = JSON.parse(window.sessionStorage.getItem(PREFIX + key));
    if (stored && typeof stored.values === "object" && stored.values !== null) return stored;
  } catch {
    // Nothing usable stored.
  }
  return null;
}

export function clearDraft(key) {
  try {
    window.sessionStorage.removeItem(PREFIX + key);
  } catch {
    // Nothing was stored.
  }
}

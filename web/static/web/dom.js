// Small helpers every view shares: finding elements, announcing to screen readers, the
// one-line message shown after a navigation, and how dates read.

export function byId(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`The page has no #${id}.`);
  return element;
}

const announcer = byId("announcer");
const flashRegion = byId("flash");
let pendingFlash = null;

/** Says `message` to screen-reader users without moving their focus. */
export function announce(message) {
  // Clearing first makes a repeated message be read again.
  announcer.textContent = "";
  window.setTimeout(() => {
    announcer.textContent = message;
  }, 50);
}

/** A message to show at the top of the next page, e.g. "Saved." after a save navigates. */
export function queueFlash(message, tone = "success") {
  pendingFlash = { message, tone };
}

/** Shows the queued message, or clears the last one: called once per navigation. */
export function renderFlash() {
  flashRegion.replaceChildren();
  flashRegion.className = "flash";
  if (!pendingFlash) return;
  const text = document.createElement("p");
  text.textContent = pendingFlash.message;
  flashRegion.append(text);
  flashRegion.classList.add("flash--visible", `flash--${pendingFlash.tone}`);
  pendingFlash = null;
}

export function setText(id, text) {
  byId(id).textContent = text;
}

/** Shows an element with a message, or hides it when `message` is empty. */
export function showMessage(element, message) {
  element.textContent = message || "";
  element.hidden = !message;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "long", timeZone: "UTC" });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
  dateStyle: "medium",
  timeStyle: "short",
});

/** "2001-02-03" (a calendar date, no time zone) as the reader's locale writes it. */
export function formatDate(isoDate) {
  const date = new Date(`${isoDate}T00:00:00Z`);
  return Number.isNaN(date.getTime()) ? isoDate : dateFormat.format(date);
}

export function formatDateTime(isoDateTime) {
  const date = new Date(isoDateTime);
  return Number.isNaN(date.getTime()) ? isoDateTime : dateTimeFormat.format(date);
}

/** Fills a <time> element: readable text, machine-readable datetime. */
export function setTime(element, value, format) {
  element.dateTime = value || "";
  element.textContent = value ? format(value) : "";
}

/** Focuses a message at the top of a view, scrolled so the view's heading is in sight too. */
export function focusTopNotice(element) {
  window.scrollTo(0, 0);
  element.focus({ preventScroll: true });
}

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

const monthFormat = new Intl.DateTimeFormat(undefined, {
  month: "long",
  year: "numeric",
  timeZone: "UTC",
});

/**
 * A publication date as much as is known of it: the API's `publication_date_precision` says
 * whether the date is a day, or the first of its month or year ("1965", not "January 1,
 * 1965"). A book without the field (an older server) is a day.
 */
export function publicationDate(book) {
  const value = book.publication_date || "";
  const precision = book.publication_date_precision || "day";
  const date = new Date(`${value}T00:00:00Z`);
  if (!value || Number.isNaN(date.getTime())) return { text: value, dateTime: value };
  if (precision === "year") return { text: value.slice(0, 4), dateTime: value.slice(0, 4) };
  if (precision === "month") return { text: monthFormat.format(date), dateTime: value.slice(0, 7) };
  return { text: dateFormat.format(date), dateTime: value };
}

/** Fills a <time> element with a book's publication date, as publicationDate() writes it. */
export function setPublicationDate(element, book) {
  const { text, dateTime } = publicationDate(book);
  element.dateTime = dateTime;
  element.textContent = text;
}

/**
 * How the reader's browser shows a date control's parts, e.g. "mm/dd/yyyy" or "dd.mm.yyyy":
 * the order and separators of their locale, which the control follows. Messages about a date
 * say this, not the API's YYYY-MM-DD, which the control never shows.
 */
export function dateControlPattern() {
  const parts = new Intl.DateTimeFormat(undefined, {
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    timeZone: "UTC",
  }).formatToParts(new Date(Date.UTC(2001, 1, 3)));
  const names = { year: "yyyy", month: "mm", day: "dd" };
  return parts.map((part) => names[part.type] ?? part.value).join("");
}

/** What to do about a date control that holds no whole date. */
export function dateControlMessage() {
  return `Enter a whole date as ${dateControlPattern()}, or pick one from the calendar.`;
}

const numberFormat = new Intl.NumberFormat();

/** 1234 as the reader's locale writes it ("1,234"). */
export function formatNumber(number) {
  return numberFormat.format(number);
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

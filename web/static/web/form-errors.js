// The API's 400 field errors on a form: each message next to its field (which is marked
// invalid for assistive technology) and all of them in a summary whose links focus the field.
// A field's message element is the one with id "<field id>-error".

import { dateControlMessage } from "./dom.js";

function errorElementFor(control) {
  return control.id ? document.getElementById(`${control.id}-error`) : null;
}

function labelFor(control) {
  const label = control.id ? document.querySelector(`label[for="${control.id}"]`) : null;
  return label ? label.textContent.replace(/\s*\(optional\)\s*$/, "").trim() : control.name;
}

export function clearFormErrors(form, summary) {
  for (const control of form.elements) {
    if (!control.name) continue;
    control.removeAttribute("aria-invalid");
    const errorElement = errorElementFor(control);
    if (errorElement) {
      errorElement.textContent = "";
      errorElement.hidden = true;
    }
  }
  if (summary) {
    summary.querySelector("ul").replaceChildren();
    summary.hidden = true;
  }
}

/**
 * The API's message as it reads beside `control`: the API names its own date format
 * (YYYY-MM-DD), which a date control never shows the reader; they get the control's.
 */
function messageFor(control, message) {
  return control.type === "date" && /YYYY/.test(message) ? dateControlMessage() : message;
}

function summaryLink(control, text) {
  const link = document.createElement("a");
  link.href = `#${control.id}`;
  link.textContent = text;
  link.addEventListener("click", (event) => {
    event.preventDefault();
    control.focus();
  });
  return link;
}

/**
 * Shows `fieldErrors` ({field name: message}). Messages for names the form has no field for
 * (non_field_errors, anything unexpected) appear in the summary only. Returns the messages'
 * count and the first field marked invalid.
 */
export function showFormErrors(form, summary, fieldErrors) {
  clearFormErrors(form, summary);
  const items = [];
  let firstInvalid = null;
  for (const [name, message] of Object.entries(fieldErrors)) {
    const control = name === "non_field_errors" ? null : form.elements.namedItem(name);
    const errorElement = control ? errorElementFor(control) : null;
    const item = document.createElement("li");
    if (control && errorElement) {
      const shown = messageFor(control, message);
      control.setAttribute("aria-invalid", "true");
      errorElement.textContent = shown;
      errorElement.hidden = false;
      firstInvalid = firstInvalid || control;
      item.append(summaryLink(control, `${labelFor(control)}: ${shown}`));
    } else {
      item.textContent = name === "non_field_errors" ? message : `${name}: ${message}`;
    }
    items.push(item);
  }
  if (summary && items.length) {
    summary.querySelector("ul").replaceChildren(...items);
    summary.hidden = false;
  }
  return { count: items.length, firstInvalid };
}

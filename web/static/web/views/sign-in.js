// Signing in: a username and password are exchanged for an API token (POST /auth/token/),
// which is remembered until the person signs out. Afterwards the person goes back to where
// they came from (the `next` parameter), or to the catalogue.

import { obtainToken } from "../api.js";
import { byId, queueFlash } from "../dom.js";
import { clearFormErrors, showFormErrors } from "../form-errors.js";
import { navigate, safeReturnPath } from "../router.js";
import { rememberSignIn } from "../session.js";

const section = byId("view-sign-in");
const heading = byId("sign-in-heading");
const form = byId("sign-in-form");
const errorSummary = byId("sign-in-errors");
const submitButton = byId("sign-in-submit");
const reason = byId("sign-in-reason");

const state = { returnTo: null, busy: false };

async function signIn() {
  if (state.busy) return;
  const username = form.elements.namedItem("username").value.trim();
  const password = form.elements.namedItem("password").value;
  state.busy = true;
  submitButton.disabled = true;
  submitButton.textContent = "Signing in…";
  clearFormErrors(form, errorSummary);
  try {
    const token = await obtainToken(username, password);
    rememberSignIn(token, username);
    form.reset();
    queueFlash(`Signed in as ${username}.`);
    navigate(safeReturnPath(state.returnTo));
  } catch (error) {
    const fieldErrors =
      error.kind === "invalid" ? error.fieldErrors : { non_field_errors: error.message };
    const { firstInvalid } = showFormErrors(form, errorSummary, fieldErrors);
    (firstInvalid || errorSummary).focus();
  } finally {
    state.busy = false;
    submitButton.disabled = false;
    submitButton.textContent = "Sign in";
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  signIn();
});

export const signInView = {
  section,

  show(params, { url, focus }) {
    state.returnTo = url.searchParams.get("next");
    reason.hidden = !state.returnTo;
    document.title = "Sign in – Bookstore";
    clearFormErrors(form, errorSummary);
    window.scrollTo(0, 0);
    if (focus) heading.focus();
  },

  hide() {
    // A password is not left behind in a hidden form.
    form.elements.namedItem("password").value = "";
  },
};

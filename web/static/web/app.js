// The store's web app: the header's account controls and the routes to each view.

import { refreshPermissions, revokeToken } from "./api.js";
import { byId, queueFlash, renderFlash } from "./dom.js";
import {
  addRoute,
  appPath,
  currentPath,
  navigate,
  onNavigate,
  setNotFoundView,
  signInPath,
  startRouter,
} from "./router.js";
import {
  getPermissions,
  getToken,
  getUsername,
  isSignedIn,
  may,
  onSessionChange,
  signOut,
} from "./session.js";
import { bookView } from "./views/book.js";
import { bookFormView } from "./views/book-form.js";
import { catalogueView } from "./views/catalogue.js";
import { signInView } from "./views/sign-in.js";

const notFoundView = {
  section: byId("view-not-found"),
  show(params, { focus }) {
    document.title = "Page not found – Bookstore";
    if (focus) byId("not-found-heading").focus();
  },
  hide() {},
};

const signInLink = byId("sign-in-link");

let askingPermissions = false;

/** Signed in without knowing what the user may do (just signed in, or an older session). */
function askPermissionsIfUnknown() {
  if (!isSignedIn() || getPermissions() !== null || askingPermissions) return;
  askingPermissions = true;
  refreshPermissions()
    .catch(() => {}) // the buttons stay hidden; the next sign-in asks again
    .finally(() => {
      askingPermissions = false;
    });
}

function showAccount() {
  const signedIn = isSignedIn();
  askPermissionsIfUnknown();
  byId("add-book-link").hidden = !may("add");
  byId("signed-in-as").hidden = !signedIn;
  byId("sign-out-button").hidden = !signedIn;
  // On the sign-in page itself the link would lead nowhere new.
  signInLink.hidden = signedIn || window.location.pathname === appPath("sign-in/");
  byId("signed-in-name").textContent = getUsername();
}

// "Sign in" comes back to the page it was clicked on.
signInLink.addEventListener("click", () => {
  signInLink.href = signInPath(currentPath());
});

byId("sign-out-button").addEventListener("click", () => {
  const token = getToken();
  // Signed out here at once; the server forgets the token in the background.
  signOut();
  if (token) revokeToken(token);
  queueFlash("You are signed out.", "info");
  // A form needs a signed-in person; every other page stays and just loses its edit buttons.
  if (/\/(new|edit)\/$/.test(window.location.pathname)) navigate(appPath());
  else renderFlash();
  (signInLink.hidden ? byId("main") : signInLink).focus();
});

onSessionChange(showAccount);
onNavigate(showAccount);

addRoute(/^$/, catalogueView);
addRoute(/^books\/new\/$/, bookFormView);
addRoute(/^books\/(?<id>\d+)\/$/, bookView);
addRoute(/^books\/(?<id>\d+)\/edit\/$/, bookFormView);
addRoute(/^sign-in\/$/, signInView);
setNotFoundView(notFoundView);
startRouter();

// Who is signed in: the API token and the name it was obtained with, kept in localStorage so a
// reload (or another tab) stays signed in. Signing out forgets both.

const TOKEN_KEY = "bookstore.token";
const USERNAME_KEY = "bookstore.username";
// What the signed-in user may do with books ({add, change, delete}), from /books/permissions/.
const PERMISSIONS_KEY = "bookstore.permissions";

const listeners = new Set();

function read(key) {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null; // storage disabled (private mode, policy): behave as signed out
  }
}

function notify() {
  for (const listener of listeners) listener();
}

export function getToken() {
  return read(TOKEN_KEY);
}

export function getUsername() {
  return read(USERNAME_KEY) || "";
}

export function isSignedIn() {
  return Boolean(getToken());
}

/** The signed-in user's permissions on books, or null while they are not known yet. */
export function getPermissions() {
  try {
    const permissions = JSON.parse(read(PERMISSIONS_KEY) || "null");
    return permissions && typeof permissions === "object" ? permissions : null;
  } catch {
    return null;
  }
}

/** Whether the signed-in user may `action` ("add", "change" or "delete") books. */
export function may(action) {
  const permissions = getPermissions();
  return isSignedIn() && permissions !== null && permissions[action] === true;
}

export function rememberPermissions(permissions) {
  try {
    window.localStorage.setItem(PERMISSIONS_KEY, JSON.stringify(permissions));
  } catch {
    // Without storage the buttons stay hidden; the API still decides every write.
  }
  notify();
}

export function rememberSignIn(token, username) {
  try {
    window.localStorage.setItem(TOKEN_KEY, token);
    window.localStorage.setItem(USERNAME_KEY, username);
    window.localStorage.removeItem(PERMISSIONS_KEY); // another user's: asked again
  } catch {
    // Without storage the token cannot outlive this page; there is nothing better to do.
  }
  notify();
}

export function signOut() {
  try {
    window.localStorage.removeItem(TOKEN_KEY);
    window.localStorage.removeItem(USERNAME_KEY);
    window.localStorage.removeItem(PERMISSIONS_KEY);
  } catch {
    // Nothing was stored.
  }
  notify();
}

export function onSessionChange(listener) {
  listeners.add(listener);
}

// Signing in or out in another tab changes this one too.
window.addEventListener("storage", (event) => {
  if (event.key === TOKEN_KEY || event.key === PERMISSIONS_KEY || event.key === null) notify();
});

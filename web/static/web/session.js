// Who is signed in: the API token and the name it was obtained with, kept in localStorage so a
// reload (or another tab) stays signed in. Signing out forgets both.

const TOKEN_KEY = "bookstore.token";
const USERNAME_KEY = "bookstore.username";

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

export function rememberSignIn(token, username) {
  try {
    window.localStorage.setItem(TOKEN_KEY, token);
    window.localStorage.setItem(USERNAME_KEY, username);
  } catch {
    // Without storage the token cannot outlive this page; there is nothing better to do.
  }
  notify();
}

export function signOut() {
  try {
    window.localStorage.removeItem(TOKEN_KEY);
    window.localStorage.removeItem(USERNAME_KEY);
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
  if (event.key === TOKEN_KEY || event.key === null) notify();
});

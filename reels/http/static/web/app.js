// The web client's shell: the navigation, the signed-in viewer, the notifications stream
// (open while signed in, so the badge counts what arrives on any page) and a hash router, so
// every page is one static file served at `/`.

import { gql, setToken, subscribe, token } from "./api.js";
import { h, link } from "./dom.js";
import { homeFeed } from "./feed.js";
import {
  hashtagPage,
  moderationPage,
  notificationsPage,
  profilePage,
  reelPage,
  searchPage,
  signInPage,
  soundPage,
} from "./pages.js";
import { uploadPage } from "./upload.js";

const VIEWER = "query Viewer { viewer { id username role unreadNotificationCount } }";
const NOTIFICATIONS = `subscription Notifications { notifications {
  id kind readAt createdAt actor { username } reel { id caption } } }`;

const main = document.getElementById("main");
const nav = document.getElementById("nav");
let viewer = null;
let current = null;
// The badge: unread when the viewer loaded, plus what arrived live since (the page reads the inbox).
const received = { unread: 0, listener: null, stop: null };

function navLink(href, text, extra = {}) {
  const here = location.hash.split("?")[0] === href || (href === "#/" && !location.hash);
  return link(href, text, { "aria-current": here ? "page" : false, ...extra });
}

function renderNav() {
  const badge = received.unread
    ? h("span", { class: "badge", "aria-label": `${received.unread} new` }, String(received.unread))
    : null;
  nav.replaceChildren(
    h(
      "ul",
      {},
      h("li", {}, navLink("#/", "For you")),
      h("li", {}, navLink("#/search", "Search")),
      h("li", {}, navLink("#/upload", "Upload")),
      h("li", {}, navLink("#/notifications", "Notifications"), badge),
      viewer && viewer.role !== "USER" ? h("li", {}, navLink("#/moderation", "Moderation")) : null,
      viewer
        ? h("li", {}, navLink(`#/u/${encodeURIComponent(viewer.username)}`, `@${viewer.username}`, { class: "me" }))
        : h("li", {}, navLink("#/sign-in", "Sign in")),
    ),
  );
}

function listenForNotifications() {
  received.stop?.();
  received.stop = null;
  received.unread = viewer?.unreadNotificationCount ?? 0;
  if (!viewer) return;
  received.stop = subscribe(NOTIFICATIONS, {}, (data) => {
    if (received.listener) received.listener(data.notifications);
    else received.unread += 1;
    renderNav();
  });
}

async function loadViewer() {
  viewer = token() ? (await gql(VIEWER).catch(() => ({ viewer: null }))).viewer : null;
  if (!viewer && token()) setToken(null); // expired or revoked
  listenForNotifications();
  renderNav();
}

function signOut() {
  setToken(null);
  viewer = null;
  listenForNotifications();
  location.hash = "#/";
  renderNav();
}

async function pageFor(path, params) {
  const [, section = "", argument = ""] = path.split("/");
  const value = decodeURIComponent(argument);
  switch (section) {
    case "":
      return homeFeed();
    case "reel":
      return reelPage(value);
    case "sign-in":
      return signInPage(async () => {
        await loadViewer();
        location.hash = "#/";
      });
    case "upload":
      return token()
        ? uploadPage({ audioId: params.get("audio") })
        : signInPage(async () => {
            await loadViewer();
            route();
          });
    case "u":
      return profilePage(value, viewer?.username === value ? signOut : null);
    case "tag":
      return hashtagPage(value);
    case "sound":
      return soundPage(value);
    case "search":
      return searchPage(params.get("q") ?? "");
    case "notifications":
      received.unread = 0;
      return notificationsPage(received);
    case "moderation":
      return moderationPage(viewer);
    default:
      return h("section", { class: "page" }, h("h1", {}, "Not found"), link("#/", "Back to the feed"));
  }
}

async function route() {
  if (location.hash && !location.hash.startsWith("#/")) return; // an in-page anchor, e.g. the skip link
  const [path, query = ""] = (location.hash.slice(1) || "/").split("?");
  current?.close?.();
  received.listener = null;
  const shown = await pageFor(path, new URLSearchParams(query));
  current = shown;
  main.replaceChildren(shown.root ?? shown);
  document.body.dataset.page = path.split("/")[1] || "feed";
  renderNav();
  // Move focus to the new page, so keyboard and screen-reader users start there.
  const heading = main.querySelector("h1");
  heading?.setAttribute("tabindex", "-1");
  (heading ?? main.querySelector(".reel"))?.focus({ preventScroll: true });
}

window.addEventListener("hashchange", route);
await loadViewer();
await route();

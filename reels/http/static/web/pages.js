// The pages besides the feed and the upload page: sign in, a profile, a hashtag, a sound,
// search, notifications and the moderators' report queue. Each is a function answering a node.

import { gql, mutate, setToken, token } from "./api.js";
import { compact, counted, h, link, message } from "./dom.js";
import { REEL_FIELDS, singleReelFeed } from "./feed.js";

const TILE_FIELDS = "id caption thumbnailUrl status counts { views }";
const AUTH_FIELDS = "token user { id username role } userErrors { message }";
const REGISTER = `mutation Register($input: RegisterInput!) { register(input: $input) { ${AUTH_FIELDS} } }`;
const LOGIN = `mutation Login($input: LoginInput!) { login(input: $input) { ${AUTH_FIELDS} } }`;
const REEL = `query Reel($id: ID!) { reel(id: $id) { ${REEL_FIELDS} } }`;
const PROFILE = `query Profile($username: String!) { user(username: $username) {
  id username displayName followerCount followingCount viewerIsFollowing
  reels(first: 60) { edges { node { ${TILE_FIELDS} } } } } }`;
const FOLLOW = `mutation Follow($input: UserInput!) { follow(input: $input) {
  user { id viewerIsFollowing followerCount } userErrors { message } } }`;
const UNFOLLOW = `mutation Unfollow($input: UserInput!) { unfollow(input: $input) {
  user { id viewerIsFollowing followerCount } userErrors { message } } }`;
const HASHTAG = `query Hashtag($name: String!) { hashtag(name: $name) {
  name reelCount reels(first: 60) { edges { node { ${TILE_FIELDS} } } } } }`;
const SOUND = `query Sound($id: ID!) { node(id: $id) { ... on Audio {
  id title useCount originalReel { id creator { username } }
  reels(first: 60) { edges { node { ${TILE_FIELDS} } } } } } }`;
const SEARCH = `query Search($query: String!) { search(query: $query) {
  users(first: 10) { username displayName followerCount }
  hashtags(first: 10) { name reelCount }
  audio(first: 10) { id title useCount } } }`;
const NOTIFICATION_FIELDS = "id kind readAt createdAt actor { username } reel { id caption }";
const INBOX = `query Inbox { notifications(first: 50) { edges { node { ${NOTIFICATION_FIELDS} } } } }`;
const MARK_READ = `mutation MarkRead($input: MarkNotificationsReadInput!) {
  markNotificationsRead(input: $input) { notifications { id } userErrors { message } } }`;
const REPORTS = `query Reports($status: ReportStatus) { reports(status: $status, first: 50) { edges { node {
  id reason details status createdAt reporter { username }
  reel { id caption status statusReason thumbnailUrl creator { username } } } } } }`;
const MODERATE = `mutation Moderate($input: ModerateReelInput!) { moderateReel(input: $input) {
  reel { id status statusReason } userErrors { message } } }`;
const RESOLVE = `mutation Resolve($input: ResolveReportInput!) { resolveReport(input: $input) {
  report { id status } userErrors { message } } }`;

function page(className, title, ...content) {
  return h("section", { class: `page ${className}` }, h("h1", {}, title), ...content);
}

function failure(error) {
  return page("error-page", "Something went wrong", message(error.message, "error"));
}

function grid(edges, label) {
  if (!edges.length) return message("No reels yet.");
  return h(
    "ul",
    { class: "grid", "aria-label": label },
    edges.map(({ node }) =>
      h(
        "li",
        {},
        h(
          "a",
          {
            href: `#/reel/${encodeURIComponent(node.id)}`,
            class: "tile",
            "aria-label": node.caption || "untitled reel",
          },
          node.thumbnailUrl
            ? h("img", { src: node.thumbnailUrl, alt: "", loading: "lazy" })
            : h("span", { class: "no-thumb" }, node.status),
          h("span", { class: "tile-views" }, `▶ ${compact(node.counts.views)}`),
        ),
      ),
    ),
  );
}

export function signInPage(onSignedIn) {
  const username = h("input", { name: "username", autocomplete: "username", required: true });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const output = h("div", { "aria-live": "polite" });
  const form = h(
    "form",
    { class: "sign-in-form", "aria-label": "Sign in or create an account" },
    h("label", {}, "Username ", username),
    h("label", {}, "Password ", password),
    h(
      "div",
      { class: "buttons" },
      h("button", { type: "submit", value: "login" }, "Sign in"),
      h("button", { type: "submit", value: "register", class: "secondary" }, "Create account"),
    ),
    output,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const register = event.submitter?.value === "register";
    const input = { username: username.value, password: password.value };
    try {
      const payload = await mutate(register ? REGISTER : LOGIN, { input }, register ? "register" : "login");
      setToken(payload.token);
      onSignedIn(payload.user);
    } catch (error) {
      output.replaceChildren(message(error.message, "error"));
    }
  });
  return page("sign-in-page", "Sign in", form);
}

export async function reelPage(id) {
  try {
    const { reel } = await gql(REEL, { id });
    if (!reel) return page("missing", "Reel not found", message("It was removed, or it is not visible to you."));
    return singleReelFeed(reel);
  } catch (error) {
    return failure(error);
  }
}

// `signOut` is given on the viewer's own profile, which is where signing out lives.
export async function profilePage(username, signOut = null) {
  try {
    const { user } = await gql(PROFILE, { username });
    if (!user) return page("missing", "No such user", message(`Nobody is called ${username}.`));
    const followers = h("span", {}, counted(user.followerCount, "follower"));
    const follow = h(
      "button",
      { type: "button", "aria-pressed": String(user.viewerIsFollowing) },
      user.viewerIsFollowing ? "Following" : "Follow",
    );
    follow.addEventListener("click", async () => {
      if (!token()) return void (location.hash = "#/sign-in");
      const following = follow.getAttribute("aria-pressed") === "true";
      try {
        const payload = await mutate(
          following ? UNFOLLOW : FOLLOW,
          { input: { userId: user.id } },
          following ? "unfollow" : "follow",
        );
        follow.setAttribute("aria-pressed", String(payload.user.viewerIsFollowing));
        follow.textContent = payload.user.viewerIsFollowing ? "Following" : "Follow";
        followers.textContent = counted(payload.user.followerCount, "follower");
      } catch (error) {
        follow.after(message(error.message, "error"));
      }
    });
    return page(
      "profile-page",
      user.displayName || user.username,
      h("p", { class: "handle" }, `@${user.username}`),
      h("p", { class: "stats" }, followers, ` · ${compact(user.followingCount)} following`),
      signOut ? h("button", { type: "button", class: "secondary", onclick: signOut }, "Sign out") : follow,
      grid(user.reels.edges, `Reels by ${user.username}`),
    );
  } catch (error) {
    return failure(error);
  }
}

export async function hashtagPage(name) {
  try {
    const { hashtag } = await gql(HASHTAG, { name });
    if (!hashtag) return page("missing", `#${name}`, message("No reel has this hashtag yet."));
    return page(
      "hashtag-page",
      `#${hashtag.name}`,
      h("p", {}, counted(hashtag.reelCount, "reel")),
      grid(hashtag.reels.edges, `Reels tagged ${hashtag.name}`),
    );
  } catch (error) {
    return failure(error);
  }
}

export async function soundPage(id) {
  try {
    const { node: audio } = await gql(SOUND, { id });
    if (!audio?.title) return page("missing", "Sound not found", message("This sound is not available."));
    const original = audio.originalReel;
    return page(
      "sound-page",
      `♫ ${audio.title}`,
      h(
        "p",
        {},
        `Used in ${counted(audio.useCount, "reel")}`,
        original
          ? [
              " · original by ",
              link(`#/u/${encodeURIComponent(original.creator.username)}`, `@${original.creator.username}`),
            ]
          : null,
      ),
      link(`#/upload?audio=${encodeURIComponent(audio.id)}`, "Use this sound", { class: "button" }),
      grid(audio.reels.edges, `Reels with ${audio.title}`),
    );
  } catch (error) {
    return failure(error);
  }
}

export function searchPage(initial) {
  const input = h("input", {
    type: "search",
    name: "q",
    value: initial,
    required: true,
    "aria-label": "Search people, hashtags and sounds",
  });
  const results = h("div", { class: "results", "aria-live": "polite" });
  const form = h("form", { role: "search", class: "search-form" }, input, h("button", { type: "submit" }, "Search"));
  async function run(query) {
    try {
      const { search } = await gql(SEARCH, { query });
      const section = (title, items) =>
        h("section", {}, h("h2", {}, title), items.length ? h("ul", {}, items) : message("Nothing found."));
      results.replaceChildren(
        section(
          "People",
          search.users.map((u) =>
            h(
              "li",
              {},
              link(`#/u/${encodeURIComponent(u.username)}`, `@${u.username}`),
              ` ${u.displayName} · ${counted(u.followerCount, "follower")}`,
            ),
          ),
        ),
        section(
          "Hashtags",
          search.hashtags.map((t) =>
            h(
              "li",
              {},
              link(`#/tag/${encodeURIComponent(t.name)}`, `#${t.name}`),
              ` · ${counted(t.reelCount, "reel")}`,
            ),
          ),
        ),
        section(
          "Sounds",
          search.audio.map((a) =>
            h(
              "li",
              {},
              link(`#/sound/${encodeURIComponent(a.id)}`, `♫ ${a.title}`),
              ` · ${counted(a.useCount, "reel")}`,
            ),
          ),
        ),
      );
    } catch (error) {
      results.replaceChildren(message(error.message, "error"));
    }
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    history.replaceState(null, "", `#/search?q=${encodeURIComponent(input.value)}`);
    run(input.value);
  });
  if (initial) run(initial);
  return page("search-page", "Search", form, results);
}

const NOTIFICATION_TEXT = {
  NEW_REEL: "posted a new reel",
  FOLLOWED: "followed you",
  LIKED: "liked your reel",
  COMMENTED: "commented on your reel",
  REEL_READY: "Your reel is ready",
  REEL_FAILED: "Your reel could not be processed",
};

// The inbox from the server, so nothing that happened while the page was closed or its socket
// down is missed; what arrives live while it is open goes on top. Shown is read.
export async function notificationsPage(received) {
  if (!token())
    return page("notifications-page", "Notifications", link("#/sign-in", "Sign in to see your notifications"));
  const list = h("ol", { class: "notifications", "aria-live": "polite" });
  const show = (n) =>
    h(
      "li",
      { class: n.readAt ? "read" : "unread", "data-id": n.id },
      n.actor ? [link(`#/u/${encodeURIComponent(n.actor.username)}`, `@${n.actor.username}`), " "] : null,
      NOTIFICATION_TEXT[n.kind] ?? n.kind,
      n.reel ? [" · ", link(`#/reel/${encodeURIComponent(n.reel.id)}`, n.reel.caption || "the reel")] : null,
      h("time", { datetime: n.createdAt }, ` ${new Date(n.createdAt).toLocaleString()}`),
    );
  let inbox;
  try {
    inbox = (await gql(INBOX)).notifications.edges.map(({ node }) => node);
  } catch (error) {
    return failure(error);
  }
  list.append(...inbox.map(show));
  const empty = inbox.length ? null : message("Nothing yet: new ones appear here as they happen.");
  const markRead = (ids) => ids.length && mutate(MARK_READ, { input: { ids } }, "markNotificationsRead").catch(() => {});
  markRead(inbox.filter((n) => !n.readAt).map((n) => n.id));
  received.listener = (n) => {
    if (list.querySelector(`[data-id="${CSS.escape(n.id)}"]`)) return;
    empty?.remove();
    list.prepend(show(n));
    markRead([n.id]);
  };
  return page("notifications-page", "Notifications", empty, list);
}

export async function moderationPage(viewer) {
  if (!viewer || viewer.role === "USER")
    return page("moderation-page", "Moderation", message("For moderators only.", "error"));
  const filter = h(
    "select",
    { name: "status", "aria-label": "Reports to show" },
    ["OPEN", "ACTIONED", "DISMISSED"].map((s) => h("option", { value: s }, s.toLowerCase())),
  );
  const list = h("ol", { class: "reports", "aria-live": "polite" });
  async function load() {
    try {
      const { reports } = await gql(REPORTS, { status: filter.value });
      list.replaceChildren(
        ...(reports.edges.length
          ? reports.edges.map(({ node }) => row(node))
          : [h("li", { class: "empty" }, "No reports.")]),
      );
    } catch (error) {
      list.replaceChildren(message(error.message, "error"));
    }
  }
  function row(report) {
    const reel = report.reel;
    const reason = h("input", {
      name: "reason",
      value: report.reason.toLowerCase(),
      "aria-label": "Reason for the action",
      required: true,
    });
    const reelStatus = h("strong", { class: "reel-status" }, reel.status);
    const output = h("span", { "aria-live": "polite" });
    const act = async (action) => {
      try {
        const payload = await mutate(
          MODERATE,
          { input: { reelId: reel.id, action, reason: reason.value } },
          "moderateReel",
        );
        reelStatus.textContent = payload.reel.status;
        if (report.status === "OPEN")
          await mutate(
            RESOLVE,
            { input: { reportId: report.id, status: "ACTIONED", note: reason.value } },
            "resolveReport",
          );
        output.textContent = action === "BLOCK" ? "Blocked" : "Restored";
      } catch (error) {
        output.textContent = error.message;
      }
    };
    const dismiss = async () => {
      try {
        await mutate(
          RESOLVE,
          { input: { reportId: report.id, status: "DISMISSED", note: reason.value } },
          "resolveReport",
        );
        output.textContent = "Dismissed";
      } catch (error) {
        output.textContent = error.message;
      }
    };
    return h(
      "li",
      { class: "report", dataset: { reelId: reel.id } },
      reel.thumbnailUrl ? h("img", { src: reel.thumbnailUrl, alt: "", width: "72", height: "128" }) : null,
      h(
        "div",
        {},
        h(
          "p",
          {},
          h("strong", {}, report.reason),
          report.details ? ` — ${report.details}` : "",
          ` (by @${report.reporter.username})`,
        ),
        h(
          "p",
          {},
          link(`#/reel/${encodeURIComponent(reel.id)}`, reel.caption || "untitled reel"),
          ` by @${reel.creator.username} · `,
          reelStatus,
        ),
        h(
          "div",
          { class: "buttons" },
          reason,
          h("button", { type: "button", class: "danger", onclick: () => act("BLOCK") }, "Block"),
          h("button", { type: "button", class: "secondary", onclick: () => act("RESTORE") }, "Restore"),
          report.status === "OPEN"
            ? h("button", { type: "button", class: "secondary", onclick: dismiss }, "Dismiss")
            : null,
          output,
        ),
      ),
    );
  }
  filter.addEventListener("change", load);
  await load();
  return page("moderation-page", "Report queue", h("label", {}, "Show ", filter), list);
}

// The vertical full-screen feed: one reel per screen (scroll-snap), arrow keys or j/k to move,
// space to pause. The reel on screen plays (muted until the first tap or key, as browsers
// require), the next two have their first segments prefetched, a view is recorded at 3 s and
// at completion, and counts stay live over `reelCounts` while a reel is near the screen. The
// For You feed pages through one ranked session with `after` cursors; each of its reels says
// why it is there and can be marked "not interested".

import { gql, mutate, sessionId, subscribe, token } from "./api.js";
import { captionWithTags, compact, h, icon, link, message } from "./dom.js";
import { Player, prefetch } from "./player.js";

export const REEL_FIELDS = `
  id caption status durationMs thumbnailUrl viewerHasLiked shareUrl
  creator { id username displayName }
  hashtags { name }
  audio { id title }
  counts { likes views comments shares }
  playback { hlsUrl startupSegmentUrl startupInitUrl }
`;

const FEED = `query Feed($first: Int, $after: String, $context: FeedContext, $sessionId: String) {
  feed(first: $first, after: $after, context: $context, sessionId: $sessionId) {
    edges {
      node { ${REEL_FIELDS} }
      reason { source score }
      playback { hlsUrl startupSegmentUrl startupInitUrl }
    }
    pageInfo { hasNextPage endCursor }
  }
}`;
const LIKE = `mutation Like($input: ReelInput!) { likeReel(input: $input) {
  reel { id viewerHasLiked counts { likes } } userErrors { message } } }`;
const UNLIKE = `mutation Unlike($input: ReelInput!) { unlikeReel(input: $input) {
  reel { id viewerHasLiked counts { likes } } userErrors { message } } }`;
const SHARE = `mutation Share($input: ReelInput!) { shareReel(input: $input) {
  reel { id counts { shares } } userErrors { message } } }`;
const RECORD_VIEW = `mutation View($input: RecordViewInput!) { recordView(input: $input) { counted userErrors { message } } }`;
const COUNTS = `subscription Counts($reelId: ID!) { reelCounts(reelId: $reelId) { reelId likes views comments shares } }`;
const COMMENTS = `query Comments($id: ID!) { reel(id: $id) { id comments(first: 50) {
  totalCount edges { node { id text createdAt author { username } } } } } }`;
const ADD_COMMENT = `mutation Comment($input: AddCommentInput!) { addComment(input: $input) {
  comment { id text createdAt author { username } } userErrors { message } } }`;
const NOT_INTERESTED = `mutation NotInterested($input: NotInterestedInput!) { notInterested(input: $input) {
  reel { id } userErrors { message } } }`;
const REPORT = `mutation Report($input: ReportReelInput!) { reportReel(input: $input) { report { id } userErrors { message } } }`;

const VIEW_AFTER_MS = 3000;
const PREFETCH_AHEAD = 2;
const LIVE_NEIGHBOURS = 2;
const REPORT_REASONS = ["SPAM", "NUDITY", "VIOLENCE", "HATE", "COPYRIGHT", "OTHER"];
const FEED_PAGE = 10;
// "Why this reel?": a feed edge's reason.source in words.
const REASON_WORDS = {
  FOLLOWING: "From creators you follow",
  SIMILAR: "Similar to reels you watched or liked",
  TRENDING: "Trending now",
  FRESH: "New: few people have seen it yet",
};

// What the feed adapts to: the network the browser reports, and a rough device class.
function feedContext() {
  const type = navigator.connection?.effectiveType;
  const network = type ? (type === "4g" ? "FAST" : type === "3g" ? "MEDIUM" : "SLOW") : null;
  const memory = navigator.deviceMemory ?? 4;
  const device = memory >= 4 ? "HIGH" : memory >= 2 ? "MID" : "LOW";
  return { network, device };
}

function requireSignIn() {
  if (token()) return true;
  location.hash = "#/sign-in";
  return false;
}

// Sound is one choice for the whole app: off until the first gesture, as browsers require.
let soundOn = false;
let gestured = false;

class ReelView {
  // `reason` is the For You edge's { source, score }; null elsewhere.
  constructor(reel, feed, reason = null) {
    this.reel = reel;
    this.feed = feed;
    this.reason = reason;
    this.watchedMs = 0;
    this.lastTime = 0;
    this.viewRecorded = false;
    this.unsubscribe = null;
    this.video = h("video", {
      class: "reel-video",
      playsinline: true,
      muted: true,
      preload: "none",
      poster: reel.thumbnailUrl,
      "aria-label": `Video: ${reel.caption || "untitled reel"}`,
    });
    this.video.muted = true;
    this.player = new Player(this.video, reel.playback);
    this.video.addEventListener("timeupdate", () => this.onTime());
    this.video.addEventListener("ended", () => this.onEnded());
    this.video.addEventListener("click", () => this.feed.tap());
    this.element = this.render();
  }

  render() {
    const { reel } = this;
    this.likeButton = h(
      "button",
      { class: "action like", "aria-pressed": String(reel.viewerHasLiked), onclick: () => this.toggleLike() },
      icon("heart"),
      h("span", { class: "visually-hidden" }, "Like"),
    );
    this.countElements = {
      likes: h("span", { class: "count", dataset: { count: "likes" } }),
      comments: h("span", { class: "count", dataset: { count: "comments" } }),
      shares: h("span", { class: "count", dataset: { count: "shares" } }),
      views: h("span", { class: "count", dataset: { count: "views" } }),
    };
    this.likeButton.append(this.countElements.likes);
    this.soundButton = h(
      "button",
      { class: "action sound", "aria-pressed": String(soundOn), onclick: () => this.feed.setSound(!soundOn) },
      icon("sound"),
      h("span", { class: "visually-hidden" }, "Sound"),
    );
    const creator = reel.creator;
    this.viewsWord = h("span", {}, " views");
    const info = h(
      "div",
      { class: "reel-info" },
      link(`#/u/${encodeURIComponent(creator.username)}`, `@${creator.username}`, { class: "creator" }),
      h("p", { class: "caption" }, captionWithTags(reel.caption)),
      reel.audio
        ? link(`#/sound/${encodeURIComponent(reel.audio.id)}`, `♫ ${reel.audio.title}`, { class: "sound-link" })
        : null,
      h("p", { class: "views" }, this.countElements.views, this.viewsWord),
    );
    // The label is also the tooltip: "not interested" and "why" are not obvious from an icon.
    const action = (name, label, onclick, count = null) =>
      h(
        "button",
        { class: `action ${name}`, title: label, onclick },
        icon(name),
        h("span", { class: "visually-hidden" }, label),
        count,
      );
    const actions = h(
      "div",
      { class: "reel-actions", role: "group", "aria-label": "Reel actions" },
      this.likeButton,
      action("comment", "Comments", () => this.openComments(), this.countElements.comments),
      action("share", "Share", () => this.share(), this.countElements.shares),
      action("flag", "Report", () => this.openReport()),
      this.reason ? action("why", "Why this reel?", () => this.openReason()) : null,
      this.reason ? action("not-interested", "Not interested", () => this.notInterested()) : null,
      this.soundButton,
    );
    const article = h(
      "article",
      {
        class: "reel",
        tabindex: "0",
        "aria-label": `Reel by ${creator.displayName || creator.username}`,
        dataset: { reelId: reel.id },
      },
      h("div", { class: "reel-stage" }, this.video, info, actions),
    );
    this.showCounts(reel.counts);
    return article;
  }

  showCounts(counts) {
    Object.assign(this.reel.counts, counts);
    for (const [name, element] of Object.entries(this.countElements)) {
      element.textContent = compact(this.reel.counts[name]);
      element.setAttribute("aria-label", `${this.reel.counts[name]} ${name}`);
    }
    this.viewsWord.textContent = this.reel.counts.views === 1 ? " view" : " views";
  }

  showLiked(liked) {
    this.reel.viewerHasLiked = liked;
    this.likeButton.setAttribute("aria-pressed", String(liked));
  }

  async toggleLike() {
    if (!requireSignIn()) return;
    const liked = !this.reel.viewerHasLiked;
    this.showLiked(liked);
    try {
      const payload = await mutate(
        liked ? LIKE : UNLIKE,
        { input: { reelId: this.reel.id } },
        liked ? "likeReel" : "unlikeReel",
      );
      this.showLiked(payload.reel.viewerHasLiked);
      this.showCounts(payload.reel.counts);
    } catch (error) {
      this.showLiked(!liked);
      this.feed.notify(error.message);
    }
  }

  async share() {
    const url = this.reel.shareUrl; // the server's public address: what the recipient can open
    try {
      if (navigator.share) await navigator.share({ title: "A reel", text: this.reel.caption, url });
      else {
        await navigator.clipboard.writeText(url);
        this.feed.notify("Link copied");
      }
    } catch {
      return; // the share sheet was dismissed: nothing was shared
    }
    if (!token()) return;
    const payload = await mutate(SHARE, { input: { reelId: this.reel.id } }, "shareReel").catch(() => null);
    if (payload) this.showCounts(payload.reel.counts);
  }

  async openComments() {
    const list = h("ol", { class: "comments", "aria-live": "polite" });
    const input = h("input", { name: "text", required: true, maxlength: "500", autocomplete: "off" });
    const form = h(
      "form",
      { class: "comment-form" },
      h("label", {}, h("span", { class: "visually-hidden" }, "Add a comment"), input),
      h("button", { type: "submit" }, "Post"),
    );
    const dialog = this.feed.dialog("Comments", list, token() ? form : link("#/sign-in", "Sign in to comment"));
    const show = (comment) =>
      h(
        "li",
        {},
        link(`#/u/${encodeURIComponent(comment.author.username)}`, comment.author.username),
        " ",
        comment.text,
      );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const payload = await mutate(ADD_COMMENT, { input: { reelId: this.reel.id, text: input.value } }, "addComment");
        list.querySelector(".empty")?.remove();
        list.append(show(payload.comment));
        input.value = "";
      } catch (error) {
        dialog.append(message(error.message, "error"));
      }
    });
    const data = await gql(COMMENTS, { id: this.reel.id });
    const edges = data.reel?.comments.edges ?? [];
    list.append(
      ...(edges.length ? edges.map((edge) => show(edge.node)) : [h("li", { class: "empty" }, "No comments yet")]),
    );
    input.focus();
  }

  openReport() {
    if (!requireSignIn()) return;
    const reason = h(
      "select",
      { name: "reason" },
      REPORT_REASONS.map((r) => h("option", { value: r }, r.toLowerCase())),
    );
    const details = h("input", { name: "details", maxlength: "500" });
    const form = h(
      "form",
      {},
      h("label", {}, "Reason ", reason),
      h("label", {}, "Details ", details),
      h("button", { type: "submit" }, "Report"),
    );
    const dialog = this.feed.dialog("Report this reel", form);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await mutate(
          REPORT,
          { input: { reelId: this.reel.id, reason: reason.value, details: details.value || null } },
          "reportReel",
        );
        dialog.close();
        this.feed.notify("Reported: a moderator will look at it");
      } catch (error) {
        form.append(message(error.message, "error"));
      }
    });
  }

  openReason() {
    const { source, score } = this.reason;
    this.feed.dialog(
      "Why this reel?",
      h("p", { class: "reason", dataset: { source } }, REASON_WORDS[source] ?? source),
      h(
        "p",
        { class: "reason-score" },
        "Ranking score ",
        h("data", { value: String(score) }, score.toLocaleString(undefined, { maximumSignificantDigits: 3 })),
        ": the feed puts higher scores first.",
      ),
    );
  }

  // Out of this feed for good; the server demotes the creator and hashtags for a while.
  async notInterested() {
    if (!requireSignIn()) return;
    try {
      await mutate(NOT_INTERESTED, { input: { reelId: this.reel.id } }, "notInterested");
    } catch (error) {
      this.feed.notify(error.message);
      return;
    }
    this.feed.remove(this);
    this.feed.notify("Got it: you will see less like this");
  }

  // Watched time counts only while playing forward; seeking back (or looping) does not add.
  onTime() {
    const now = this.video.currentTime;
    const step = now - this.lastTime;
    if (step > 0 && step < 1.5) this.watchedMs += step * 1000;
    this.lastTime = now;
    if (!this.viewRecorded && this.watchedMs >= VIEW_AFTER_MS) {
      this.viewRecorded = true;
      this.recordView(false);
    }
  }

  onEnded() {
    this.recordView(true);
    this.lastTime = 0;
    this.video.currentTime = 0;
    this.video.play().catch(() => {});
  }

  recordView(completed) {
    const input = {
      reelId: this.reel.id,
      watchedMs: Math.round(this.watchedMs),
      completed,
      sessionId: sessionId(),
      context: feedContext(),
    };
    gql(RECORD_VIEW, { input }).catch(() => {});
  }

  live(on) {
    if (on && !this.unsubscribe) {
      this.unsubscribe = subscribe(COUNTS, { reelId: this.reel.id }, (data) => this.showCounts(data.reelCounts));
    } else if (!on && this.unsubscribe) {
      this.unsubscribe();
      this.unsubscribe = null;
    }
  }

  activate() {
    this.video.muted = !soundOn;
    this.player.play();
  }

  deactivate() {
    this.player.pause();
  }
}

export class Feed {
  // `load(after)` answers a page: { items: [{ reel, reason }], endCursor, hasNextPage }.
  constructor(load, { label = "Feed" } = {}) {
    this.load = load;
    this.views = [];
    this.active = -1;
    this.cursor = null;
    this.hasMore = true;
    this.loading = false;
    this.status = h("div", { class: "feed-status", role: "status", "aria-live": "polite" });
    this.element = h("section", { class: "feed", role: "feed", "aria-label": label, "aria-busy": "true" });
    this.root = h("div", { class: "feed-page" }, this.element, this.status);
    this.observer = new IntersectionObserver((entries) => this.onVisible(entries), {
      root: this.element,
      threshold: 0.6,
    });
    this.element.addEventListener("keydown", (event) => this.onKey(event));
    this.more();
  }

  async more() {
    if (this.loading || !this.hasMore) return;
    this.loading = true;
    this.element.setAttribute("aria-busy", "true");
    let loaded = false;
    try {
      const page = await this.load(this.cursor);
      this.cursor = page.endCursor;
      this.hasMore = page.hasNextPage;
      for (const { reel, reason } of page.items) {
        if (!reel.playback || this.views.some((view) => view.reel.id === reel.id)) continue;
        const view = new ReelView(reel, this, reason);
        this.views.push(view);
        this.element.append(view.element);
        this.observer.observe(view.element);
      }
      this.numberArticles();
      this.arrange();
      if (!this.views.length) this.showEmpty();
      loaded = true;
    } catch (error) {
      this.notify(error.message);
    } finally {
      this.loading = false;
      this.element.setAttribute("aria-busy", "false");
    }
    if (loaded) this.fill();
  }

  // The next page while the reel on screen is within reach of the end (checked again when a
  // page lands, as the viewer may have moved on or removed reels meanwhile).
  fill() {
    if (this.active >= 0 && this.views.length - this.active <= PREFETCH_AHEAD + 1) this.more();
  }

  showEmpty() {
    if (!this.element.querySelector(".empty")) this.element.append(h("p", { class: "empty" }, "No reels yet."));
  }

  // The feed pattern's positions; the set's size is -1 until the last page is in.
  numberArticles() {
    const size = this.hasMore ? -1 : this.views.length;
    this.views.forEach((view, i) => {
      view.element.setAttribute("aria-posinset", String(i + 1));
      view.element.setAttribute("aria-setsize", String(size));
    });
  }

  // A reel leaves the feed; when it was on screen, the next one takes its place and the focus.
  remove(view) {
    const index = this.views.indexOf(view);
    if (index < 0) return;
    this.observer.unobserve(view.element);
    view.live(false);
    view.player.detach();
    view.element.remove();
    this.views.splice(index, 1);
    this.numberArticles();
    if (index < this.active) this.active -= 1;
    else if (index === this.active) {
      this.active = -1;
      const next = this.views[Math.min(index, this.views.length - 1)];
      if (next) {
        next.element.scrollIntoView({ block: "start" });
        next.element.focus({ preventScroll: true });
        this.show(this.views.indexOf(next));
      } else if (this.hasMore) this.more();
      else this.showEmpty();
    }
  }

  onVisible(entries) {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      this.show(this.views.findIndex((view) => view.element === entry.target));
    }
  }

  show(index) {
    if (index < 0 || index === this.active) return;
    this.views[this.active]?.deactivate();
    this.active = index;
    this.arrange();
    this.views[index].activate();
    this.fill();
  }

  // Around the reel on screen: live counts near it, the next ones' first segments fetched
  // ahead, and far-away players giving their buffers back.
  arrange() {
    if (this.active < 0) return;
    this.views.forEach((view, i) => {
      const distance = i - this.active;
      view.live(Math.abs(distance) <= LIVE_NEIGHBOURS);
      if (Math.abs(distance) > PREFETCH_AHEAD) view.player.detach();
      if (distance > 0 && distance <= PREFETCH_AHEAD) prefetch(view.reel.playback);
    });
  }

  move(step) {
    const target = this.views[Math.min(Math.max(this.active + step, 0), this.views.length - 1)];
    target?.element.scrollIntoView({ behavior: "smooth", block: "start" });
    target?.element.focus({ preventScroll: true });
  }

  onKey(event) {
    if (event.target.closest("button, input, select, textarea, a")) return;
    const steps = { ArrowDown: 1, j: 1, PageDown: 1, ArrowUp: -1, k: -1, PageUp: -1 };
    if (event.key in steps) {
      event.preventDefault();
      this.firstGesture();
      this.move(steps[event.key]);
    } else if (event.key === " ") {
      event.preventDefault();
      this.toggle();
    } else if (event.key === "m") {
      this.setSound(!soundOn);
    }
  }

  // The first tap or key turns the sound on; after that a tap pauses and resumes.
  firstGesture() {
    if (gestured) return false;
    gestured = true;
    this.setSound(true);
    return true;
  }

  tap() {
    if (!this.firstGesture()) this.toggle();
  }

  toggle() {
    const video = this.views[this.active]?.video;
    if (!video) return;
    if (video.paused) video.play().catch(() => {});
    else video.pause();
  }

  setSound(on) {
    gestured = true;
    soundOn = on;
    for (const view of this.views) view.soundButton.setAttribute("aria-pressed", String(on));
    const current = this.views[this.active];
    if (current) current.video.muted = !on;
  }

  notify(text) {
    this.status.replaceChildren(message(text));
  }

  dialog(title, ...content) {
    const dialog = h(
      "dialog",
      { class: "sheet", "aria-label": title },
      h(
        "header",
        {},
        h("h2", {}, title),
        h("button", { class: "close", onclick: () => dialog.close(), "aria-label": "Close" }, "×"),
      ),
      ...content,
    );
    dialog.addEventListener("close", () => dialog.remove());
    this.root.append(dialog);
    dialog.showModal();
    return dialog;
  }

  close() {
    this.observer.disconnect();
    for (const view of this.views) {
      view.live(false);
      view.player.detach();
    }
  }
}

export function homeFeed() {
  return new Feed(
    async (after) => {
      const variables = { first: FEED_PAGE, after, context: feedContext(), sessionId: sessionId() };
      const { edges, pageInfo } = (await gql(FEED, variables)).feed;
      // The edge's playback fits this device's context; the reel's own lists every rendition.
      const items = edges.map((edge) => ({
        reel: { ...edge.node, playback: edge.playback ?? edge.node.playback },
        reason: edge.reason,
      }));
      return { items, ...pageInfo };
    },
    { label: "For you" },
  );
}

export function singleReelFeed(reel) {
  return new Feed(
    async () => ({ items: reel ? [{ reel, reason: null }] : [], endCursor: null, hasNextPage: false }),
    { label: "Reel" },
  );
}

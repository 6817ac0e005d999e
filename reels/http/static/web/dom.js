// A small element builder, so pages are plain functions that return nodes (no innerHTML, so
// captions and names can never become markup).

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, value);
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return element;
}

export function compact(n) {
  return new Intl.NumberFormat(undefined, { notation: "compact" }).format(n);
}

// "1 reel", "12 reels", "3.4K followers".
export function counted(n, noun) {
  return `${compact(n)} ${n === 1 ? noun : `${noun}s`}`;
}

export function link(href, text, attributes = {}) {
  return h("a", { href, ...attributes }, text);
}

// A caption with its #hashtags as links to their pages.
export function captionWithTags(caption) {
  const parts = caption.split(/(#[\p{L}\p{N}_]+)/u);
  return parts.map((part) =>
    part.startsWith("#") ? link(`#/tag/${encodeURIComponent(part.slice(1).toLowerCase())}`, part) : part,
  );
}

export function message(text, kind = "info") {
  return h("p", { class: `message ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

// Icons as inline SVG (24×24 paths), so they need no icon font and follow the text colour.
const ICON_PATHS = {
  heart:
    "M12 21.35 10.55 20C5.4 15.36 2 12.28 2 8.5 2 5.42 4.42 3 7.5 3c1.74 0 3.41.81 4.5 2.09C13.09 3.81 14.76 3 16.5 3 19.58 3 22 5.42 22 8.5c0 3.78-3.4 6.86-8.55 11.54z",
  comment: "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8l-5 4V5a2 2 0 0 1 1-2z",
  share: "M14 4l7 7-7 7v-4.1C9 13.9 5.5 15.5 3 19c1-5 4-10 11-11z",
  flag: "M5 3h2v18H5zM8 4h11l-2.5 4L19 12H8z",
  why: "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm1 15h-2v-6h2zm0-8h-2V7h2z",
  "not-interested":
    "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zM4 12a8 8 0 0 1 12.9-6.31L5.69 16.9A7.9 7.9 0 0 1 4 12zm8 8a7.9 7.9 0 0 1-4.9-1.69L18.31 7.1A8 8 0 0 1 12 20z",
  sound:
    "M3 9v6h4l5 5V4L7 9zm13.5 3A4.5 4.5 0 0 0 14 7.97v8.05A4.5 4.5 0 0 0 16.5 12zM14 3.23v2.06a7 7 0 0 1 0 13.42v2.06a9 9 0 0 0 0-17.54z",
};

export function icon(name) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", `icon icon-${name}`);
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", ICON_PATHS[name]);
  svg.append(path);
  return svg;
}

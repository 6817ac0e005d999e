// The upload page: createUpload, then each part PUT to its presigned URL with a progress bar,
// then completeUpload, then `reelStatus` followed live until the reel is READY. What is needed
// to resume (uploadId, the file's name and size, each sent part's etag) is kept in
// localStorage, so after a reload the user picks the same file and resumeUpload sends only the
// parts the server does not hold yet.

import { ApiError, mutate, subscribe } from "./api.js";
import { h, link, message } from "./dom.js";
import { singleReelFeed, REEL_FIELDS } from "./feed.js";

const SAVED_KEY = "reels.upload";
const CREATE = `mutation Create($input: CreateUploadInput!) { createUpload(input: $input) {
  reel { id status } uploadId partSize parts { partNumber url } userErrors { message } } }`;
const RESUME = `mutation Resume($input: ResumeUploadInput!) { resumeUpload(input: $input) {
  uploadId missingParts { partNumber url } userErrors { message } } }`;
const COMPLETE = `mutation Complete($input: CompleteUploadInput!) { completeUpload(input: $input) {
  reel { id status } userErrors { message } } }`;
const STATUS = `subscription Status($reelId: ID!) { reelStatus(reelId: $reelId) { statusReason ${REEL_FIELDS} } }`;
const STATUS_TEXT = {
  INIT: "Waiting for the upload",
  UPLOADED: "Uploaded, waiting for a worker",
  PROCESSING: "Processing: transcoding every rendition",
  READY: "Ready",
  FAILED: "Processing failed",
  BLOCKED: "Blocked by moderation",
};

function saved() {
  try {
    return JSON.parse(localStorage.getItem(SAVED_KEY));
  } catch {
    return null;
  }
}

function save(upload) {
  if (upload) localStorage.setItem(SAVED_KEY, JSON.stringify(upload));
  else localStorage.removeItem(SAVED_KEY);
}

function megabytes(bytes) {
  return `${(bytes / 1_048_576).toFixed(1)} MB`;
}

// One part's PUT; XMLHttpRequest because fetch reports no upload progress.
function putPart(url, blob, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("PUT", url);
    request.upload.onprogress = (event) => onProgress(event.loaded);
    request.onload = () => {
      const etag = request.getResponseHeader("ETag");
      if (request.status >= 200 && request.status < 300 && etag) resolve(etag);
      else reject(new ApiError(`part upload answered ${request.status}`));
    };
    request.onerror = () => reject(new ApiError("the connection dropped; pick the file again to resume"));
    request.send(blob);
  });
}

export function uploadPage({ audioId = null } = {}) {
  const pending = saved();
  const file = h("input", { type: "file", name: "file", accept: "video/*", required: true });
  const caption = h("textarea", { name: "caption", rows: "2", maxlength: "2200" });
  const visibility = h(
    "select",
    { name: "visibility" },
    ["PUBLIC", "FOLLOWERS", "PRIVATE"].map((v) => h("option", { value: v }, v.toLowerCase())),
  );
  const submit = h("button", { type: "submit" }, pending ? "Resume upload" : "Upload");
  const progress = h("progress", { max: "1", value: "0", "aria-label": "Upload progress" });
  const progressText = h("span", { class: "progress-text" });
  const status = h("div", { class: "upload-status", "aria-live": "polite" });
  const player = h("div", { class: "upload-player" });
  const resumeNote = pending
    ? message(
        `An upload of ${pending.fileName} (${megabytes(pending.fileSize)}) was interrupted: pick the same file to resume it.`,
      )
    : null;
  const form = h(
    "form",
    { class: "upload-form", "aria-label": "Upload a reel" },
    resumeNote,
    h("label", {}, "Video file ", file),
    h("label", {}, "Caption ", caption),
    h("label", {}, "Who can see it ", visibility),
    audioId ? message("This reel will use the sound you picked.") : null,
    submit,
    h("div", { class: "progress", hidden: true }, progress, progressText),
  );

  function showProgress(sent, total) {
    form.querySelector(".progress").hidden = false;
    progress.value = sent / total;
    progressText.textContent = `${Math.floor((100 * sent) / total)}% of ${megabytes(total)}`;
  }

  // What the page leaves running: the status subscription and, once READY, the reel's player.
  let stopFollowing = null;
  let readyReel = null;

  function follow(reelId) {
    status.replaceChildren(message(STATUS_TEXT.UPLOADED));
    stopFollowing = subscribe(STATUS, { reelId }, (data) => {
      const reel = data.reelStatus;
      const text = STATUS_TEXT[reel.status] + (reel.statusReason ? `: ${reel.statusReason}` : "");
      status.replaceChildren(message(text, reel.status === "FAILED" || reel.status === "BLOCKED" ? "error" : "info"));
      status.dataset.status = reel.status;
      if (reel.status === "READY") {
        readyReel = singleReelFeed(reel);
        player.replaceChildren(readyReel.root, link(`#/reel/${encodeURIComponent(reel.id)}`, "Open the reel"));
      }
    });
  }

  async function send(chosen, upload, parts) {
    const etags = upload.etags;
    const sentBefore = Object.keys(etags).length;
    let sent = Math.min(sentBefore * upload.partSize, chosen.size);
    showProgress(sent, chosen.size);
    for (const part of parts) {
      const start = (part.partNumber - 1) * upload.partSize;
      const blob = chosen.slice(start, start + upload.partSize);
      etags[part.partNumber] = await putPart(part.url, blob, (loaded) => showProgress(sent + loaded, chosen.size));
      sent += blob.size;
      save(upload);
      showProgress(sent, chosen.size);
    }
    const completed = Object.entries(etags).map(([partNumber, etag]) => ({ partNumber: Number(partNumber), etag }));
    completed.sort((a, b) => a.partNumber - b.partNumber);
    await mutate(COMPLETE, { input: { uploadId: upload.uploadId, parts: completed } }, "completeUpload");
    save(null);
    resumeNote?.remove();
    follow(upload.reelId);
  }

  async function start(chosen) {
    const contentType = chosen.type || "video/mp4";
    const input = { fileSize: chosen.size, contentType, caption: caption.value, visibility: visibility.value, audioId };
    const created = await mutate(CREATE, { input }, "createUpload");
    const upload = {
      uploadId: created.uploadId,
      reelId: created.reel.id,
      fileName: chosen.name,
      fileSize: chosen.size,
      partSize: created.partSize,
      etags: {},
    };
    save(upload);
    await send(chosen, upload, created.parts);
  }

  async function resume(chosen, upload) {
    if (chosen.name !== upload.fileName || chosen.size !== upload.fileSize) {
      throw new ApiError(
        `That is not ${upload.fileName} (${megabytes(upload.fileSize)}): pick the same file to resume.`,
      );
    }
    const resumed = await mutate(RESUME, { input: { uploadId: upload.uploadId } }, "resumeUpload");
    const missing = new Set(resumed.missingParts.map((part) => part.partNumber));
    for (const number of Object.keys(upload.etags)) if (missing.has(Number(number))) delete upload.etags[number];
    await send(chosen, upload, resumed.missingParts);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = file.files[0];
    if (!chosen) return;
    submit.disabled = true;
    status.replaceChildren();
    try {
      const interrupted = saved();
      if (interrupted) await resume(chosen, interrupted);
      else await start(chosen);
    } catch (error) {
      status.replaceChildren(message(error.message, "error"));
    } finally {
      submit.disabled = false;
    }
  });

  const forget = pending
    ? h(
        "button",
        {
          type: "button",
          class: "secondary",
          onclick: () => {
            save(null);
            location.reload();
          },
        },
        "Start a new upload instead",
      )
    : null;
  return {
    root: h("section", { class: "page upload-page" }, h("h1", {}, "Upload a reel"), form, forget, status, player),
    close() {
      stopFollowing?.();
      readyReel?.close();
    },
  };
}

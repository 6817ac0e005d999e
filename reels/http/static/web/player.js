// Playing one reel: HLS through hls.js where the browser has Media Source Extensions (adaptive
// renditions, capped to the player's size), the browser's own HLS elsewhere (iOS Safari), and
// the startup segments of upcoming reels fetched ahead so they start at once.

const HLS_SCRIPT = "/static/web/vendor/hls.js-1.5.20/hls.light.min.js";

let hlsLoading = null;

function hasMediaSource() {
  return "MediaSource" in window || "ManagedMediaSource" in window;
}

// hls.js is loaded only by browsers that use it.
function loadHls() {
  hlsLoading ??= new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = HLS_SCRIPT;
    script.onload = () => resolve(window.Hls);
    script.onerror = () => reject(new Error("hls.js did not load"));
    document.head.append(script);
  });
  return hlsLoading;
}

export class Player {
  constructor(video, playback) {
    this.video = video;
    this.playback = playback;
    this.hls = null;
    this.attached = false;
  }

  async attach() {
    if (this.attached) return;
    this.attached = true;
    const { hlsUrl } = this.playback;
    if (hasMediaSource()) {
      const Hls = await loadHls();
      if (Hls.isSupported()) {
        // Start on the lowest rendition: its first segment is the one prefetched.
        this.hls = new Hls({ startLevel: 0, capLevelToPlayerSize: true, maxBufferLength: 12 });
        this.hls.loadSource(hlsUrl);
        this.hls.attachMedia(this.video);
        return;
      }
    }
    this.video.src = hlsUrl;
  }

  async play() {
    await this.attach();
    try {
      await this.video.play();
    } catch {
      // Autoplay refused (sound on before any gesture): play muted instead.
      this.video.muted = true;
      await this.video.play().catch(() => {});
    }
  }

  pause() {
    this.video.pause();
  }

  detach() {
    this.pause();
    if (this.hls) {
      this.hls.destroy();
      this.hls = null;
    } else {
      this.video.removeAttribute("src");
      this.video.load();
    }
    this.attached = false;
  }
}

const prefetched = new Set();

// Into the HTTP cache, at low priority: the init section and first segment of a reel.
export function prefetch(playback) {
  for (const url of [playback.startupInitUrl, playback.startupSegmentUrl]) {
    if (!url || prefetched.has(url)) continue;
    prefetched.add(url);
    fetch(url, { priority: "low" }).catch(() => prefetched.delete(url));
  }
}

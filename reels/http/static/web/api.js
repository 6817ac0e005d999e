// The client's one way to the API: GraphQL over HTTP (POST /graphql) and subscriptions over one
// shared graphql-transport-ws socket. The signed-in token lives in localStorage; it goes into
// each request's Authorization header and into the socket's connection_init payload.

const TOKEN_KEY = "reels.token";
const SESSION_KEY = "reels.session";
const ENDPOINT = "/graphql";

export class ApiError extends Error {}

export function token() {
  return localStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) localStorage.setItem(TOKEN_KEY, value);
  else localStorage.removeItem(TOKEN_KEY);
  socket.restart();
}

// Anonymous views count once per session and reel, so a session id outlives the tab.
export function sessionId() {
  let id = localStorage.getItem(SESSION_KEY);
  if (!id) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    id = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    localStorage.setItem(SESSION_KEY, id);
  }
  return id;
}

export async function gql(query, variables = {}) {
  const headers = { "content-type": "application/json", accept: "application/json" };
  const current = token();
  if (current) headers.authorization = `Bearer ${current}`;
  const response = await fetch(ENDPOINT, { method: "POST", headers, body: JSON.stringify({ query, variables }) });
  const body = await response.json().catch(() => ({}));
  if (body.errors?.length) throw new ApiError(body.errors.map((e) => e.message).join("; "));
  if (!response.ok) throw new ApiError(`the server answered ${response.status}`);
  return body.data;
}

// A mutation's payload, or an ApiError carrying its userErrors.
export async function mutate(query, variables, field) {
  const payload = (await gql(query, variables))[field];
  if (payload.userErrors?.length) throw new ApiError(payload.userErrors.map((e) => e.message).join("; "));
  return payload;
}

// graphql-transport-ws over one socket, opened on the first subscription and reopened (with
// every live subscription) when the token changes or the connection drops.
class Socket {
  constructor() {
    this.ws = null;
    this.ready = false;
    this.nextId = 1;
    this.subscriptions = new Map();
    this.retryMs = 500;
  }

  subscribe(query, variables, onData, onEnd = () => {}) {
    const id = String(this.nextId++);
    this.subscriptions.set(id, { query, variables, onData, onEnd });
    if (this.ready) this.send(id);
    else this.open();
    return () => {
      if (!this.subscriptions.delete(id)) return;
      if (this.ready) this.ws.send(JSON.stringify({ id, type: "complete" }));
    };
  }

  send(id) {
    const { query, variables } = this.subscriptions.get(id);
    this.ws.send(JSON.stringify({ id, type: "subscribe", payload: { query, variables } }));
  }

  open() {
    if (this.ws) return;
    const url = new URL(ENDPOINT, location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(url, "graphql-transport-ws");
    this.ws = ws;
    ws.onopen = () => {
      const current = token();
      ws.send(JSON.stringify({ type: "connection_init", payload: current ? { token: current } : {} }));
    };
    ws.onmessage = (event) => this.receive(JSON.parse(event.data));
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.ready = false;
      if (this.subscriptions.size) {
        setTimeout(() => this.open(), this.retryMs);
        this.retryMs = Math.min(this.retryMs * 2, 10_000);
      }
    };
  }

  receive(message) {
    const subscription = this.subscriptions.get(message.id);
    switch (message.type) {
      case "connection_ack":
        this.ready = true;
        this.retryMs = 500;
        for (const id of this.subscriptions.keys()) this.send(id);
        break;
      case "ping":
        this.ws.send(JSON.stringify({ type: "pong" }));
        break;
      case "next":
        if (subscription && message.payload.data) subscription.onData(message.payload.data);
        break;
      case "error":
      case "complete":
        if (subscription) {
          this.subscriptions.delete(message.id);
          subscription.onEnd(message.type === "error" ? message.payload : null);
        }
        break;
    }
  }

  restart() {
    if (!this.ws) return;
    const ws = this.ws;
    this.ws = null;
    this.ready = false;
    ws.close();
    if (this.subscriptions.size) this.open();
  }
}

const socket = new Socket();

export function subscribe(query, variables, onData, onEnd) {
  return socket.subscribe(query, variables, onData, onEnd);
}

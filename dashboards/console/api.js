// The console's only way to the police API: queries by POST, subscriptions over ONE shared
// graphql-transport-ws socket that reconnects with backoff and resubscribes, and the
// signed-in session. The token lives in sessionStorage: it goes when the tab closes.

import { t, addStrings } from "./i18n.js";

const TOKEN_KEY = "pingan.token";
const GRAPHQL_PATH = "/graphql";
const SOCKET_PROTOCOL = "graphql-transport-ws";
const MAX_TOKEN_LENGTH = 8192;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15000;
const PING_EVERY_MS = 20000;
const REJECTED_TOKEN_CLOSES = new Set([4401, 4403]);

addStrings({
  zh: {
    "api.tokenEmpty": "请粘贴令牌",
    "api.tokenTooLong": "令牌过长",
    "api.tokenMalformed": "这不是有效的令牌（应为三段以点分隔的 JWT）",
    "api.tokenExpired": "令牌已于 {at} 过期，请获取新令牌",
    "api.tokenRole": "令牌中的角色“{role}”未知",
    "api.signedOut": "登录已失效，请重新登录",
    "api.tokenRefused": "平台拒绝了此令牌：{detail}",
    "api.unreachable": "无法连接到平台服务（{detail}）",
    "api.http": "服务返回 {status}：{detail}",
  },
  en: {
    "api.tokenEmpty": "Paste a token",
    "api.tokenTooLong": "The token is too long",
    "api.tokenMalformed": "This is not a token (a JWT has three dot-separated parts)",
    "api.tokenExpired": "The token expired at {at}: get a new one",
    "api.tokenRole": "Unknown role in the token: {role}",
    "api.signedOut": "Your sign-in is no longer valid: sign in again",
    "api.tokenRefused": "The platform refused this token: {detail}",
    "api.unreachable": "Cannot reach the platform ({detail})",
    "api.http": "The server answered {status}: {detail}",
  },
});

// graphql_api/access.py's role table, mirrored so the console hides what a role cannot use.
// The API enforces it regardless; this only spares officers dead links.
const POLICE = [
  "read:aggregates",
  "read:alerts",
  "handle:alerts",
  "read:devices",
  "read:parking",
  "read:plates",
  "read:biometrics",
  "read:rule-settings",
];
export const ROLE_PERMISSIONS = {
  district_admin: [
    ...POLICE,
    "edit:rule-settings",
    "switch-off:safety-rules",
    "edit:watchlists",
    "edit:registry",
    "erase:personal-data",
    "read:audit",
  ],
  district_officer: [...POLICE, "edit:watchlists"],
  community_officer: POLICE,
  property_manager: [
    "read:aggregates",
    "read:alerts",
    "handle:alerts",
    "read:devices",
    "read:parking",
  ],
  analyst: ["read:aggregates"],
};

function decodeClaims(token) {
  const parts = token.split(".");
  if (parts.length !== 3) throw new Error(t("api.tokenMalformed"));
  try {
    const base64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    if (!claims || typeof claims !== "object") throw new Error("not an object");
    return claims;
  } catch {
    throw new Error(t("api.tokenMalformed"));
  }
}

// Checks what can be checked without the server; the server's answer to the first query
// is the real verdict (signature, issuer).
function checkedClaims(token) {
  if (!token) throw new Error(t("api.tokenEmpty"));
  if (token.length > MAX_TOKEN_LENGTH) throw new Error(t("api.tokenTooLong"));
  const claims = decodeClaims(token);
  if (typeof claims.exp === "number" && claims.exp * 1000 <= Date.now()) {
    throw new Error(t("api.tokenExpired", { at: new Date(claims.exp * 1000).toLocaleString() }));
  }
  if (!(claims.role in ROLE_PERMISSIONS)) throw new Error(t("api.tokenRole", { role: claims.role }));
  return claims;
}

const sessionListeners = new Set();
let verifying = false;

export const session = {
  token: null,
  claims: null,
  may(permission) {
    return Boolean(this.claims && ROLE_PERMISSIONS[this.claims.role]?.includes(permission));
  },
};

function setSession(token, claims) {
  session.token = token;
  session.claims = claims;
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage refused: the session lasts for this page
  }
  for (const cb of sessionListeners) cb(session);
}

export function onSessionChange(cb) {
  sessionListeners.add(cb);
  return () => sessionListeners.delete(cb);
}

// Resolves once the API accepted the token; throws an Error with a readable message.
export async function signIn(rawToken) {
  const token = String(rawToken || "")
    .trim()
    .replace(/^Bearer\s+/i, "");
  const claims = checkedClaims(token);
  const previous = { token: session.token, claims: session.claims };
  session.token = token;
  session.claims = claims;
  verifying = true;
  try {
    await gql("query SignIn { communities { id } }");
  } catch (error) {
    session.token = previous.token;
    session.claims = previous.claims;
    throw error;
  } finally {
    verifying = false;
  }
  setSession(token, claims);
  return session;
}

let signOutReason = null;

export function signOut(reason = null) {
  signOutReason = reason;
  closeSocket();
  setSession(null, null);
}

// Why the last sign-out happened (e.g. the API refused the token), for the sign-in form.
export function takeSignOutReason() {
  const reason = signOutReason;
  signOutReason = null;
  return reason;
}

// The token kept for this tab, if it is still usable.
export function restoreSession() {
  let token = null;
  try {
    token = sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return false;
  }
  if (!token) return false;
  try {
    setSession(token, checkedClaims(token));
    return true;
  } catch (error) {
    signOut(error.message);
    return false;
  }
}

function authHeaders() {
  return session.token ? { Authorization: `Bearer ${session.token}` } : {};
}

async function refusal(response) {
  let detail = response.statusText || String(response.status);
  try {
    const body = await response.json();
    detail = body.error || body.errors?.[0]?.message || detail;
  } catch {
    // not JSON: the status text says enough
  }
  return detail;
}

export async function gql(query, variables = {}) {
  let response;
  try {
    response = await fetch(GRAPHQL_PATH, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...authHeaders() },
      body: JSON.stringify({ query, variables }),
    });
  } catch (error) {
    throw new Error(t("api.unreachable", { detail: error.message }));
  }
  if (response.status === 401) {
    const detail = await refusal(response);
    if (verifying) throw new Error(t("api.tokenRefused", { detail }));
    signOut(`${t("api.signedOut")} (${detail})`);
    throw new Error(t("api.signedOut"));
  }
  if (!response.ok) {
    throw new Error(t("api.http", { status: response.status, detail: await refusal(response) }));
  }
  const body = await response.json();
  if (body.errors?.length) throw new Error(body.errors[0].message);
  return body.data;
}

// Images behind the token (face crops): fetched with the Authorization header and shown
// through an object URL. The caller revokes it (URL.revokeObjectURL) when done.
export async function fetchImageUrl(path) {
  const response = await fetch(path, { headers: authHeaders() });
  if (response.status === 401) {
    signOut(t("api.signedOut"));
    throw new Error(t("api.signedOut"));
  }
  if (!response.ok) {
    throw new Error(t("api.http", { status: response.status, detail: await refusal(response) }));
  }
  return URL.createObjectURL(await response.blob());
}

// ---- the shared websocket ----

const subscriptions = new Map();
const stateListeners = new Set();
let socket = null;
let acknowledged = false;
let connectionState = "offline";
let attempt = 0;
let retryTimer = null;
let pingTimer = null;
let awaitingPong = false;
let nextId = 1;

function setState(state) {
  if (state === connectionState) return;
  connectionState = state;
  for (const cb of stateListeners) cb(state);
}

export function onConnectionState(cb) {
  stateListeners.add(cb);
  cb(connectionState);
  return () => stateListeners.delete(cb);
}

export function connectionStateNow() {
  return connectionState;
}

function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${GRAPHQL_PATH}`;
}

function send(message) {
  if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

function sendSubscribe(id, entry) {
  send({ id, type: "subscribe", payload: { query: entry.query, variables: entry.variables } });
}

function connect() {
  clearTimeout(retryTimer);
  retryTimer = null;
  if (socket || !session.token || subscriptions.size === 0) return;
  setState("connecting");
  acknowledged = false;
  const ws = new WebSocket(socketUrl(), SOCKET_PROTOCOL);
  socket = ws;
  ws.onopen = () => {
    ws.send(
      JSON.stringify({
        type: "connection_init",
        payload: { authorization: `Bearer ${session.token}` },
      }),
    );
  };
  ws.onmessage = (event) => onMessage(ws, event);
  ws.onclose = (event) => onClose(ws, event);
}

function onMessage(ws, event) {
  if (ws !== socket) return;
  let message;
  try {
    message = JSON.parse(event.data);
  } catch {
    return;
  }
  const entry = subscriptions.get(message.id);
  switch (message.type) {
    case "connection_ack":
      acknowledged = true;
      attempt = 0;
      setState("live");
      for (const [id, sub] of subscriptions) sendSubscribe(id, sub);
      startPing();
      break;
    case "ping":
      send({ type: "pong" });
      break;
    case "pong":
      awaitingPong = false;
      break;
    case "next":
      if (message.payload?.errors?.length) entry?.error?.(new Error(message.payload.errors[0].message));
      else if (message.payload?.data) entry?.next?.(message.payload.data);
      break;
    case "error":
      entry?.error?.(new Error(message.payload?.[0]?.message || "subscription error"));
      subscriptions.delete(message.id);
      break;
    case "complete":
      subscriptions.delete(message.id);
      break;
  }
}

function onClose(ws, event) {
  if (ws !== socket) return;
  socket = null;
  acknowledged = false;
  stopPing();
  if (REJECTED_TOKEN_CLOSES.has(event.code)) {
    signOut(`${t("api.signedOut")} (${event.reason || event.code})`);
    return;
  }
  if (subscriptions.size === 0 || !session.token) {
    setState("offline");
    return;
  }
  setState("offline");
  scheduleReconnect();
}

function scheduleReconnect() {
  const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt);
  attempt += 1;
  clearTimeout(retryTimer);
  retryTimer = setTimeout(connect, delay * (0.75 + Math.random() * 0.5));
}

// A socket can die without a close (a laptop's Wi-Fi dropping): an unanswered ping ends it.
function startPing() {
  stopPing();
  awaitingPong = false;
  pingTimer = setInterval(() => {
    if (awaitingPong) {
      socket?.close(4000, "no pong");
      return;
    }
    awaitingPong = true;
    send({ type: "ping" });
  }, PING_EVERY_MS);
}

function stopPing() {
  clearInterval(pingTimer);
  pingTimer = null;
}

function closeSocket() {
  clearTimeout(retryTimer);
  retryTimer = null;
  stopPing();
  subscriptions.clear();
  const ws = socket;
  socket = null;
  if (ws) ws.close(1000, "signed out");
  setState("offline");
}

export function subscribe(query, variables, { next, error } = {}) {
  const id = String(nextId++);
  const entry = { query, variables: variables || {}, next, error };
  subscriptions.set(id, entry);
  if (socket && acknowledged) sendSubscribe(id, entry);
  else connect();
  return () => {
    if (!subscriptions.delete(id)) return;
    if (acknowledged) send({ id, type: "complete" });
  };
}

window.addEventListener("online", () => {
  if (!socket && subscriptions.size) {
    attempt = 0;
    connect();
  }
});
window.addEventListener("offline", () => socket?.close(4000, "browser offline"));

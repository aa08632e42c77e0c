// The console's shell: sign-in, navigation, the hash router, the live-status light, and the
// ring of critical alerts (sound and browser notification) whichever page is open.

import {
  onConnectionState,
  onSessionChange,
  restoreSession,
  session,
  signIn,
  signOut,
  subscribe,
  takeSignOutReason,
} from "./api.js";
import { clear, h, stateMessage } from "./dom.js";
import { addStrings, lang, onLangChange, setLang, t } from "./i18n.js";

addStrings({
  zh: {
    "app.title": "平安社区 · 警务控制台",
    "app.signInTitle": "登录",
    "app.tokenLabel": "访问令牌",
    "app.tokenHint": "粘贴 make run 或 pingan token 打印的令牌",
    "app.signIn": "登录",
    "app.signingIn": "正在验证…",
    "app.signOut": "退出",
    "nav.feed": "实时警情",
    "nav.map": "辖区地图",
    "nav.community": "小区",
    "nav.vehicle": "车辆查询",
    "nav.trajectory": "轨迹",
    "nav.face-search": "人像检索",
    "nav.audit": "审计",
    "nav.graphiql": "GraphiQL",
    "nav.graphiqlHint": "在本标签页打开 GraphiQL，已自动填入令牌",
    "live.live": "实时",
    "live.connecting": "连接中…",
    "live.offline": "离线",
    "mute.on": "已静音",
    "mute.off": "声音开",
    "notify.enable": "开启通知",
    "notify.granted": "通知已开",
    "notify.denied": "通知被拒绝",
    "notify.unsupported": "浏览器不支持通知",
    "lang.switch": "English",
    "app.loading": "正在加载…",
    "app.viewFailed": "页面加载失败：{detail}",
    "app.notAllowed": "您的角色（{role}）无权使用此页面",
    "app.notFound": "没有这个页面：{route}",
    "app.criticalTitle": "紧急警情：{type}",
    "role.district_admin": "区级管理员",
    "role.district_officer": "区级民警",
    "role.community_officer": "社区民警",
    "role.property_manager": "物业",
    "role.analyst": "分析员",
  },
  en: {
    "app.title": "Pingan · Police console",
    "app.signInTitle": "Sign in",
    "app.tokenLabel": "Access token",
    "app.tokenHint": "Paste the token printed by make run or pingan token",
    "app.signIn": "Sign in",
    "app.signingIn": "Checking…",
    "app.signOut": "Sign out",
    "nav.feed": "Live alerts",
    "nav.map": "District map",
    "nav.community": "Community",
    "nav.vehicle": "Vehicle",
    "nav.trajectory": "Trajectory",
    "nav.face-search": "Face search",
    "nav.audit": "Audit",
    "nav.graphiql": "GraphiQL",
    "nav.graphiqlHint": "GraphiQL in this tab, with your token filled in",
    "live.live": "Live",
    "live.connecting": "Connecting…",
    "live.offline": "Offline",
    "mute.on": "Muted",
    "mute.off": "Sound on",
    "notify.enable": "Enable notifications",
    "notify.granted": "Notifications on",
    "notify.denied": "Notifications blocked",
    "notify.unsupported": "No notifications in this browser",
    "lang.switch": "中文",
    "app.loading": "Loading…",
    "app.viewFailed": "The page failed to load: {detail}",
    "app.notAllowed": "Your role ({role}) may not use this page",
    "app.notFound": "No such page: {route}",
    "app.criticalTitle": "Critical alert: {type}",
    "role.district_admin": "District admin",
    "role.district_officer": "District officer",
    "role.community_officer": "Community officer",
    "role.property_manager": "Property manager",
    "role.analyst": "Analyst",
  },
});

// Route name → [view module, permission it needs, nav test id].
const ROUTES = {
  feed: { module: "feed", needs: "read:alerts" },
  map: { module: "map", needs: "read:aggregates" },
  alert: { module: "alert", needs: "read:alerts", hidden: true },
  community: { module: "community", needs: "read:aggregates" },
  vehicle: { module: "vehicle", needs: "read:plates" },
  trajectory: { module: "trajectory", needs: "read:biometrics" },
  "face-search": { module: "face_search", needs: "read:biometrics" },
  audit: { module: "audit", needs: "read:audit" },
};
const MUTE_KEY = "pingan.muted";
const FRESH_ALERT_MS = 5 * 60 * 1000;

const root = document.getElementById("app");
let viewCleanup = null;
let routeSerial = 0;

function parseRoute() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = hash.split("?");
  const [name = "", id] = path.split("/").map(decodeURIComponent);
  const params = Object.fromEntries(new URLSearchParams(query));
  if (id) params.id = id;
  return { name: name || defaultRoute(), params };
}

function defaultRoute() {
  return session.may("read:alerts") ? "feed" : "map";
}

// ---- sign-in ----

function renderSignIn(reason) {
  stopRing();
  clear(root);
  const input = h("textarea", {
    id: "token",
    testid: "token-input",
    rows: 4,
    autocomplete: "off",
    spellcheck: "false",
    maxlength: 8192,
    placeholder: t("app.tokenHint"),
  });
  const error = h("p", { className: "state state-error", testid: "sign-in-error", role: "alert" });
  error.hidden = !reason;
  error.textContent = reason || "";
  const button = h("button", { type: "submit", testid: "sign-in" }, t("app.signIn"));
  const form = h(
    "form",
    { className: "sign-in" },
    h("h1", {}, t("app.title")),
    h("label", { for: "token" }, t("app.tokenLabel")),
    input,
    button,
    error,
    h("button", { type: "button", className: "link", testid: "lang-switch", onclick: toggleLang }, t("lang.switch")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    button.textContent = t("app.signingIn");
    try {
      await signIn(input.value);
      unlockAudio();
    } catch (failure) {
      error.textContent = failure.message;
      error.hidden = false;
      button.disabled = false;
      button.textContent = t("app.signIn");
    }
  });
  root.append(form);
  input.focus();
}

// `#token=<jwt>` (what make run prints) signs in and leaves the address bar clean.
async function signInFromFragment() {
  const match = location.hash.match(/^#token=([^&]+)/);
  if (!match) return false;
  history.replaceState(null, "", location.pathname + location.search + "#/");
  try {
    await signIn(decodeURIComponent(match[1]));
    return true;
  } catch (failure) {
    renderSignIn(failure.message);
    return false;
  }
}

// ---- shell ----

function navLinks(active) {
  return Object.entries(ROUTES)
    .filter(([, route]) => !route.hidden && session.may(route.needs))
    .map(([name]) =>
      h(
        "a",
        { href: `#/${name}`, testid: `nav-${name}`, className: name === active ? "active" : "" },
        t(`nav.${name}`),
      ),
    );
}

function liveStatus() {
  const el = h("span", { className: "live", testid: "live-status", "data-state": "offline" });
  const update = (state) => {
    el.dataset.state = state;
    el.textContent = t(`live.${state}`);
  };
  shellCleanups.push(onConnectionState(update));
  return el;
}

function muteButton() {
  const button = h("button", { type: "button", testid: "mute", className: "tool" });
  const show = () => {
    button.setAttribute("aria-pressed", String(isMuted()));
    button.dataset.muted = String(isMuted());
    button.textContent = isMuted() ? t("mute.on") : t("mute.off");
  };
  button.addEventListener("click", () => {
    setMuted(!isMuted());
    unlockAudio();
    show();
  });
  show();
  return button;
}

function notifyButton() {
  const button = h("button", { type: "button", testid: "notify-enable", className: "tool" });
  const show = () => {
    const state = "Notification" in window ? Notification.permission : "unsupported";
    button.dataset.permission = state;
    button.disabled = state !== "default";
    button.textContent =
      state === "granted"
        ? t("notify.granted")
        : state === "denied"
          ? t("notify.denied")
          : state === "unsupported"
            ? t("notify.unsupported")
            : t("notify.enable");
  };
  button.addEventListener("click", async () => {
    unlockAudio();
    if ("Notification" in window) await Notification.requestPermission();
    show();
  });
  show();
  return button;
}

let shellCleanups = [];

function renderShell(active) {
  for (const cleanup of shellCleanups) cleanup();
  shellCleanups = [];
  clear(root);
  const claims = session.claims;
  const header = h(
    "header",
    { className: "topbar" },
    h("span", { className: "brand" }, t("app.title")),
    h("nav", {}, navLinks(active), h("a", { href: "/graphql", title: t("nav.graphiqlHint") }, t("nav.graphiql"))),
    h(
      "div",
      { className: "tools" },
      liveStatus(),
      muteButton(),
      notifyButton(),
      h("button", { type: "button", testid: "lang-switch", className: "tool", onclick: toggleLang }, t("lang.switch")),
      h("span", { className: "whoami", testid: "whoami", title: (claims.communities || []).join(", ") }, `${claims.sub} · ${t(`role.${claims.role}`)}`),
      h("button", { type: "button", testid: "sign-out", className: "tool", onclick: () => signOut() }, t("app.signOut")),
    ),
  );
  const main = h("main", { id: "view" });
  root.append(header, main);
  return main;
}

function toggleLang() {
  setLang(lang() === "zh" ? "en" : "zh");
}

// ---- router ----

async function route() {
  if (!session.token) return;
  const serial = ++routeSerial;
  if (typeof viewCleanup === "function") viewCleanup();
  viewCleanup = null;
  const { name, params } = parseRoute();
  const main = renderShell(name);
  const spec = ROUTES[name];
  if (!spec) {
    main.append(stateMessage("error", t("app.notFound", { route: name })));
    return;
  }
  if (!session.may(spec.needs)) {
    main.append(stateMessage("error", t("app.notAllowed", { role: session.claims.role })));
    return;
  }
  main.append(stateMessage("loading", t("app.loading")));
  let view;
  try {
    view = await import(`./views/${spec.module}.js`);
  } catch (failure) {
    if (serial !== routeSerial) return;
    clear(main).append(stateMessage("error", t("app.viewFailed", { detail: failure.message })));
    return;
  }
  if (serial !== routeSerial) return;
  clear(main);
  try {
    const cleanup = await view.render(main, params, session);
    if (serial !== routeSerial) {
      if (typeof cleanup === "function") cleanup();
      return;
    }
    viewCleanup = cleanup;
  } catch (failure) {
    if (serial !== routeSerial) return;
    clear(main).append(stateMessage("error", t("app.viewFailed", { detail: failure.message })));
  }
}

// ---- critical alerts ring, whichever page is open ----

let audio = null;
let ringStop = null;
const rung = new Set();

function isMuted() {
  try {
    return localStorage.getItem(MUTE_KEY) === "1";
  } catch {
    return false;
  }
}

function setMuted(muted) {
  try {
    localStorage.setItem(MUTE_KEY, muted ? "1" : "0");
  } catch {
    // private mode: the choice lasts for this page only
  }
}

// Browsers start audio only after a user gesture: the sign-in click or any later click.
function unlockAudio() {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) return;
  audio = audio || new Context();
  if (audio.state === "suspended") audio.resume();
}

function beep() {
  if (isMuted() || !audio || audio.state !== "running") return;
  const start = audio.currentTime;
  [880, 660, 880].forEach((frequency, i) => {
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.type = "square";
    oscillator.frequency.value = frequency;
    gain.gain.setValueAtTime(0.08, start + i * 0.18);
    gain.gain.exponentialRampToValueAtTime(0.001, start + i * 0.18 + 0.16);
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start(start + i * 0.18);
    oscillator.stop(start + i * 0.18 + 0.17);
  });
}

function notify(alert) {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  if (document.visibilityState === "visible" && document.hasFocus()) return;
  const notification = new Notification(t("app.criticalTitle", { type: t(`type.${alert.type}`) }), {
    body: lang() === "zh" ? alert.explanationZh || alert.explanation : alert.explanation,
    tag: alert.id,
    requireInteraction: true,
  });
  notification.onclick = () => {
    window.focus();
    location.hash = `#/alert/${encodeURIComponent(alert.id)}`;
    notification.close();
  };
}

// Rings once per alert, when it is raised: later updates of the same alert (its count
// growing) stay silent, and alerts older than a few minutes do not ring after a reconnect.
function ring(alert) {
  if (alert.status !== "OPEN" || rung.has(alert.id)) return;
  rung.add(alert.id);
  if (Date.now() - Date.parse(alert.raisedAt) > FRESH_ALERT_MS) return;
  beep();
  notify(alert);
}

function startRing() {
  stopRing();
  if (!session.may("read:alerts")) return;
  ringStop = subscribe(
    `subscription CriticalAlerts {
      alerts(filter: {severities: [CRITICAL]}) { id type status raisedAt explanation explanationZh }
    }`,
    {},
    { next: (data) => ring(data.alerts), error: () => {} },
  );
}

function stopRing() {
  if (ringStop) ringStop();
  ringStop = null;
}

// ---- start ----

onSessionChange(() => {
  if (session.token) {
    startRing();
    route();
  } else {
    if (typeof viewCleanup === "function") viewCleanup();
    viewCleanup = null;
    renderSignIn(takeSignOutReason());
  }
});
window.addEventListener("hashchange", () => {
  if (location.hash.startsWith("#token=")) signInFromFragment();
  else route();
});
onLangChange(() => (session.token ? route() : renderSignIn(null)));
document.addEventListener("click", unlockAudio, { once: true });

if (location.hash.startsWith("#token=")) await signInFromFragment();
else if (!restoreSession()) renderSignIn(takeSignOutReason());

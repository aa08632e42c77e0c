// The live alert feed: the latest alerts, then every raise and update from the `alerts`
// subscription, newest first, handled in place.

import {
  ALERT_FIELDS,
  alertActions,
  communityNames,
  explanationOf,
  markAlert,
  severityBadge,
  statusBadge,
} from "../alert_parts.js";
import { gql, onConnectionState, subscribe } from "../api.js";
import { clear, h, stateMessage } from "../dom.js";
import { addStrings, formatTime, t } from "../i18n.js";

const PAGE = 100;
const MAX_SHOWN = 300;
const ACTIVE = ["OPEN", "ACKNOWLEDGED"];

addStrings({
  zh: {
    "feed.title": "实时警情",
    "feed.active": "未解决",
    "feed.all": "全部",
    "feed.show": "显示",
    "feed.loading": "正在加载警情…",
    "feed.empty": "暂无警情。新的警情会自动出现在这里。",
    "feed.emptyAll": "暂无警情。",
    "feed.failed": "无法加载警情：{detail}",
    "feed.streamFailed": "实时推送出错：{detail}",
  },
  en: {
    "feed.title": "Live alerts",
    "feed.active": "Unresolved",
    "feed.all": "All",
    "feed.show": "Show",
    "feed.loading": "Loading alerts…",
    "feed.empty": "No alerts. New ones appear here by themselves.",
    "feed.emptyAll": "No alerts.",
    "feed.failed": "Could not load the alerts: {detail}",
    "feed.streamFailed": "The live stream failed: {detail}",
  },
});

const LATEST = `query LatestAlerts($filter: AlertFilter, $first: Int) {
  alerts(filter: $filter, first: $first) { edges { node { ${ALERT_FIELDS} } } }
}`;
const LIVE = `subscription LiveAlerts($replay: Int!) {
  alerts(replaySeconds: $replay) { ${ALERT_FIELDS} }
}`;
// The first page comes from ClickHouse, which stores an alert a moment after it is raised:
// the subscription first replays the last minutes, so an alert raised while the page
// loads (or while the socket reconnects) is in one or the other.
const REPLAY_SECONDS = 300;

function newestFirst(a, b) {
  return Date.parse(b.firstSeen) - Date.parse(a.firstSeen) || (a.id < b.id ? 1 : -1);
}

export async function render(root, params) {
  const showAll = params.show === "all";
  const alerts = new Map();
  const items = new Map();
  const list = h("ol", { className: "alert-feed", testid: "alert-feed", "aria-live": "polite" });
  const notice = h("div", { className: "feed-notice" });
  let names = new Map();

  const filterLink = (all) =>
    h(
      "a",
      { href: all ? "#/feed?show=all" : "#/feed", className: showAll === all ? "active" : "" },
      t(all ? "feed.all" : "feed.active"),
    );
  root.append(
    h(
      "section",
      { className: "feed" },
      h(
        "div",
        { className: "view-head" },
        h("h2", {}, t("feed.title")),
        h("span", { className: "filter" }, t("feed.show"), " ", filterLink(false), " · ", filterLink(true)),
      ),
      notice,
      list,
    ),
  );

  function itemOf(alert) {
    const li = h(
      "li",
      { className: "alert-item", testid: "alert-item" },
      h(
        "div",
        { className: "alert-line" },
        severityBadge(alert),
        h("a", { className: "alert-type", href: `#/alert/${encodeURIComponent(alert.id)}` }, t(`type.${alert.type}`)),
        h("span", { className: "community" }, names.get(alert.communityId) || alert.communityId),
        h("time", { datetime: alert.firstSeen }, formatTime(alert.firstSeen)),
        alert.count > 1 && h("span", { className: "count" }, t("alert.count", { count: alert.count })),
        statusBadge(alert),
        alert.assignedTo && h("span", { className: "assigned" }, t("alert.assignedTo", { to: alert.assignedTo })),
      ),
      h("p", { className: "explanation" }, explanationOf(alert)),
      alertActions(alert, upsert),
    );
    markAlert(li, alert);
    return li;
  }

  function placeholder() {
    const existing = list.parentElement.querySelector("[data-testid=empty]");
    if (alerts.size === 0 && !existing) {
      list.before(stateMessage("empty", t(showAll ? "feed.emptyAll" : "feed.empty")));
    } else if (alerts.size > 0 && existing) {
      existing.remove();
    }
  }

  // A newer version of an alert replaces its item where it stands; a new alert goes to its
  // place by firstSeen (the top, as a rule). Alerts resolved while shown stay, greyed.
  function upsert(alert) {
    const known = alerts.get(alert.id);
    if (!known && !showAll && !ACTIVE.includes(alert.status)) return;
    if (known && Date.parse(known.updatedAt) > Date.parse(alert.updatedAt)) return;
    alerts.set(alert.id, alert);
    const fresh = itemOf(alert);
    if (!known && loaded) fresh.classList.add("fresh");
    const old = items.get(alert.id);
    items.set(alert.id, fresh);
    if (old) {
      old.replaceWith(fresh);
    } else {
      const after = [...alerts.values()]
        .filter((a) => a.id !== alert.id && newestFirst(a, alert) > 0)
        .sort(newestFirst)[0];
      const next = after ? items.get(after.id) : null;
      list.insertBefore(fresh, next || null);
    }
    trim();
    placeholder();
  }

  function trim() {
    while (alerts.size > MAX_SHOWN) {
      const oldest = [...alerts.values()].sort(newestFirst).at(-1);
      alerts.delete(oldest.id);
      items.get(oldest.id)?.remove();
      items.delete(oldest.id);
    }
  }

  // Subscribe first, so nothing raised while the first page loads is missed.
  const live = [];
  let loaded = false;
  const unsubscribe = subscribe(LIVE, { replay: REPLAY_SECONDS }, {
    next: (data) => (loaded ? upsert(data.alerts) : live.push(data.alerts)),
    error: (failure) => {
      clear(notice).append(stateMessage("error", t("feed.streamFailed", { detail: failure.message })));
    },
  });
  const loading = stateMessage("loading", t("feed.loading"));
  list.before(loading);
  try {
    const [data, communityMap] = await Promise.all([
      gql(LATEST, { filter: showAll ? null : { statuses: ACTIVE }, first: PAGE }),
      communityNames().catch(() => new Map()),
    ]);
    names = communityMap;
    for (const { node } of data.alerts.edges.slice().reverse()) upsert(node);
  } catch (failure) {
    loading.replaceWith(stateMessage("error", t("feed.failed", { detail: failure.message })));
    return unsubscribe;
  }
  loading.remove();
  loaded = true;
  for (const alert of live) upsert(alert);
  placeholder();
  const stopResync = resyncAfterOutage(async () => {
    const latest = await gql(LATEST, { filter: showAll ? null : { statuses: ACTIVE }, first: PAGE });
    for (const { node } of latest.alerts.edges.slice().reverse()) upsert(node);
  });
  return () => {
    stopResync();
    unsubscribe();
  };
}

// The subscription only carries what happens while it is connected: after an outage, the
// latest page is read again so that alerts raised or handled meanwhile are not missed.
function resyncAfterOutage(reload) {
  let wasDown = false;
  return onConnectionState((state) => {
    if (state !== "live") {
      wasDown = true;
    } else if (wasDown) {
      wasDown = false;
      reload().catch(() => {});
    }
  });
}

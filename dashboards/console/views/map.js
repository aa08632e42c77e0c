// The district map: each community where it lies, coloured by its open alerts, refreshed
// when alerts are raised or handled. A click opens the community's page.

import { gql, session, subscribe } from "../api.js";
import { clear, h, stateMessage } from "../dom.js";
import { addStrings, t } from "../i18n.js";
import { drawDistrict } from "../map.js";

const REFRESH_AFTER_MS = 2000;
const REPLAY_SECONDS = 60;
const MAP_ALERTS = `subscription MapAlerts($replay: Int!) {
  alerts(replaySeconds: $replay) { id status }
}`;

addStrings({
  zh: {
    "map.title": "辖区地图",
    "map.loading": "正在加载小区…",
    "map.empty": "没有可显示的小区。",
    "map.failed": "无法加载地图：{detail}",
    "map.legend.critical": "有紧急警情",
    "map.legend.high": "有高级警情",
    "map.legend.other": "有其他警情",
    "map.legend.none": "无未解决警情",
    "map.open": "未解决 {count}",
  },
  en: {
    "map.title": "District map",
    "map.loading": "Loading communities…",
    "map.empty": "No communities to show.",
    "map.failed": "Could not load the map: {detail}",
    "map.legend.critical": "Critical alerts open",
    "map.legend.high": "High alerts open",
    "map.legend.other": "Other alerts open",
    "map.legend.none": "No open alerts",
    "map.open": "{count} open",
  },
});

const COMMUNITIES = `query DistrictMap {
  communities { id name location { lat lon } openAlerts { critical high medium low } }
}`;

const COLOURS = { critical: "#dc2626", high: "#ea580c", other: "#ca8a04", none: "#16a34a" };

function levelOf(community) {
  const open = community.openAlerts;
  if (!open) return "none";
  if (open.critical) return "critical";
  if (open.high) return "high";
  return open.medium || open.low ? "other" : "none";
}

function openCount(community) {
  const open = community.openAlerts || {};
  return (open.critical || 0) + (open.high || 0) + (open.medium || 0) + (open.low || 0);
}

function legend() {
  return h(
    "ul",
    { className: "legend" },
    Object.entries(COLOURS).map(([level, colour]) =>
      h("li", {}, h("span", { className: `swatch swatch-${level}`, "data-colour": colour }), t(`map.legend.${level}`)),
    ),
  );
}

export async function render(root) {
  const canvas = h("div", { className: "district-map", testid: "district-map" });
  const list = h("ul", { className: "community-list" });
  root.append(
    h("section", { className: "map-view" }, h("div", { className: "view-head" }, h("h2", {}, t("map.title")), legend()), canvas, list),
  );

  async function draw() {
    const data = await gql(COMMUNITIES);
    clear(canvas);
    clear(list);
    const communities = data.communities;
    if (!communities.length) {
      canvas.append(stateMessage("empty", t("map.empty")));
      return;
    }
    drawDistrict(canvas, communities, {
      colourOf: (c) => COLOURS[levelOf(c)],
      emphasise: (c) => levelOf(c) !== "none",
      onSelect: (c) => (location.hash = `#/community/${encodeURIComponent(c.id)}`),
    });
    for (const c of communities.filter(openCount).sort((a, b) => openCount(b) - openCount(a))) {
      list.append(
        h(
          "li",
          { className: `level-${levelOf(c)}` },
          h("a", { href: `#/community/${encodeURIComponent(c.id)}` }, c.name),
          " ",
          t("map.open", { count: openCount(c) }),
        ),
      );
    }
  }

  canvas.append(stateMessage("loading", t("map.loading")));
  try {
    await draw();
  } catch (failure) {
    clear(canvas).append(stateMessage("error", t("map.failed", { detail: failure.message })));
    return undefined;
  }

  // Alerts change the colours: redraw once a burst of them has passed. The replay covers
  // alerts raised while the counts were read but not yet stored.
  let timer = null;
  const unsubscribe = session.may("read:alerts")
    ? subscribe(MAP_ALERTS, { replay: REPLAY_SECONDS }, {
        next: () => {
          clearTimeout(timer);
          timer = setTimeout(() => draw().catch(() => {}), REFRESH_AFTER_MS);
        },
      })
    : () => {};
  return () => {
    clearTimeout(timer);
    unsubscribe();
  };
}

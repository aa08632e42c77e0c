// What the lookup views share: building elements, the loading/empty/error states, district
// time, the caller's communities, a purpose field, and crops fetched with the bearer token.

import { fetchImageUrl, gql } from "../api.js";
import { h, stateMessage } from "../dom.js";
import { addStrings, formatTime, lang, t } from "../i18n.js";

export { formatTime, h };

addStrings({
  zh: {
    "kit.loading": "加载中…",
    "kit.purpose": "用途（案件编号或事由）",
    "kit.purposeHint": "每次查询都会记入审计日志",
    "kit.search": "查询",
    "kit.since": "起始（北京时间）",
    "kit.until": "截止（北京时间）",
    "kit.cropMissing": "无图像",
    "kit.camera": "摄像头 {id}",
    "kit.door.GATE": "小区门 {id}",
    "kit.door.UNIT_DOOR": "单元门 {id}",
    "kit.door.CHARGING_SHED": "充电棚门 {id}",
    "kit.gate": "车辆道闸 {id}",
    "kit.minutes": "{n} 分钟",
    "kit.seconds": "{n} 秒",
    "kit.hours": "{h} 小时 {m} 分",
  },
  en: {
    "kit.loading": "Loading…",
    "kit.purpose": "Purpose (case number or reason)",
    "kit.purposeHint": "Every lookup is recorded in the audit log",
    "kit.search": "Search",
    "kit.since": "From (Beijing time)",
    "kit.until": "Until (Beijing time)",
    "kit.cropMissing": "no image",
    "kit.camera": "camera {id}",
    "kit.door.GATE": "community gate {id}",
    "kit.door.UNIT_DOOR": "unit door {id}",
    "kit.door.CHARGING_SHED": "charging shed door {id}",
    "kit.gate": "vehicle gate {id}",
    "kit.minutes": "{n} min",
    "kit.seconds": "{n} s",
    "kit.hours": "{h} h {m} min",
  },
});

const DISTRICT_ZONE = "Asia/Shanghai";
const DISTRICT_OFFSET = "+08:00";
export const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;

/** The page's `loading`, `empty` and `error` hooks: one message that says what is wrong. */
export function showState(container, state, message) {
  container.replaceChildren(stateMessage(state, message));
}

/** Runs `work` with `loading` shown in `container`; on failure shows `error` with the API's
 * own message (a permission refusal names the permission) and resolves to undefined. */
export async function loading(container, work) {
  showState(container, "loading", t("kit.loading"));
  try {
    return await work();
  } catch (error) {
    showState(container, "error", error.message || String(error));
    return undefined;
  }
}

function formatter(options) {
  return new Intl.DateTimeFormat(lang() === "en" ? "en-GB" : "zh-CN",
    { timeZone: DISTRICT_ZONE, hour12: false, ...options });
}

export function formatDay(date) {
  return formatter({ month: "2-digit", day: "2-digit" }).format(date);
}

export function formatHour(date) {
  return formatter({ day: "2-digit", hour: "2-digit", minute: "2-digit" }).format(date);
}

export function formatDuration(seconds) {
  const s = Math.round(seconds);
  if (s < 60) return t("kit.seconds", { n: s });
  if (s < 3600) return t("kit.minutes", { n: Math.round(s / 60) });
  return t("kit.hours", { h: Math.floor(s / 3600), m: Math.round((s % 3600) / 60) });
}

/** Midnight in district time, `daysBack` days before today's: where DAY buckets start. */
export function districtMidnight(daysBack = 0) {
  const offset = 8 * HOUR;
  const today = Math.floor((Date.now() + offset) / DAY) * DAY - offset;
  return new Date(today - daysBack * DAY);
}

export function startOfHour(hoursBack = 0) {
  return new Date(Math.floor(Date.now() / HOUR) * HOUR - hoursBack * HOUR);
}

/** A datetime-local value ("2026-12-01T08:00") read as district time, as the API wants it. */
export function districtInstant(value) {
  if (!value) return null;
  return `${value.length === 16 ? `${value}:00` : value}${DISTRICT_OFFSET}`;
}

export function placeLabel(place) {
  if (place.cameraId) return t("kit.camera", { id: place.cameraId });
  if (place.gateId) return t("kit.gate", { id: place.gateId });
  return t(`kit.door.${place.doorKind || "GATE"}`, { id: place.doorId });
}

let communityList = null;

/** The caller's communities (id, name, location), fetched once per sign-in. */
export async function communities(session) {
  if (!communityList || communityList.token !== session.token) {
    const request = gql("{ communities { id name district location { lat lon } } }");
    communityList = { token: session.token, request: request.then((d) => d.communities) };
    request.catch(() => { communityList = null; });
  }
  return communityList.request;
}

export function communityName(list, id) {
  return list.find((c) => c.id === id)?.name || id;
}

/** The purpose input every audited lookup needs; prefilled from the route. */
export function purposeField(testid, value) {
  return h("label", { className: "field field-purpose" }, t("kit.purpose"),
    h("input", { name: "purpose", "data-testid": testid, required: true, maxlength: 500,
      value: value || "", autocomplete: "off" }),
    h("small", {}, t("kit.purposeHint")));
}

export function windowFields(prefix, params) {
  const input = (name) => h("input", { type: "datetime-local", name, "data-testid": `${prefix}-${name}`,
    value: (params[name] || "").slice(0, 16) });
  return [h("label", { className: "field" }, t("kit.since"), input("since")),
    h("label", { className: "field" }, t("kit.until"), input("until"))];
}

/** A route hash from a path and its query parameters, leaving out empty ones. */
export function routeHash(path, query) {
  const kept = Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== "");
  return kept.length ? `#/${path}?${new URLSearchParams(kept)}` : `#/${path}`;
}

/** Crops are behind the bearer token, so an <img src> cannot load them: each is fetched as a
 * blob and shown from an object URL, revoked by `close` when the view goes. */
export function cropLoader() {
  const urls = [];
  let closed = false;
  const missing = () => h("span", { className: "crop crop-missing" }, t("kit.cropMissing"));
  function image(cropUrl, alt) {
    if (!cropUrl) return missing();
    const img = h("img", { className: "crop", alt, "data-testid": "crop" });
    fetchImageUrl(cropUrl).then((url) => {
      if (closed) return URL.revokeObjectURL(url);
      urls.push(url);
      img.src = url;
      return undefined;
    }, () => img.replaceWith(missing()));
    return img;
  }
  function close() {
    closed = true;
    urls.splice(0).forEach((u) => URL.revokeObjectURL(u));
  }
  return { image, close };
}

export const alertTypeLabel = (type) => t(`type.${type}`);
export const severityLabel = (severity) => t(`severity.${severity}`);
export const statusLabel = (status) => t(`status.${status}`);

/** A small table: headers, then one row of cells per item (text or elements). */
export function table(testid, headers, rows) {
  return h("div", { className: "table-scroll" },
    h("table", { "data-testid": testid, className: "data-table" },
      h("thead", {}, h("tr", {}, headers.map((text) => h("th", {}, text)))),
      h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((c) => h("td", {}, c)))))));
}

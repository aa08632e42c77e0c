// #/community/<id>: one community's alerts by type per day, gate traffic per hour, devices
// offline and parking revenue. Without an id: a picker of the caller's communities.

import { gql } from "../api.js";
import { barChart, lineChart } from "../charts.js";
import { addStrings, t } from "../i18n.js";
import {
  HOUR, alertTypeLabel, communities, districtMidnight, formatDay, formatHour,
  formatTime, h, loading, showState, startOfHour, table,
} from "./kit.js";

addStrings({
  zh: {
    "community.pick": "选择小区",
    "community.none": "您的账号没有可查看的小区。",
    "community.unknown": "没有可查看的小区“{id}”。",
    "community.alerts": "近 14 天各类告警（按日）",
    "community.alertsEmpty": "近 14 天没有告警。",
    "community.passages": "近 48 小时车辆通行（按小时）",
    "community.passagesEmpty": "近 48 小时没有车辆通行记录。",
    "community.entries": "驶入",
    "community.exits": "驶出",
    "community.devices": "离线设备",
    "community.devicesEmpty": "所有设备在线。",
    "community.devicesMore": "共 {n} 台离线，仅列出前 {shown} 台。",
    "community.revenue": "近 14 天停车收入（按日，元）",
    "community.revenueEmpty": "近 14 天没有计费的停车记录。",
    "community.revenueTotal": "合计 ¥{fee}，{n} 笔",
    "community.day": "日期",
    "community.hour": "时间",
    "community.count": "条数",
    "community.yuan": "元",
    "community.device": "设备",
    "community.kind": "类型",
    "community.lastHeard": "最后上报",
    "community.openAlerts": "未处理告警：紧急 {critical} · 高 {high} · 中 {medium} · 低 {low}",
    "community.eventsToday": "今日事件 {n} 条",
    "community.onMap": "在地图上查看",
    "community.kind.CAMERA": "摄像头",
    "community.kind.DOOR": "门禁",
    "community.kind.CHARGING_SHED": "充电棚",
    "community.kind.FENCE_CONTROLLER": "周界控制器",
    "community.kind.SMOKE_DETECTOR": "烟感",
    "community.kind.BRACELET_GATEWAY": "手环网关",
  },
  en: {
    "community.pick": "Choose a community",
    "community.none": "Your account may see no community.",
    "community.unknown": "There is no community “{id}” you may see.",
    "community.alerts": "Alerts by type per day, last 14 days",
    "community.alertsEmpty": "No alerts in the last 14 days.",
    "community.passages": "Vehicle passages per hour, last 48 hours",
    "community.passagesEmpty": "No vehicle passages in the last 48 hours.",
    "community.entries": "In",
    "community.exits": "Out",
    "community.devices": "Devices offline",
    "community.devicesEmpty": "Every device is online.",
    "community.devicesMore": "{n} offline; the first {shown} are listed.",
    "community.revenue": "Parking revenue per day, last 14 days (yuan)",
    "community.revenueEmpty": "No paid parking stays in the last 14 days.",
    "community.revenueTotal": "Total ¥{fee} from {n} stays",
    "community.day": "Day",
    "community.hour": "Time",
    "community.count": "Count",
    "community.yuan": "yuan",
    "community.device": "Device",
    "community.kind": "Kind",
    "community.lastHeard": "Last heard",
    "community.openAlerts": "Open alerts: critical {critical} · high {high} · medium {medium} · low {low}",
    "community.eventsToday": "{n} events today",
    "community.onMap": "Show on the map",
    "community.kind.CAMERA": "camera",
    "community.kind.DOOR": "door",
    "community.kind.CHARGING_SHED": "charging shed",
    "community.kind.FENCE_CONTROLLER": "fence controller",
    "community.kind.SMOKE_DETECTOR": "smoke detector",
    "community.kind.BRACELET_GATEWAY": "bracelet gateway",
  },
});

const DAYS = 14;
const HOURS = 48;
const DEVICES_SHOWN = 50;

const HEADER = `{ communities { id name district openAlerts { critical high medium low } eventsToday } }`;
const ALERTS = `query($since: DateTime!, $ids: [ID!]) {
  alertStats(bucket: DAY, since: $since, groupBy: TYPE, communityIds: $ids) { bucketStart key count } }`;
const PASSAGES = `query($since: DateTime!, $ids: [ID!]) {
  passageStats(bucket: HOUR, since: $since, communityIds: $ids) { bucketStart entries exits } }`;
const DEVICES = `query($ids: [ID!], $first: Int) {
  devices(communityIds: $ids, status: OFFLINE, first: $first) {
    edges { node { id kind controllerId lastHeard onlineMetric } } totalCount } }`;
const REVENUE = `query($since: DateTime!, $ids: [ID!]) {
  parkingRevenue(bucket: DAY, since: $since, communityIds: $ids) { bucketStart sessions fee } }`;

export function render(root, params, session) {
  const page = h("div", { "data-testid": "community-page", className: "view community-view" });
  root.replaceChildren(page);
  if (params.id) showCommunity(page, params.id, session);
  else pick(page, session);
}

async function pick(page, session) {
  const list = await loading(page, () => communities(session));
  if (!list) return;
  if (!list.length) return showState(page, "empty", t("community.none"));
  if (list.length === 1) return showCommunity(page, list[0].id, session);
  page.replaceChildren(h("h1", {}, t("community.pick")),
    h("ul", { className: "community-picker" }, list.map((c) =>
      h("li", {}, h("a", { href: `#/community/${encodeURIComponent(c.id)}`,
        "data-testid": "community-link", "data-community": c.id }, c.name)))));
}

async function showCommunity(page, id, session) {
  const header = h("header", { className: "community-header" });
  page.replaceChildren(header);
  const data = await loading(header, () => gql(HEADER));
  const community = data?.communities.find((c) => c.id === id);
  if (!data) return;
  if (!community) return showState(header, "error", t("community.unknown", { id }));
  header.replaceChildren(
    h("h1", {}, community.name, h("small", {}, ` ${community.district} · ${community.id}`)),
    h("p", {}, t("community.openAlerts", community.openAlerts), " · ",
      t("community.eventsToday", { n: community.eventsToday }), " · ",
      h("a", { href: "#/map" }, t("community.onMap"))));
  const panels = [panel(page, "community.alerts", () => alertsByType(id))];
  panels.push(panel(page, "community.passages", () => passagesPerHour(id)));
  if (session.may("read:devices")) panels.push(panel(page, "community.devices", () => offlineDevices(id)));
  if (session.may("read:parking")) panels.push(panel(page, "community.revenue", () => revenuePerDay(id)));
  await Promise.all(panels);
}

/** Each panel loads on its own, so one refused or failing query leaves the others shown. */
async function panel(page, titleKey, draw) {
  const body = h("div", { className: "panel-body" });
  page.append(h("section", { className: "panel" }, h("h2", {}, t(titleKey)), body));
  const content = await loading(body, draw);
  if (content) body.replaceChildren(...[content].flat());
}

function days() {
  return Array.from({ length: DAYS }, (_, i) => districtMidnight(DAYS - 1 - i));
}

async function alertsByType(id) {
  const since = districtMidnight(DAYS - 1);
  const { alertStats } = await gql(ALERTS, { since: since.toISOString(), ids: [id] });
  if (!alertStats.length) return empty("community.alertsEmpty");
  const byDay = new Map(days().map((d) => [d.getTime(), {}]));
  for (const s of alertStats) {
    const values = byDay.get(Date.parse(s.bucketStart));
    if (values) values[s.key] = (values[s.key] || 0) + s.count;
  }
  const chart = h("div", { className: "chart-box", "data-testid": "community-alerts-chart" });
  barChart(chart, [...byDay].map(([day, values]) => ({ label: formatDay(new Date(day)), values })),
    { title: t("community.alerts"), yLabel: t("community.count"), keyLabel: alertTypeLabel,
      integer: true });
  return chart;
}

async function passagesPerHour(id) {
  const since = startOfHour(HOURS - 1);
  const { passageStats } = await gql(PASSAGES, { since: since.toISOString(), ids: [id] });
  if (!passageStats.length) return empty("community.passagesEmpty");
  const counts = new Map(passageStats.map((s) => [Date.parse(s.bucketStart), s]));
  const hours = Array.from({ length: HOURS }, (_, i) => new Date(since.getTime() + i * HOUR));
  const line = (field) => hours.map((x) => ({ x, y: counts.get(x.getTime())?.[field] || 0 }));
  const chart = h("div", { className: "chart-box", "data-testid": "community-passages-chart" });
  lineChart(chart, [{ key: "entries", points: line("entries") }, { key: "exits", points: line("exits") }],
    { title: t("community.passages"), yLabel: t("community.count"), formatX: formatHour, integer: true,
      keyLabel: (key) => t(`community.${key}`) });
  return chart;
}

async function offlineDevices(id) {
  const { devices } = await gql(DEVICES, { ids: [id], first: DEVICES_SHOWN });
  const nodes = devices.edges.map((e) => e.node);
  if (!nodes.length) return empty("community.devicesEmpty");
  const rows = nodes.map((d) => [d.id, t(`community.kind.${d.kind}`), formatTime(d.lastHeard)]);
  const listed = table("community-devices-offline",
    [t("community.device"), t("community.kind"), t("community.lastHeard")], rows);
  if (devices.totalCount <= nodes.length) return listed;
  return [listed, h("p", {}, t("community.devicesMore", { n: devices.totalCount, shown: nodes.length }))];
}

async function revenuePerDay(id) {
  const since = districtMidnight(DAYS - 1);
  const { parkingRevenue } = await gql(REVENUE, { since: since.toISOString(), ids: [id] });
  if (!parkingRevenue.length) return empty("community.revenueEmpty");
  const byDay = new Map(parkingRevenue.map((r) => [Date.parse(r.bucketStart), Number(r.fee)]));
  const fen = parkingRevenue.reduce((sum, r) => sum + Math.round(Number(r.fee) * 100), 0);
  const stays = parkingRevenue.reduce((sum, r) => sum + r.sessions, 0);
  const chart = h("div", { className: "chart-box", "data-testid": "community-revenue-chart" });
  barChart(chart, days().map((d) => ({ label: formatDay(d), value: byDay.get(d.getTime()) || 0 })),
    { title: t("community.revenue"), yLabel: t("community.yuan"), formatY: yuan });
  return [chart, h("p", { className: "total" },
    t("community.revenueTotal", { fee: (fen / 100).toFixed(2), n: stays }))];
}

function yuan(value) {
  return `¥${Number.isInteger(value) ? value : value.toFixed(2)}`;
}

function empty(key) {
  return h("p", { "data-testid": "empty", className: "state state-empty" }, t(key));
}

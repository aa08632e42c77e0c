// #/vehicle?plate=…&purpose=…: what the district knows of one plate. The lookup is audited,
// so it runs only with a purpose; the route carries both so a link repeats the same lookup.

import { gql } from "../api.js";
import { addStrings, lang, t } from "../i18n.js";
import {
  alertTypeLabel, communities, communityName, formatDuration, formatTime, h, loading,
  purposeField, routeHash, severityLabel, showState, statusLabel, table,
} from "./kit.js";

addStrings({
  zh: {
    "vehicle.title": "车辆查询",
    "vehicle.plate": "车牌号",
    "vehicle.needPurpose": "请填写用途后再查询：每次查询都会记入审计日志。",
    "vehicle.nothing": "您可查看的小区中没有车牌 {plate} 的任何记录。",
    "vehicle.registrations": "登记",
    "vehicle.notRegistered": "未登记为任何住户的车辆。",
    "vehicle.passes": "月卡",
    "vehicle.noPasses": "无月卡。",
    "vehicle.passages": "最近通行",
    "vehicle.noPassages": "无通行记录。",
    "vehicle.stays": "停车记录与费用",
    "vehicle.noStays": "无停车记录。",
    "vehicle.alerts": "相关告警",
    "vehicle.noAlerts": "无相关告警。",
    "vehicle.trajectory": "查看该车辆轨迹",
    "vehicle.community": "小区",
    "vehicle.person": "住户",
    "vehicle.validFrom": "生效",
    "vehicle.validUntil": "到期",
    "vehicle.time": "时间",
    "vehicle.gate": "道闸",
    "vehicle.direction": "方向",
    "vehicle.IN": "驶入",
    "vehicle.OUT": "驶出",
    "vehicle.confidence": "识别置信度",
    "vehicle.started": "入场",
    "vehicle.exited": "出场",
    "vehicle.duration": "时长",
    "vehicle.fee": "费用",
    "vehicle.status": "状态",
    "vehicle.type": "类型",
    "vehicle.severity": "级别",
    "vehicle.explanation": "说明",
    "vehicle.session.OPEN": "在场",
    "vehicle.session.OVERDUE": "超时未出",
    "vehicle.session.CLOSED": "已结束",
    "vehicle.session.ENTRY_WITHOUT_EXIT": "有入无出",
    "vehicle.session.EXIT_WITHOUT_ENTRY": "有出无入",
  },
  en: {
    "vehicle.title": "Vehicle lookup",
    "vehicle.plate": "Plate",
    "vehicle.needPurpose": "Give a purpose, then search: every lookup is recorded in the audit log.",
    "vehicle.nothing": "Your communities hold no record of the plate {plate}.",
    "vehicle.registrations": "Registration",
    "vehicle.notRegistered": "Not registered to any resident.",
    "vehicle.passes": "Monthly passes",
    "vehicle.noPasses": "No monthly pass.",
    "vehicle.passages": "Latest passages",
    "vehicle.noPassages": "No passages.",
    "vehicle.stays": "Parking stays and fees",
    "vehicle.noStays": "No parking stays.",
    "vehicle.alerts": "Alerts about the plate",
    "vehicle.noAlerts": "No alerts.",
    "vehicle.trajectory": "Follow this plate's trajectory",
    "vehicle.community": "Community",
    "vehicle.person": "Resident",
    "vehicle.validFrom": "From",
    "vehicle.validUntil": "Until",
    "vehicle.time": "Time",
    "vehicle.gate": "Gate",
    "vehicle.direction": "Direction",
    "vehicle.IN": "In",
    "vehicle.OUT": "Out",
    "vehicle.confidence": "Confidence",
    "vehicle.started": "Entered",
    "vehicle.exited": "Left",
    "vehicle.duration": "Duration",
    "vehicle.fee": "Fee",
    "vehicle.status": "Status",
    "vehicle.type": "Type",
    "vehicle.severity": "Severity",
    "vehicle.explanation": "Explanation",
    "vehicle.session.OPEN": "parked",
    "vehicle.session.OVERDUE": "overdue",
    "vehicle.session.CLOSED": "closed",
    "vehicle.session.ENTRY_WITHOUT_EXIT": "entry without exit",
    "vehicle.session.EXIT_WITHOUT_ENTRY": "exit without entry",
  },
});

const VEHICLE = `query($plate: String!, $purpose: String!) { vehicle(plate: $plate, purpose: $purpose) {
  plate
  registrations { communityId personId }
  monthlyPasses { communityId validFrom validUntil personId }
  recentPassages { id communityId direction gateId confidence occurredAt }
  parkingSessions { id communityId status startedAt exitedAt durationSeconds fee feeBasis reason }
  alerts { id type severity status communityId firstSeen explanation explanationZh } } }`;

export function render(root, params, session) {
  const result = h("div", { "data-testid": "vehicle-result", className: "lookup-result" });
  const form = h("form", { className: "lookup-form", "data-testid": "vehicle-form",
    onsubmit: (event) => {
      event.preventDefault();
      const data = new FormData(form);
      location.hash = routeHash("vehicle", { plate: data.get("plate").trim(),
        purpose: data.get("purpose").trim() });
    } },
  h("label", { className: "field" }, t("vehicle.plate"),
    h("input", { name: "plate", "data-testid": "plate-input", required: true, maxlength: 16,
      value: params.plate || "", autocomplete: "off", placeholder: "鄂A12345" })),
  purposeField("vehicle-purpose", params.purpose),
  h("button", { type: "submit", "data-testid": "vehicle-search" }, t("kit.search")));
  root.replaceChildren(h("div", { className: "view vehicle-view" },
    h("h1", {}, t("vehicle.title")), form, result));
  if (params.plate && params.purpose) lookUp(result, params.plate, params.purpose, session);
  else if (params.plate) showState(result, "empty", t("vehicle.needPurpose"));
}

async function lookUp(result, plate, purpose, session) {
  const found = await loading(result, () =>
    Promise.all([gql(VEHICLE, { plate, purpose }), communities(session)]));
  if (!found) return;
  const [{ vehicle }, list] = found;
  const name = (id) => communityName(list, id);
  const { registrations, monthlyPasses, recentPassages, parkingSessions, alerts } = vehicle;
  if (![registrations, monthlyPasses, recentPassages, parkingSessions, alerts].some((l) => l.length)) {
    return showState(result, "empty", t("vehicle.nothing", { plate: vehicle.plate }));
  }
  result.replaceChildren(
    h("h2", { className: "plate" }, vehicle.plate, " ",
      h("a", { href: routeHash("trajectory", { plate: vehicle.plate, purpose }),
        "data-testid": "vehicle-trajectory" }, t("vehicle.trajectory"))),
    section("vehicle.registrations", "vehicle.notRegistered", registrations,
      [t("vehicle.community"), t("vehicle.person")], (r) => [name(r.communityId), r.personId]),
    section("vehicle.passes", "vehicle.noPasses", monthlyPasses,
      [t("vehicle.community"), t("vehicle.validFrom"), t("vehicle.validUntil"), t("vehicle.person")],
      (p) => [name(p.communityId), formatTime(p.validFrom), formatTime(p.validUntil), p.personId || "—"]),
    section("vehicle.passages", "vehicle.noPassages", recentPassages,
      [t("vehicle.time"), t("vehicle.community"), t("vehicle.gate"), t("vehicle.direction"),
        t("vehicle.confidence")],
      (p) => [formatTime(p.occurredAt), name(p.communityId), p.gateId, t(`vehicle.${p.direction}`),
        `${Math.round(p.confidence * 100)}%`]),
    section("vehicle.stays", "vehicle.noStays", parkingSessions,
      [t("vehicle.community"), t("vehicle.started"), t("vehicle.exited"), t("vehicle.duration"),
        t("vehicle.fee"), t("vehicle.status")],
      (s) => [name(s.communityId), formatTime(s.startedAt), s.exitedAt ? formatTime(s.exitedAt) : "—",
        s.durationSeconds === null ? "—" : formatDuration(s.durationSeconds),
        s.fee === null ? "—" : `¥${s.fee}`, h("span", { title: s.reason || s.feeBasis }, t(`vehicle.session.${s.status}`))]),
    section("vehicle.alerts", "vehicle.noAlerts", alerts,
      [t("vehicle.time"), t("vehicle.community"), t("vehicle.type"), t("vehicle.severity"),
        t("vehicle.status"), t("vehicle.explanation")],
      (a) => [h("a", { href: `#/alert/${encodeURIComponent(a.id)}` }, formatTime(a.firstSeen)),
        name(a.communityId), alertTypeLabel(a.type), severityLabel(a.severity), statusLabel(a.status),
        (lang() === "en" ? a.explanation : a.explanationZh) || a.explanation]),
  );
}

function section(titleKey, emptyKey, items, headers, cells) {
  return h("section", { className: "panel" }, h("h3", {}, t(titleKey)),
    items.length ? table(null, headers, items.map(cells)) : h("p", { className: "muted" }, t(emptyKey)));
}

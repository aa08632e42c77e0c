// One alert: its explanation (Chinese first), the evidence an officer checks before acting —
// plate snapshot, face crops, the fence cameras' captures, the shed slot's temperature, the
// throw's floor and window — then who did what, and when. Kept current by the subscription.

import {
  ALERT_FIELDS,
  alertActions,
  communityNames,
  explanationOf,
  markAlert,
  severityBadge,
  statusBadge,
} from "../alert_parts.js";
import { fetchImageUrl, gql, session, subscribe } from "../api.js";
import { lineChart } from "../charts.js";
import { clear, h, stateMessage } from "../dom.js";
import { addStrings, formatTime, lang, t } from "../i18n.js";

addStrings({
  zh: {
    "detail.back": "← 返回警情列表",
    "detail.loading": "正在加载警情…",
    "detail.missing": "没有编号为 {id} 的警情，或您无权查看。",
    "detail.failed": "无法加载警情：{detail}",
    "detail.subject": "对象",
    "detail.community": "小区",
    "detail.firstSeen": "首次发现",
    "detail.lastSeen": "最近一次",
    "detail.count": "次数",
    "detail.assignedTo": "指派给",
    "detail.note": "备注",
    "detail.otherLanguage": "英文说明",
    "detail.evidence": "证据",
    "detail.noEvidence": "此警情没有附带证据。",
    "detail.history": "处置记录",
    "detail.noHistory": "尚无人处置。",
    "detail.throwOrigin": "抛出位置：{floor} 楼，从左数第 {window} 扇窗",
    "detail.throwFloor": "抛出位置：约 {floor} 楼",
    "detail.temperature": "充电位温度（°C）",
    "detail.noReadings": "该时段没有温度读数。",
    "detail.snapshotMissing": "抓拍 {ref} 未保存在本服务器",
    "detail.cropFailed": "人脸图像无法加载：{detail}",
    "detail.cropAlt": "人脸抓拍 {id}",
    "detail.snapshotAlt": "抓拍 {ref}",
    "kind.vehicle_passage": "车辆通行",
    "kind.face_capture": "人脸抓拍",
    "kind.camera_analytics": "视频分析",
    "kind.device_telemetry": "设备读数",
    "kind.perimeter_alarm": "周界报警",
    "kind.door_access": "门禁记录",
    "kind.bracelet_reading": "手环读数",
    "action.acknowledge": "确认",
    "action.assign": "指派",
    "action.resolve": "解决",
    "history.when": "时间",
    "history.who": "处置人",
    "history.what": "操作",
    "history.note": "备注",
  },
  en: {
    "detail.back": "← Back to the alerts",
    "detail.loading": "Loading the alert…",
    "detail.missing": "There is no alert {id}, or you may not see it.",
    "detail.failed": "Could not load the alert: {detail}",
    "detail.subject": "Subject",
    "detail.community": "Community",
    "detail.firstSeen": "First seen",
    "detail.lastSeen": "Last seen",
    "detail.count": "Count",
    "detail.assignedTo": "Assigned to",
    "detail.note": "Note",
    "detail.otherLanguage": "Chinese explanation",
    "detail.evidence": "Evidence",
    "detail.noEvidence": "This alert carries no evidence.",
    "detail.history": "Handling",
    "detail.noHistory": "Nobody has handled it yet.",
    "detail.throwOrigin": "Thrown from floor {floor}, window {window} from the left",
    "detail.throwFloor": "Thrown from about floor {floor}",
    "detail.temperature": "Slot temperature (°C)",
    "detail.noReadings": "No temperature readings in that time.",
    "detail.snapshotMissing": "Snapshot {ref} is not kept on this server",
    "detail.cropFailed": "The face crop could not be loaded: {detail}",
    "detail.cropAlt": "Face capture {id}",
    "detail.snapshotAlt": "Snapshot {ref}",
    "kind.vehicle_passage": "Vehicle passage",
    "kind.face_capture": "Face capture",
    "kind.camera_analytics": "Video analytics",
    "kind.device_telemetry": "Device reading",
    "kind.perimeter_alarm": "Fence alarm",
    "kind.door_access": "Door access",
    "kind.bracelet_reading": "Bracelet reading",
    "action.acknowledge": "Acknowledged",
    "action.assign": "Assigned",
    "action.resolve": "Resolved",
    "history.when": "When",
    "history.who": "Who",
    "history.what": "What",
    "history.note": "Note",
  },
});

function detailQuery() {
  const curve = session.may("read:devices") ? "temperatureCurve { at temperatureC }" : "";
  return `query AlertDetail($id: ID!) {
    alert(id: $id) {
      ${ALERT_FIELDS}
      evidence { eventId eventKind occurredAt summary floor windowColumn snapshots { ref image } cropUrl }
      history { action actor actorRole at note assignedTo }
      ${curve}
    }
  }`;
}

function facts(alert, names) {
  const row = (label, value) => value !== null && value !== undefined && value !== "" && [h("dt", {}, t(label)), h("dd", {}, value)];
  return h(
    "dl",
    { className: "facts" },
    row("detail.subject", alert.subject),
    row("detail.community", names.get(alert.communityId) || alert.communityId),
    row("detail.firstSeen", formatTime(alert.firstSeen)),
    row("detail.lastSeen", formatTime(alert.lastSeen)),
    row("detail.count", alert.count),
    row("detail.assignedTo", alert.assignedTo),
    row("detail.note", alert.note),
  );
}

function explanation(alert) {
  const other = lang() === "zh" ? alert.explanation : alert.explanationZh;
  return h(
    "section",
    { className: "explanation", testid: "alert-explanation" },
    h("p", { className: "primary" }, explanationOf(alert)),
    other && other !== explanationOf(alert) && h("details", {}, h("summary", {}, t("detail.otherLanguage")), h("p", {}, other)),
  );
}

// Crops need the bearer token, so they are fetched, not linked; object URLs are revoked
// when the page is left.
function cropImage(item, objectUrls) {
  const figure = h("figure", { className: "evidence-crop" });
  fetchImageUrl(item.cropUrl).then(
    (url) => {
      objectUrls.push(url);
      figure.append(h("img", { src: url, alt: t("detail.cropAlt", { id: item.eventId }) }));
    },
    (failure) => figure.append(h("figcaption", { className: "muted" }, t("detail.cropFailed", { detail: failure.message }))),
  );
  return figure;
}

function snapshotImages(item) {
  return item.snapshots.map((shot) =>
    shot.image
      ? h("figure", { className: "snapshot" }, h("img", { src: shot.image, alt: t("detail.snapshotAlt", { ref: shot.ref }) }))
      : h("p", { className: "muted snapshot-missing" }, t("detail.snapshotMissing", { ref: shot.ref })),
  );
}

function throwOrigin(item) {
  if (item.floor === null || item.floor === undefined) return null;
  const text =
    item.windowColumn === null || item.windowColumn === undefined
      ? t("detail.throwFloor", { floor: item.floor })
      : t("detail.throwOrigin", { floor: item.floor, window: item.windowColumn });
  return h("p", { className: "throw-origin", testid: "throw-origin" }, text);
}

function evidenceItem(item, objectUrls) {
  return h(
    "li",
    { className: `evidence-item kind-${item.eventKind}`, "data-event-kind": item.eventKind },
    h(
      "div",
      { className: "evidence-line" },
      h("time", { datetime: item.occurredAt }, formatTime(item.occurredAt)),
      h("span", { className: "badge" }, t(`kind.${item.eventKind}`)),
      h("span", {}, item.summary),
    ),
    throwOrigin(item),
    h("div", { className: "pictures" }, snapshotImages(item), item.cropUrl && cropImage(item, objectUrls)),
  );
}

function temperatureCurve(alert) {
  if (alert.type !== "CHARGING_OVERHEAT" || !alert.temperatureCurve) return null;
  const box = h("figure", { className: "temperature-curve", testid: "temperature-curve" }, h("figcaption", {}, t("detail.temperature")));
  if (!alert.temperatureCurve.length) {
    box.append(stateMessage("empty", t("detail.noReadings")));
    return box;
  }
  const chart = h("div", { className: "chart-box" });
  box.append(chart);
  lineChart(
    chart,
    alert.temperatureCurve.map((r) => ({ x: new Date(r.at), y: r.temperatureC })),
    {
      title: t("detail.temperature"),
      yLabel: "°C",
      formatX: (x) => formatTime(x instanceof Date ? x.toISOString() : new Date(x).toISOString(), { date: false }),
      formatY: (y) => `${Math.round(y * 10) / 10}`,
    },
  );
  return box;
}

function evidence(alert, objectUrls) {
  const items = alert.evidence.map((item) => evidenceItem(item, objectUrls));
  return h(
    "section",
    { className: "evidence", testid: "alert-evidence" },
    h("h3", {}, t("detail.evidence")),
    temperatureCurve(alert),
    items.length ? h("ol", { className: "evidence-list" }, items) : stateMessage("empty", t("detail.noEvidence")),
  );
}

function history(alert) {
  const steps = alert.history || [];
  return h(
    "section",
    { className: "history", testid: "alert-history" },
    h("h3", {}, t("detail.history")),
    steps.length
      ? h(
          "table",
          {},
          h("thead", {}, h("tr", {}, ["history.when", "history.who", "history.what", "history.note"].map((k) => h("th", {}, t(k))))),
          h(
            "tbody",
            {},
            steps.map((step) =>
              h(
                "tr",
                { "data-action": step.action },
                h("td", {}, formatTime(step.at)),
                h("td", {}, `${step.actor} (${t(`role.${step.actorRole}`)})`),
                h("td", {}, t(`action.${step.action}`), step.assignedTo ? ` → ${step.assignedTo}` : ""),
                h("td", {}, step.note),
              ),
            ),
          ),
        )
      : h("p", { className: "muted" }, t("detail.noHistory")),
  );
}

export async function render(root, params) {
  const id = params.id;
  const page = h("article", { className: "alert-detail", testid: "alert-detail" });
  root.append(h("p", {}, h("a", { href: "#/feed" }, t("detail.back"))), page);
  let objectUrls = [];
  let shown = null;

  async function load() {
    const [data, names] = await Promise.all([gql(detailQuery(), { id }), communityNames().catch(() => new Map())]);
    const alert = data.alert;
    for (const url of objectUrls) URL.revokeObjectURL(url);
    objectUrls = [];
    clear(page);
    if (!alert) {
      page.append(stateMessage("empty", t("detail.missing", { id })));
      return null;
    }
    shown = alert;
    markAlert(page, alert);
    page.append(
      h(
        "header",
        { className: "detail-head" },
        severityBadge(alert),
        h("h2", {}, t(`type.${alert.type}`)),
        statusBadge(alert),
      ),
      explanation(alert),
      alertActions(alert, () => load().catch(showFailure)),
      facts(alert, names),
      evidence(alert, objectUrls),
      history(alert),
    );
    return alert;
  }

  function showFailure(failure) {
    clear(page).append(stateMessage("error", t("detail.failed", { detail: failure.message })));
  }

  page.append(stateMessage("loading", t("detail.loading")));
  let alert;
  try {
    alert = await load();
  } catch (failure) {
    showFailure(failure);
    return undefined;
  }
  if (!alert) return undefined;

  // Another officer's step, or the rule's own update, shows here as it happens.
  const unsubscribe = subscribe(
    "subscription AlertChanges($filter: AlertFilter) { alerts(filter: $filter) { id updatedAt } }",
    { filter: { communityIds: [alert.communityId], types: [alert.type] } },
    {
      next: (data) => {
        if (data.alerts.id === id && data.alerts.updatedAt !== shown?.updatedAt) load().catch(showFailure);
      },
    },
  );
  return () => {
    unsubscribe();
    for (const url of objectUrls) URL.revokeObjectURL(url);
  };
}

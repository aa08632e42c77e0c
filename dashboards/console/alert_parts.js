// What the feed and the alert detail share: the alert's fields, its badges, and the
// acknowledge / assign / resolve controls with their note.

import { gql, session } from "./api.js";
import { h } from "./dom.js";
import { addStrings, lang, t } from "./i18n.js";

export const NOTE_MAX_LENGTH = 2000;
export const ASSIGNEE_MAX_LENGTH = 128;

export const ALERT_FIELDS = `id type severity status communityId subjectKind subject
  firstSeen lastSeen count explanation explanationZh raisedAt updatedAt resolvedAt note assignedTo`;

addStrings({
  zh: {
    "actions.note": "备注（可选）",
    "actions.assignee": "指派给（警号/登录名）",
    "actions.ack": "确认",
    "actions.assign": "指派",
    "actions.resolve": "解决",
    "actions.assigneeMissing": "请填写指派对象",
    "actions.failed": "操作失败：{detail}",
    "actions.done.acknowledge": "已确认",
    "actions.done.assign": "已指派给 {to}",
    "actions.done.resolve": "已解决",
    "alert.assignedTo": "指派给 {to}",
    "alert.count": "{count} 次",
    "alert.detail": "详情",
  },
  en: {
    "actions.note": "Note (optional)",
    "actions.assignee": "Assign to (sign-in name)",
    "actions.ack": "Acknowledge",
    "actions.assign": "Assign",
    "actions.resolve": "Resolve",
    "actions.assigneeMissing": "Name the officer to assign it to",
    "actions.failed": "Failed: {detail}",
    "actions.done.acknowledge": "Acknowledged",
    "actions.done.assign": "Assigned to {to}",
    "actions.done.resolve": "Resolved",
    "alert.assignedTo": "Assigned to {to}",
    "alert.count": "{count}×",
    "alert.detail": "Details",
  },
});

export function explanationOf(alert) {
  return lang() === "zh" ? alert.explanationZh || alert.explanation : alert.explanation;
}

export function severityBadge(alert) {
  return h(
    "span",
    { className: `badge severity-${alert.severity.toLowerCase()}` },
    t(`severity.${alert.severity}`),
  );
}

export function statusBadge(alert) {
  return h(
    "span",
    { className: `badge status-${alert.status.toLowerCase()}` },
    t(`status.${alert.status}`),
  );
}

// The data-* attributes the browser tests and the styles read, kept current on every update.
export function markAlert(el, alert) {
  el.dataset.alertId = alert.id;
  el.dataset.severity = alert.severity.toLowerCase();
  el.dataset.status = alert.status.toLowerCase();
  el.dataset.community = alert.communityId;
  el.dataset.alertType = alert.type;
}

const MUTATIONS = {
  acknowledge: `mutation Acknowledge($id: ID!, $note: String) {
    acknowledgeAlert(id: $id, note: $note) { ${ALERT_FIELDS} }
  }`,
  assign: `mutation Assign($id: ID!, $to: String!, $note: String) {
    assignAlert(id: $id, to: $to, note: $note) { ${ALERT_FIELDS} }
  }`,
  resolve: `mutation Resolve($id: ID!, $note: String) {
    resolveAlert(id: $id, note: $note) { ${ALERT_FIELDS} }
  }`,
};

async function step(action, alert, note, to) {
  const variables = { id: alert.id, note: note || null };
  if (action === "assign") variables.to = to;
  const data = await gql(MUTATIONS[action], variables);
  return data.acknowledgeAlert || data.assignAlert || data.resolveAlert;
}

// The controls for one alert; `onChanged(alert)` receives the alert as the API returns it.
export function alertActions(alert, onChanged) {
  if (!session.may("handle:alerts")) return null;
  const note = h("input", {
    type: "text",
    testid: "alert-note",
    maxlength: NOTE_MAX_LENGTH,
    placeholder: t("actions.note"),
    "aria-label": t("actions.note"),
  });
  const assignee = h("input", {
    type: "text",
    testid: "alert-assignee",
    maxlength: ASSIGNEE_MAX_LENGTH,
    placeholder: t("actions.assignee"),
    "aria-label": t("actions.assignee"),
  });
  const message = h("span", { className: "action-message", role: "status" });
  const buttons = [];

  async function run(action) {
    const to = assignee.value.trim();
    if (action === "assign" && !to) {
      message.textContent = t("actions.assigneeMissing");
      message.className = "action-message failed";
      assignee.focus();
      return;
    }
    for (const b of buttons) b.disabled = true;
    message.textContent = "";
    try {
      const updated = await step(action, alert, note.value.trim(), to);
      message.textContent = t(`actions.done.${action}`, { to });
      message.className = "action-message done";
      note.value = "";
      onChanged(updated);
    } catch (failure) {
      message.textContent = t("actions.failed", { detail: failure.message });
      message.className = "action-message failed";
      for (const b of buttons) b.disabled = false;
    }
  }

  const button = (action, testid, label, show) => {
    if (!show) return null;
    const b = h("button", { type: "button", testid, onclick: () => run(action) }, t(label));
    buttons.push(b);
    return b;
  };
  const resolved = alert.status === "RESOLVED";
  return h(
    "div",
    { className: "alert-actions" },
    note,
    button("acknowledge", "alert-ack", "actions.ack", alert.status === "OPEN"),
    !resolved && assignee,
    button("assign", "alert-assign", "actions.assign", !resolved),
    button("resolve", "alert-resolve", "actions.resolve", !resolved),
    message,
  );
}

let namesFor = null;
let names = null;

// Community id → name, fetched once per signed-in token.
export async function communityNames() {
  if (namesFor !== session.token || !names) {
    namesFor = session.token;
    names = gql("query CommunityNames { communities { id name } }").then(
      (data) => new Map(data.communities.map((c) => [c.id, c.name])),
      (failure) => {
        names = null;
        throw failure;
      },
    );
  }
  return names;
}

// #/audit?actor=…&operation=…&since=…: who looked at whom, for district admins. Filters live
// in the route; pages are followed with the API's cursors.

import { gql } from "../api.js";
import { addStrings, t } from "../i18n.js";
import { districtInstant, formatTime, h, loading, routeHash, showState, table } from "./kit.js";

addStrings({
  zh: {
    "audit.title": "审计日志",
    "audit.forbidden": "只有区级管理员可以查看审计日志（需要 read:audit 权限）。",
    "audit.actor": "操作人",
    "audit.operation": "操作",
    "audit.since": "起始（北京时间）",
    "audit.filter": "筛选",
    "audit.clear": "清除",
    "audit.empty": "没有符合条件的审计记录。",
    "audit.count": "共 {n} 条，第 {page} 页",
    "audit.prev": "上一页",
    "audit.next": "下一页",
    "audit.at": "时间",
    "audit.role": "角色",
    "audit.purpose": "用途",
    "audit.communities": "小区",
    "audit.results": "结果数",
    "audit.client": "来源地址",
    "audit.arguments": "参数",
  },
  en: {
    "audit.title": "Audit log",
    "audit.forbidden": "Only district admins may read the audit log (it needs read:audit).",
    "audit.actor": "Actor",
    "audit.operation": "Operation",
    "audit.since": "Since (Beijing time)",
    "audit.filter": "Filter",
    "audit.clear": "Clear",
    "audit.empty": "No audit records match.",
    "audit.count": "{n} records, page {page}",
    "audit.prev": "Previous",
    "audit.next": "Next",
    "audit.at": "Time",
    "audit.role": "Role",
    "audit.purpose": "Purpose",
    "audit.communities": "Communities",
    "audit.results": "Results",
    "audit.client": "Client",
    "audit.arguments": "Arguments",
  },
});

const PAGE = 50;
const ARGUMENTS_SHOWN = 80;
const AUDIT = `query($since: DateTime, $actor: String, $operation: String, $first: Int, $after: String) {
  auditLog(since: $since, actor: $actor, operation: $operation, first: $first, after: $after) {
    edges { node { id at actor actorRole operation arguments communityIds purpose resultCount clientAddress } }
    pageInfo { hasNextPage endCursor } totalCount } }`;

export function render(root, params, session) {
  const view = h("div", { className: "view audit-view" }, h("h1", {}, t("audit.title")));
  root.replaceChildren(view);
  const results = h("div", { className: "audit-results" });
  if (!session.may("read:audit")) {
    view.append(results);
    return showState(results, "error", t("audit.forbidden"));
  }
  const field = (name, label, attrs = {}) => h("label", { className: "field" }, t(label),
    h("input", { name, "data-testid": `audit-${name}`, value: params[name] || "", maxlength: 200,
      autocomplete: "off", ...attrs }));
  const form = h("form", { className: "lookup-form", "data-testid": "audit-filters",
    onsubmit: (event) => {
      event.preventDefault();
      const data = new FormData(form);
      location.hash = routeHash("audit", Object.fromEntries(
        ["actor", "operation", "since"].map((k) => [k, String(data.get(k)).trim()])));
    } },
  field("actor", "audit.actor"),
  field("operation", "audit.operation", { placeholder: "trajectory" }),
  field("since", "audit.since", { type: "datetime-local", value: (params.since || "").slice(0, 16) }),
  h("button", { type: "submit", "data-testid": "audit-filter" }, t("audit.filter")),
  h("a", { href: "#/audit", className: "button-link" }, t("audit.clear")));
  view.append(form, results);
  const filters = { actor: params.actor || null, operation: params.operation || null,
    since: districtInstant(params.since) };
  showPage(results, filters, []);
  return undefined;
}

/** `cursors` holds the `after` of every page up to this one: its last is this page's. */
async function showPage(results, filters, cursors) {
  const data = await loading(results, () =>
    gql(AUDIT, { ...filters, first: PAGE, after: cursors.at(-1) || null }));
  if (!data) return;
  const { edges, pageInfo, totalCount } = data.auditLog;
  if (!edges.length) return showState(results, "empty", t("audit.empty"));
  const rows = edges.map(({ node: r }) => [formatTime(r.at), r.actor, r.actorRole, r.operation,
    r.purpose, r.communityIds.join(", ") || "*", String(r.resultCount), r.clientAddress,
    h("code", { title: r.arguments }, shorten(r.arguments))]);
  const headers = ["audit.at", "audit.actor", "audit.role", "audit.operation", "audit.purpose",
    "audit.communities", "audit.results", "audit.client", "audit.arguments"].map((k) => t(k));
  results.replaceChildren(
    table("audit-table", headers, rows),
    h("nav", { className: "pager" },
      h("button", { type: "button", "data-testid": "audit-prev", disabled: !cursors.length,
        onclick: () => showPage(results, filters, cursors.slice(0, -1)) }, t("audit.prev")),
      h("span", {}, t("audit.count", { n: totalCount, page: cursors.length + 1 })),
      h("button", { type: "button", "data-testid": "audit-next", disabled: !pageInfo.hasNextPage,
        onclick: () => showPage(results, filters, [...cursors, pageInfo.endCursor]) }, t("audit.next"))));
}

function shorten(text) {
  return text.length > ARGUMENTS_SHOWN ? `${text.slice(0, ARGUMENTS_SHOWN)}…` : text;
}

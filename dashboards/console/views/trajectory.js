// #/trajectory?plate=…|person=…|capture=…&purpose=…: where one vehicle, person or face was
// seen, on a timeline and on the district map. The lost-wallet case follows a person from
// camera to camera to the unit door they went through, so that last door is called out.

import { gql } from "../api.js";
import { addStrings, t } from "../i18n.js";
import { drawDistrict } from "../map.js";
import {
  communities, communityName, cropLoader, districtInstant, formatDuration, formatTime, h, loading,
  placeLabel, purposeField, routeHash, showState, windowFields,
} from "./kit.js";

addStrings({
  zh: {
    "trajectory.title": "轨迹查询",
    "trajectory.subject": "查询对象",
    "trajectory.kind.plate": "车牌",
    "trajectory.kind.person": "人员编号",
    "trajectory.kind.capture": "抓拍编号",
    "trajectory.value": "号码",
    "trajectory.needPurpose": "请填写用途后再查询：每次查询都会记入审计日志。",
    "trajectory.nothing": "该时段内您可查看的小区中没有任何记录。",
    "trajectory.window": "{since} 至 {until}，共 {n} 处",
    "trajectory.truncated": "记录过多，仅显示前 {n} 处：请缩短时间范围。",
    "trajectory.unknownFace": "未匹配到住户：按相似度 ≥ {score} 追踪同一张脸。",
    "trajectory.person": "人员 {id}",
    "trajectory.destination": "最后进入：{community} {door}，{at}",
    "trajectory.lastSeen": "最后出现：{community} {place}，{at}",
    "trajectory.finalDoor": "最后进入的单元门",
    "trajectory.dwell": "停留 {d}",
    "trajectory.events": "{n} 条记录",
    "trajectory.FACE_CAPTURE": "人脸抓拍",
    "trajectory.DOOR_ACCESS": "门禁",
    "trajectory.VEHICLE_PASSAGE": "车辆通行",
    "trajectory.method.FACE": "刷脸",
    "trajectory.method.CARD": "刷卡",
    "trajectory.method.ID_CARD": "身份证",
    "trajectory.method.QR": "二维码",
    "trajectory.method.PASSWORD": "密码",
    "trajectory.denied": "（被拒）",
    "trajectory.IN": "驶入",
    "trajectory.OUT": "驶出",
  },
  en: {
    "trajectory.title": "Trajectory",
    "trajectory.subject": "Follow",
    "trajectory.kind.plate": "Plate",
    "trajectory.kind.person": "Person id",
    "trajectory.kind.capture": "Capture id",
    "trajectory.value": "Id",
    "trajectory.needPurpose": "Give a purpose, then search: every lookup is recorded in the audit log.",
    "trajectory.nothing": "Nothing was seen in your communities in that window.",
    "trajectory.window": "{since} to {until}: {n} places",
    "trajectory.truncated": "Too many sightings: only the first {n} are shown. Narrow the window.",
    "trajectory.unknownFace": "No resident matched: the same face is followed at similarity ≥ {score}.",
    "trajectory.person": "Person {id}",
    "trajectory.destination": "Last went in: {community} {door}, {at}",
    "trajectory.lastSeen": "Last seen: {community} {place}, {at}",
    "trajectory.finalDoor": "The unit door they went in by",
    "trajectory.dwell": "stayed {d}",
    "trajectory.events": "{n} events",
    "trajectory.FACE_CAPTURE": "Face capture",
    "trajectory.DOOR_ACCESS": "Door access",
    "trajectory.VEHICLE_PASSAGE": "Vehicle passage",
    "trajectory.method.FACE": "face",
    "trajectory.method.CARD": "card",
    "trajectory.method.ID_CARD": "ID card",
    "trajectory.method.QR": "QR code",
    "trajectory.method.PASSWORD": "password",
    "trajectory.denied": " (denied)",
    "trajectory.IN": "in",
    "trajectory.OUT": "out",
  },
});

const KINDS = ["plate", "person", "capture"];
const CROPS_PER_SIGHTING = 4;
/** At least ~1.5 km around the path on the map: the neighbouring communities for context. */
const MAP_MARGIN_DEGREES = 0.03;
const TRAJECTORY = `query($purpose: String!, $personId: String, $captureId: ID, $plate: String,
    $since: DateTime, $until: DateTime) {
  trajectory(purpose: $purpose, personId: $personId, captureId: $captureId, plate: $plate,
      since: $since, until: $until) {
    personId captureId plate matchThreshold since until truncated
    sightings { kind firstSeen lastSeen dwellSeconds
      place { communityId cameraId doorId doorKind gateId }
      evidence { eventId occurredAt cropUrl accessMethod granted direction } } } }`;

export function render(root, params, session) {
  const kind = KINDS.find((k) => params[k]) || "plate";
  const result = h("div", { className: "lookup-result trajectory-result" });
  const form = h("form", { className: "lookup-form", "data-testid": "trajectory-form",
    onsubmit: (event) => {
      event.preventDefault();
      const data = new FormData(form);
      location.hash = routeHash("trajectory", {
        [data.get("kind")]: data.get("subject").trim(), purpose: data.get("purpose").trim(),
        since: data.get("since"), until: data.get("until"),
      });
    } },
  h("label", { className: "field" }, t("trajectory.subject"),
    h("select", { name: "kind", "data-testid": "trajectory-kind" }, KINDS.map((k) =>
      h("option", { value: k, selected: k === kind }, t(`trajectory.kind.${k}`))))),
  h("label", { className: "field" }, t("trajectory.value"),
    h("input", { name: "subject", "data-testid": "trajectory-subject", required: true,
      maxlength: 64, value: params[kind] || "", autocomplete: "off" })),
  purposeField("trajectory-purpose", params.purpose),
  ...windowFields("trajectory", params),
  h("button", { type: "submit", "data-testid": "trajectory-search" }, t("kit.search")));
  root.replaceChildren(h("div", { className: "view trajectory-view" },
    h("h1", {}, t("trajectory.title")), form, result));
  const crops = cropLoader();
  if (params[kind] && params.purpose) follow(result, kind, params, session, crops);
  else if (params[kind]) showState(result, "empty", t("trajectory.needPurpose"));
  return crops.close;
}

async function follow(result, kind, params, session, crops) {
  const variables = {
    purpose: params.purpose,
    plate: kind === "plate" ? params.plate : null,
    personId: kind === "person" ? params.person : null,
    captureId: kind === "capture" ? params.capture : null,
    since: districtInstant(params.since),
    until: districtInstant(params.until),
  };
  const found = await loading(result, () => Promise.all([gql(TRAJECTORY, variables), communities(session)]));
  if (!found) return;
  const [{ trajectory }, list] = found;
  if (!trajectory.sightings.length) return showState(result, "empty", t("trajectory.nothing"));
  const sightings = trajectory.sightings;
  const finalDoor = sightings.findLastIndex((s) => s.place.doorKind === "UNIT_DOOR");
  const map = h("div", { className: "trajectory-map", "data-testid": "trajectory-map" });
  result.replaceChildren(
    summary(trajectory, sightings, finalDoor, list),
    h("div", { className: "trajectory-layout" },
      h("ol", { "data-testid": "trajectory-timeline", className: "timeline" },
        sightings.map((s, i) => sightingItem(s, i, i === finalDoor, list, crops))),
      map));
  const path = pathOf(sightings, list);
  drawDistrict(map, around(path, list), {
    path,
    colourOf: (c) => (c.id === sightings[finalDoor]?.place.communityId ? "#dc2626"
      : sightings.some((s) => s.place.communityId === c.id) ? "#2563eb" : "#cbd5e1"),
    onSelect: (c) => { location.hash = `#/community/${encodeURIComponent(c.id)}`; },
  });
}

function summary(trajectory, sightings, finalDoor, list) {
  const notes = [h("p", {}, t("trajectory.window", { since: formatTime(trajectory.since),
    until: formatTime(trajectory.until), n: sightings.length }))];
  if (trajectory.personId) notes.unshift(h("p", {}, t("trajectory.person", { id: trajectory.personId })));
  if (trajectory.matchThreshold !== null && !trajectory.personId) {
    notes.push(h("p", {}, t("trajectory.unknownFace", { score: trajectory.matchThreshold.toFixed(2) })));
  }
  if (trajectory.truncated) {
    notes.push(h("p", { className: "warning" }, t("trajectory.truncated", { n: sightings.length })));
  }
  const last = sightings.at(-1);
  const end = finalDoor >= 0
    ? t("trajectory.destination", { community: communityName(list, sightings[finalDoor].place.communityId),
      door: placeLabel(sightings[finalDoor].place), at: formatTime(sightings[finalDoor].firstSeen) })
    : t("trajectory.lastSeen", { community: communityName(list, last.place.communityId),
      place: placeLabel(last.place), at: formatTime(last.lastSeen) });
  return h("div", { className: "trajectory-summary" },
    h("p", { className: finalDoor >= 0 ? "destination final-door" : "destination",
      "data-testid": "trajectory-destination" }, end), ...notes);
}

function sightingItem(sighting, index, isFinalDoor, list, crops) {
  const { place, evidence } = sighting;
  const times = sighting.dwellSeconds > 0
    ? `${formatTime(sighting.firstSeen)} – ${formatTime(sighting.lastSeen)}`
    : formatTime(sighting.firstSeen);
  const withCrops = evidence.filter((e) => e.cropUrl).slice(0, CROPS_PER_SIGHTING);
  return h("li", { className: `sighting sighting-${sighting.kind.toLowerCase()}${isFinalDoor ? " final-door" : ""}`,
    "data-testid": "trajectory-sighting", "data-kind": sighting.kind,
    "data-community": place.communityId, "data-final-door": isFinalDoor },
  h("span", { className: "sighting-number" }, String(index + 1)),
  h("div", { className: "sighting-body" },
    isFinalDoor ? h("strong", { className: "final-door-flag" }, t("trajectory.finalDoor")) : null,
    h("div", { className: "sighting-when" }, times),
    h("div", { className: "sighting-where" }, `${communityName(list, place.communityId)} · ${placeLabel(place)}`),
    h("div", { className: "sighting-how" }, [t(`trajectory.${sighting.kind}`), methods(evidence),
      sighting.dwellSeconds > 0 ? t("trajectory.dwell", { d: formatDuration(sighting.dwellSeconds) }) : "",
      evidence.length > 1 ? t("trajectory.events", { n: evidence.length }) : ""].filter(Boolean).join(" · ")),
    withCrops.length ? h("div", { className: "sighting-crops" },
      withCrops.map((e) => crops.image(e.cropUrl, formatTime(e.occurredAt)))) : null));
}

/** How the doors were opened, or which way the vehicle went: each distinct one once. */
function methods(evidence) {
  const seen = evidence.map((e) => {
    if (e.accessMethod) return t(`trajectory.method.${e.accessMethod}`) + (e.granted === false ? t("trajectory.denied") : "");
    return e.direction ? t(`trajectory.${e.direction}`) : "";
  });
  return [...new Set(seen.filter(Boolean))].join("/");
}

/** The communities near the path, so a walk between neighbours is not a dot on the district. */
function around(path, list) {
  const lats = path.map((p) => p.lat);
  const lons = path.map((p) => p.lon);
  const margin = Math.max(MAP_MARGIN_DEGREES, Math.max(...lats) - Math.min(...lats),
    Math.max(...lons) - Math.min(...lons)) / 2;
  const near = list.filter((c) => c.location.lat >= Math.min(...lats) - margin
    && c.location.lat <= Math.max(...lats) + margin && c.location.lon >= Math.min(...lons) - margin
    && c.location.lon <= Math.max(...lons) + margin);
  return near.length ? near : list;
}

/** One map stop per stretch of sightings in the same community, named with their numbers on
 * the timeline, so the map and the timeline read together. */
function pathOf(sightings, list) {
  const stretches = [];
  sightings.forEach((s, i) => {
    const last = stretches.at(-1);
    if (last && last.community.id === s.place.communityId) last.to = i + 1;
    else {
      const community = list.find((c) => c.id === s.place.communityId);
      if (community) stretches.push({ community, from: i + 1, to: i + 1, at: s.firstSeen });
    }
  });
  return stretches.map(({ community, from, to, at }) => ({
    lat: community.location.lat, lon: community.location.lon, at: formatTime(at),
    label: `${community.name} #${from === to ? from : `${from}–${to}`}`,
  }));
}

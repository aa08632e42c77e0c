// #/face-search: captures like the face in an uploaded photo, for the roles that may read
// biometrics. The photo goes to the API only, in base64; the search is audited with its hash.

import { gql } from "../api.js";
import { addStrings, t } from "../i18n.js";
import {
  communities, communityName, cropLoader, districtInstant, formatTime, h, loading, routeHash,
  purposeField, showState, windowFields,
} from "./kit.js";

addStrings({
  zh: {
    "faceSearch.title": "以图搜人",
    "faceSearch.photo": "照片（JPEG 或 PNG，不超过 5 MB，一张清晰的人脸）",
    "faceSearch.topK": "最多结果数",
    "faceSearch.forbidden": "您的角色无权进行人脸检索（需要 read:biometrics 权限）。",
    "faceSearch.tooLarge": "照片 {mb} MB，超过 5 MB 上限：请换一张较小的照片。",
    "faceSearch.wrongType": "只接受 JPEG 或 PNG 照片。",
    "faceSearch.start": "上传一张照片并填写用途后开始检索。",
    "faceSearch.none": "没有相似度 ≥ {score} 的抓拍（{since} 至 {until}）。",
    "faceSearch.found": "{n} 条抓拍，相似度 ≥ {score}；照片人脸质量 {quality}",
    "faceSearch.score": "相似度 {score}",
    "faceSearch.quality": "质量 {quality}",
    "faceSearch.camera": "摄像头 {id}",
    "faceSearch.matched": "已匹配住户 {id}",
    "faceSearch.unknown": "未匹配住户",
    "faceSearch.trajectory": "查看轨迹",
  },
  en: {
    "faceSearch.title": "Face search",
    "faceSearch.photo": "Photo (JPEG or PNG, at most 5 MB, one clear face)",
    "faceSearch.topK": "Most results",
    "faceSearch.forbidden": "Your role may not search faces (it needs read:biometrics).",
    "faceSearch.tooLarge": "The photo is {mb} MB, over the 5 MB limit: choose a smaller one.",
    "faceSearch.wrongType": "Only JPEG or PNG photos are accepted.",
    "faceSearch.start": "Upload a photo and give a purpose to search.",
    "faceSearch.none": "No capture scores at least {score} ({since} to {until}).",
    "faceSearch.found": "{n} captures scoring at least {score}; the photo's face quality is {quality}",
    "faceSearch.score": "similarity {score}",
    "faceSearch.quality": "quality {quality}",
    "faceSearch.camera": "camera {id}",
    "faceSearch.matched": "matched resident {id}",
    "faceSearch.unknown": "no resident matched",
    "faceSearch.trajectory": "Trajectory",
  },
});

const MAX_PHOTO_BYTES = 5 * 1024 * 1024;
const TYPES = ["image/jpeg", "image/png"];
const SEARCH = `query($image: String!, $purpose: String!, $since: DateTime, $until: DateTime, $topK: Int!) {
  faceSearch(image: $image, purpose: $purpose, since: $since, until: $until, topK: $topK) {
    minScore since until photoQuality
    matches { captureId communityId cameraId occurredAt score quality matchedPersonId cropUrl } } }`;

export function render(root, params, session) {
  const view = h("div", { className: "view face-search-view" }, h("h1", {}, t("faceSearch.title")));
  root.replaceChildren(view);
  if (!session.may("read:biometrics")) {
    const message = h("div");
    view.append(message);
    showState(message, "error", t("faceSearch.forbidden"));
    return undefined;
  }
  const results = h("div", { "data-testid": "face-search-results", className: "face-results" });
  const crops = cropLoader();
  const form = h("form", { "data-testid": "face-search-form", className: "lookup-form",
    onsubmit: (event) => {
      event.preventDefault();
      search(new FormData(form), results, session, crops);
    } },
  h("label", { className: "field" }, t("faceSearch.photo"),
    h("input", { type: "file", name: "photo", accept: TYPES.join(","), required: true,
      "data-testid": "face-search-file" })),
  purposeField("face-search-purpose", params.purpose),
  ...windowFields("face-search", params),
  h("label", { className: "field field-narrow" }, t("faceSearch.topK"),
    h("input", { type: "number", name: "topK", min: 1, max: 100, value: 10,
      "data-testid": "face-search-topk" })),
  h("button", { type: "submit", "data-testid": "face-search-submit" }, t("kit.search")));
  view.append(form, results);
  showState(results, "empty", t("faceSearch.start"));
  return crops.close;
}

async function search(data, results, session, crops) {
  const photo = data.get("photo");
  if (!TYPES.includes(photo.type)) return showState(results, "error", t("faceSearch.wrongType"));
  if (photo.size > MAX_PHOTO_BYTES) {
    return showState(results, "error", t("faceSearch.tooLarge", { mb: (photo.size / 2 ** 20).toFixed(1) }));
  }
  const purpose = data.get("purpose").trim();
  const found = await loading(results, async () => Promise.all([
    gql(SEARCH, { image: await base64(photo), purpose, since: districtInstant(data.get("since")),
      until: districtInstant(data.get("until")), topK: Number(data.get("topK")) || 10 }),
    communities(session),
  ]));
  if (!found) return;
  const [{ faceSearch }, list] = found;
  const score = faceSearch.minScore.toFixed(2);
  if (!faceSearch.matches.length) {
    return showState(results, "empty", t("faceSearch.none", { score,
      since: formatTime(faceSearch.since), until: formatTime(faceSearch.until) }));
  }
  results.replaceChildren(
    h("p", {}, t("faceSearch.found", { n: faceSearch.matches.length, score,
      quality: faceSearch.photoQuality.toFixed(2) })),
    h("ol", { className: "face-matches" }, faceSearch.matches.map((m) => match(m, purpose, list, crops))));
}

function match(m, purpose, list, crops) {
  return h("li", { className: "face-match", "data-testid": "face-search-match", "data-capture": m.captureId },
    crops.image(m.cropUrl, m.captureId),
    h("div", { className: "face-match-facts" },
      h("strong", {}, t("faceSearch.score", { score: m.score.toFixed(3) })),
      h("span", {}, formatTime(m.occurredAt)),
      h("span", {}, `${communityName(list, m.communityId)} · ${t("faceSearch.camera", { id: m.cameraId })}`),
      h("span", {}, m.matchedPersonId ? t("faceSearch.matched", { id: m.matchedPersonId }) : t("faceSearch.unknown")),
      h("span", { className: "muted" }, t("faceSearch.quality", { quality: m.quality.toFixed(2) })),
      h("a", { href: routeHash("trajectory", { capture: m.captureId, purpose }),
        "data-testid": "face-search-trajectory" }, t("faceSearch.trajectory"))));
}

/** The file's bytes in base64, without the data-URL prefix the API does not want. */
function base64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1]);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

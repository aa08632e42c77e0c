// Chinese first: the district's officers read zh-CN; English is for partners and tests.
// Each module registers its own strings at import time with addStrings.

const LANG_KEY = "pingan.lang";
const LANGS = ["zh", "en"];
const strings = { zh: {}, en: {} };
const listeners = new Set();

function storedLang() {
  try {
    const saved = localStorage.getItem(LANG_KEY);
    return LANGS.includes(saved) ? saved : "zh";
  } catch {
    return "zh";
  }
}

let current = storedLang();

export function lang() {
  return current;
}

export function setLang(next) {
  if (!LANGS.includes(next) || next === current) return;
  current = next;
  try {
    localStorage.setItem(LANG_KEY, next);
  } catch {
    // private mode: the choice lasts for this page only
  }
  document.documentElement.lang = next === "zh" ? "zh-CN" : "en";
  for (const cb of listeners) cb(next);
}

export function onLangChange(cb) {
  listeners.add(cb);
  return () => listeners.delete(cb);
}

export function addStrings(table) {
  for (const l of LANGS) Object.assign(strings[l], table[l] || {});
}

// `{name}` placeholders are filled from vars; a missing key shows itself, so a gap is visible.
export function t(key, vars = {}) {
  const text = strings[current][key] ?? strings.zh[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

// Times are shown in district time (Asia/Shanghai), whatever the officer's machine says.
export function formatTime(iso, { date = true } = {}) {
  if (!iso) return "";
  const options = {
    timeZone: "Asia/Shanghai",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hour12: false,
  };
  if (date) Object.assign(options, { month: "2-digit", day: "2-digit" });
  return new Date(iso).toLocaleString(current === "zh" ? "zh-CN" : "en-GB", options);
}

document.documentElement.lang = current === "zh" ? "zh-CN" : "en";

addStrings({
  zh: {
    "severity.CRITICAL": "紧急",
    "severity.HIGH": "高",
    "severity.MEDIUM": "中",
    "severity.LOW": "低",
    "status.OPEN": "待处理",
    "status.ACKNOWLEDGED": "处理中",
    "status.RESOLVED": "已解决",
    "type.WATCHLIST_PLATE": "布控车牌",
    "type.POSSIBLE_WATCHLIST_PLATE": "疑似布控车牌",
    "type.CLONED_PLATE": "套牌车",
    "type.ROAMING_VEHICLE": "跨小区游荡车辆",
    "type.OVERSTAY_VEHICLE": "车辆滞留",
    "type.MLM_GATHERING": "疑似传销聚集",
    "type.GROUP_RENTING": "疑似群租",
    "type.KNOWN_MLM_RETURN": "传销人员回流",
    "type.CHARGING_OVERHEAT": "充电过热",
    "type.EBIKE_IN_ELEVATOR": "电动车进电梯",
    "type.BLOCKED_FIRE_PASSAGE": "消防通道堵塞",
    "type.HIGH_ALTITUDE_THROW": "高空抛物",
    "type.PERIMETER_INTRUSION": "周界入侵",
    "type.DEVICE_OFFLINE": "设备离线",
    "type.BRACELET_SOS": "手环求救",
    "type.BRACELET_GEOFENCE_EXIT": "手环越界",
    "type.BRACELET_INACTIVE": "手环静止",
    "type.BRACELET_LOW_BATTERY": "手环低电量",
    "type.ELDERLY_NOT_SEEN": "独居老人未出现",
    "type.STRAY_DOG": "流浪犬",
    "type.PIPELINE_STALLED": "数据管道停滞",
  },
  en: {
    "severity.CRITICAL": "Critical",
    "severity.HIGH": "High",
    "severity.MEDIUM": "Medium",
    "severity.LOW": "Low",
    "status.OPEN": "Open",
    "status.ACKNOWLEDGED": "Acknowledged",
    "status.RESOLVED": "Resolved",
    "type.WATCHLIST_PLATE": "Watchlist plate",
    "type.POSSIBLE_WATCHLIST_PLATE": "Possible watchlist plate",
    "type.CLONED_PLATE": "Cloned plate",
    "type.ROAMING_VEHICLE": "Roaming vehicle",
    "type.OVERSTAY_VEHICLE": "Overstaying vehicle",
    "type.MLM_GATHERING": "Possible MLM gathering",
    "type.GROUP_RENTING": "Possible group renting",
    "type.KNOWN_MLM_RETURN": "Known MLM member returned",
    "type.CHARGING_OVERHEAT": "Charging overheat",
    "type.EBIKE_IN_ELEVATOR": "E-bike in elevator",
    "type.BLOCKED_FIRE_PASSAGE": "Blocked fire passage",
    "type.HIGH_ALTITUDE_THROW": "High-altitude throw",
    "type.PERIMETER_INTRUSION": "Perimeter intrusion",
    "type.DEVICE_OFFLINE": "Device offline",
    "type.BRACELET_SOS": "Bracelet SOS",
    "type.BRACELET_GEOFENCE_EXIT": "Bracelet left its area",
    "type.BRACELET_INACTIVE": "Bracelet inactive",
    "type.BRACELET_LOW_BATTERY": "Bracelet battery low",
    "type.ELDERLY_NOT_SEEN": "Elderly resident not seen",
    "type.STRAY_DOG": "Stray dog",
    "type.PIPELINE_STALLED": "Pipeline stalled",
  },
});

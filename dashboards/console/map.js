// The district drawn from the communities' own coordinates: no tile server, so it works on a
// network without internet. A trajectory's places can be drawn over it as a numbered path.

import { h } from "./dom.js";

const WIDTH = 1000;
const PADDING = 60;
const DOT_RADIUS = 10;
const KM_PER_DEGREE_LAT = 111.32;
const SCALE_BAR_MAX_PX = 220;

function latOf(place) {
  return place.location?.lat ?? place.lat;
}

function lonOf(place) {
  return place.location?.lon ?? place.lon;
}

// Equirectangular, with longitude shrunk by cos(latitude): true to shape at district scale.
function projection(places) {
  const lats = places.map(latOf);
  const lons = places.map(lonOf);
  const [minLat, maxLat] = [Math.min(...lats), Math.max(...lats)];
  const [minLon, maxLon] = [Math.min(...lons), Math.max(...lons)];
  const shrink = Math.cos((((minLat + maxLat) / 2) * Math.PI) / 180);
  const spanX = Math.max((maxLon - minLon) * shrink, 1e-4);
  const spanY = Math.max(maxLat - minLat, 1e-4);
  const scale = (WIDTH - 2 * PADDING) / Math.max(spanX, spanY);
  const height = Math.round(spanY * scale + 2 * PADDING);
  const offsetX = (WIDTH - 2 * PADDING - spanX * scale) / 2;
  return {
    height,
    pixelsPerKm: scale / KM_PER_DEGREE_LAT,
    point: (place) => [
      PADDING + offsetX + (lonOf(place) - minLon) * shrink * scale,
      height - PADDING - (latOf(place) - minLat) * scale,
    ],
  };
}

function svg(tag, attrs = {}, ...children) {
  return h(tag, { ...attrs, svg: true }, ...children);
}

function communityMark(community, [x, y], { colourOf, onSelect, emphasise }) {
  const select = () => onSelect?.(community);
  const loud = emphasise ? emphasise(community) : true;
  const group = svg(
    "g",
    {
      className: loud ? "map-community" : "map-community quiet",
      "data-testid": "map-community",
      "data-community": community.id,
      tabindex: 0,
      role: "button",
      "aria-label": community.name,
      onclick: select,
      onkeydown: (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          select();
        }
      },
    },
    svg("title", {}, community.name),
    svg("circle", { cx: x, cy: y, r: DOT_RADIUS, fill: colourOf?.(community) || "#64748b" }),
    svg("text", { x, y: y + DOT_RADIUS + 14, "text-anchor": "middle" }, community.name),
  );
  return group;
}

// Distances matter to an officer deciding who goes: a bar of a round number of kilometres.
function scaleBar(pixelsPerKm, height) {
  const km = [0.5, 1, 2, 5, 10, 20, 50].filter((k) => k * pixelsPerKm <= SCALE_BAR_MAX_PX).at(-1) ?? 0.5;
  const length = km * pixelsPerKm;
  const [x, y] = [PADDING / 2, height - PADDING / 3];
  return svg(
    "g",
    { className: "map-scale", "data-testid": "map-scale" },
    svg("line", { x1: x, y1: y, x2: x + length, y2: y }),
    svg("line", { x1: x, y1: y - 6, x2: x, y2: y }),
    svg("line", { x1: x + length, y1: y - 6, x2: x + length, y2: y }),
    svg("text", { x: x + length / 2, y: y - 8, "text-anchor": "middle" }, `${km} km`),
    svg("text", { x: WIDTH - PADDING / 2, y: PADDING / 2, "text-anchor": "middle" }, "N ↑"),
  );
}

function pathMarks(path, project) {
  const points = path.map((stop) => project.point(stop));
  const line = svg("polyline", {
    className: "map-path",
    points: points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" "),
    fill: "none",
  });
  const stops = path.map((stop, i) => {
    const [x, y] = points[i];
    return svg(
      "g",
      { className: "map-stop", "data-testid": "map-stop" },
      svg("title", {}, [stop.label, stop.at].filter(Boolean).join(" · ")),
      svg("circle", { cx: x, cy: y, r: 10 }),
      svg("text", { x, y: y + 4, "text-anchor": "middle" }, String(i + 1)),
    );
  });
  return [line, ...stops];
}

// `emphasise(community)`, if given, says which names are always shown; the others show on
// hover or focus, so a dense district stays legible.
export function drawDistrict(container, communities, { colourOf, onSelect, emphasise, path = [] } = {}) {
  const placed = communities.filter((c) => Number.isFinite(latOf(c)) && Number.isFinite(lonOf(c)));
  const stops = path.filter((p) => Number.isFinite(latOf(p)) && Number.isFinite(lonOf(p)));
  const all = [...placed, ...stops];
  if (all.length === 0) return null;
  const project = projection(all);
  const map = svg(
    "svg",
    {
      className: "district-map-svg",
      viewBox: `0 0 ${WIDTH} ${project.height}`,
      preserveAspectRatio: "xMidYMid meet",
      role: "img",
    },
    placed.map((c) => communityMark(c, project.point(c), { colourOf, onSelect, emphasise })),
    stops.length ? pathMarks(stops, project) : [],
    scaleBar(project.pixelsPerKm, project.height),
  );
  container.append(map);
  return map;
}

// Building the DOM without innerHTML: text from the API (explanations, notes, names) can
// never become markup.

export function h(tag, attrs = {}, ...children) {
  const svg = attrs?.svg === true;
  const el = svg
    ? document.createElementNS("http://www.w3.org/2000/svg", tag)
    : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (name === "svg" || value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "testid") {
      el.setAttribute("data-testid", value);
    } else if (name === "className") {
      el.setAttribute("class", value);
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

// The loading / empty / error messages the contract names, each saying what is going on.
export function stateMessage(kind, text) {
  return h("p", { className: `state state-${kind}`, testid: kind, role: kind === "error" ? "alert" : "status" }, text);
}

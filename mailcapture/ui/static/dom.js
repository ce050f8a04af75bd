// Tiny DOM helpers. Mail data only ever reaches the page through textContent and attributes
// set here; nothing in the inbox uses innerHTML.

/**
 * Create an element. attrs: {class, text, dataset:{}, on:{event: fn}, ...plain attributes}.
 * Children may be nodes, strings (become text nodes), or null/false (skipped).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "on") for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function append(parent, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

/** An icon drawn with a CSS mask (inherits the text colour); hidden from screen readers. */
export function icon(name) {
  return h("span", { class: `icon icon-${name}`, "aria-hidden": "true" });
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

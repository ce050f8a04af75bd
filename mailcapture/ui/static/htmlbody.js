// Turn a mail's HTML into a document for a sandboxed iframe's srcdoc.
//
// Safety does not rest on this rewriting: the iframe has no allow-scripts and no
// allow-same-origin, and the document carries a Content-Security-Policy that allows no scripts,
// no forms, no frames and (until the user asks) no remote images, styles or fonts. The
// rewriting makes the result pleasant: cid: images point at their parts, blocked remote images
// do not show as broken, links open in a new tab, and dead handlers are dropped.

import { partURL } from "./api.js";

const UNSAFE_URL = /^\s*(javascript|vbscript|data|file):/i;
const REMOTE_URL = /^\s*(https?:)?\/\//i;
const CSS_REMOTE_URL = /url\(\s*['"]?\s*(https?:)?\/\//i;
const REMOVE_SELECTOR = "script, noscript, object, embed, applet, base, meta[http-equiv], iframe, frame, frameset, portal";
const BLANK_PIXEL = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7";
const BASE_STYLE = "body{margin:0;padding:16px 24px;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;"
  + "color:#1f2328;background:#fff;overflow-wrap:anywhere}img{max-width:100%;height:auto}"
  + "img[data-mc-blocked]{outline:1px dashed #b0b7c3;background:#f3f4f6;min-width:24px;min-height:24px}";

export function contentIdKey(text) {
  let key = (text || "").trim().replace(/^cid:/i, "").replace(/^<|>$/g, "");
  try {
    key = decodeURIComponent(key);
  } catch {
    // keep it undecoded
  }
  return key.toLowerCase();
}

/** Map of lower-cased Content-ID to the part's absolute URL. */
function cidMap(message) {
  const map = new Map();
  for (const part of [...(message.Inline || []), ...(message.Attachments || [])]) {
    if (part.ContentID) map.set(contentIdKey(part.ContentID), location.origin + partURL(message.ID, part.PartID));
  }
  return map;
}

function policy(allowRemote) {
  const self = location.origin;
  const remote = allowRemote ? " http: https:" : "";
  return [
    "default-src 'none'",
    `img-src ${self} data:${remote}`,
    `style-src 'unsafe-inline'${remote}`,
    `font-src data:${remote}`,
    `media-src ${self}`,
    "script-src 'none'",
    "form-action 'none'",
    "frame-src 'none'",
    "base-uri 'none'",
  ].join("; ");
}

/**
 * Returns {srcdoc, remote, cids}: the document text, how many remote resources are blocked
 * (0 when allowRemote), and the set of Content-IDs the HTML referenced.
 */
export function prepareHTML(message, allowRemote) {
  const doc = new DOMParser().parseFromString(message.HTML || "", "text/html");
  const cids = cidMap(message);
  const used = new Set();
  let remote = 0;

  for (const el of doc.querySelectorAll(REMOVE_SELECTOR)) el.remove();
  for (const el of doc.querySelectorAll("*")) {
    for (const attr of [...el.attributes]) {
      if (attr.name.startsWith("on") || attr.name === "formaction") el.removeAttribute(attr.name);
    }
    if (el.hasAttribute("style") && CSS_REMOTE_URL.test(el.getAttribute("style")) && !allowRemote) remote += 1;
    if (el.hasAttribute("background")) {
      const bg = el.getAttribute("background");
      if (bg.toLowerCase().startsWith("cid:") && cids.has(contentIdKey(bg))) {
        used.add(contentIdKey(bg));
        el.setAttribute("background", cids.get(contentIdKey(bg)));
      } else if (REMOTE_URL.test(bg) && !allowRemote) {
        remote += 1;
        el.removeAttribute("background");
      }
    }
  }
  for (const style of doc.querySelectorAll("style")) {
    if (CSS_REMOTE_URL.test(style.textContent) && !allowRemote) remote += 1;
  }
  for (const link of doc.querySelectorAll("link")) {
    if (!allowRemote) {
      if (REMOTE_URL.test(link.getAttribute("href") || "")) remote += 1;
      link.remove();
    }
  }
  for (const img of doc.querySelectorAll("img, input[type=image], video[poster]")) {
    const attr = img.tagName === "VIDEO" ? "poster" : "src";
    const src = img.getAttribute(attr) || "";
    if (src.toLowerCase().startsWith("cid:")) {
      const key = contentIdKey(src);
      used.add(key);
      if (cids.has(key)) img.setAttribute(attr, cids.get(key));
    } else if (REMOTE_URL.test(src) && !allowRemote) {
      remote += 1;
      img.setAttribute("data-mc-blocked", "");
      img.setAttribute("title", `Remote image blocked: ${src.trim().slice(0, 200)}`);
      img.setAttribute(attr, BLANK_PIXEL);
    }
    if (img.hasAttribute("srcset") && !allowRemote && REMOTE_URL.test(img.getAttribute("srcset"))) {
      img.removeAttribute("srcset");
    }
  }
  for (const a of doc.querySelectorAll("a[href], area[href]")) {
    const href = a.getAttribute("href");
    if (UNSAFE_URL.test(href)) {
      a.removeAttribute("href");
      a.setAttribute("title", "Link removed: unsafe URL");
    } else if (!href.startsWith("#")) {
      a.setAttribute("target", "_blank");
      a.setAttribute("rel", "noopener noreferrer");
    }
  }
  for (const form of doc.querySelectorAll("form")) {
    form.removeAttribute("action");
    form.setAttribute("data-mc-form", "disabled");
  }

  const head = doc.head;
  const meta = doc.createElement("meta");
  meta.setAttribute("http-equiv", "Content-Security-Policy");
  meta.setAttribute("content", policy(allowRemote));
  const charset = doc.createElement("meta");
  charset.setAttribute("charset", "utf-8");
  const referrer = doc.createElement("meta");
  referrer.setAttribute("name", "referrer");
  referrer.setAttribute("content", "no-referrer");
  const base = doc.createElement("style");
  base.textContent = BASE_STYLE;
  head.prepend(meta, charset, referrer, base);
  return { srcdoc: `<!DOCTYPE html>\n${doc.documentElement.outerHTML}`, remote, cids: used };
}

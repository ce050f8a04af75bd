// The attachment grid: lazy thumbnails from the previewer, a clear placeholder otherwise.

import { partURL, previewURL } from "./api.js";
import { h } from "./dom.js";
import { fileBadge, formatSize } from "./format.js";

export const THUMB_SIZE = 256;
const PREVIEWABLE = /^(image\/|video\/|application\/pdf$)/i;

export function hasPreview(part) {
  return PREVIEWABLE.test(part.ContentType || "") && part.Size > 0 && Boolean(part.PreviewURL || part.PreviewID);
}

function placeholder(part, reason) {
  return h("span", { class: "thumb-placeholder", dataset: { reason } },
    h("span", { class: "icon icon-file", "aria-hidden": "true" }),
    h("span", { class: "thumb-badge", text: fileBadge(part.FileName, part.ContentType) }),
    h("span", { class: "thumb-reason", text: reason === "failed" ? "No preview available" : "No preview" }));
}

function thumbnail(part) {
  if (!hasPreview(part)) return placeholder(part, "none");
  const img = h("img", {
    class: "thumb-img",
    src: previewURL(part, THUMB_SIZE),
    alt: "",
    loading: "lazy",
    decoding: "async",
    width: THUMB_SIZE,
    height: THUMB_SIZE,
  });
  const fit = /pdf$/i.test(part.ContentType || "") ? "contain" : "cover";
  const frame = h("span", { class: `thumb-frame loading fit-${fit}` }, img);
  img.addEventListener("load", () => {
    frame.classList.remove("loading");
    if (img.naturalWidth === 0) frame.replaceWith(placeholder(part, "failed"));
  });
  img.addEventListener("error", () => frame.replaceWith(placeholder(part, "failed")));
  if ((part.ContentType || "").toLowerCase().startsWith("video/")) {
    frame.append(h("span", { class: "play-badge", "aria-hidden": "true" }));
  }
  return frame;
}

function tile(messageId, part) {
  const name = part.FileName || `part ${part.PartID}`;
  const type = part.ContentType || "application/octet-stream";
  const href = partURL(messageId, part.PartID);
  return h("li", { class: "attachment" },
    h("a", {
      class: "attachment-open",
      href,
      target: "_blank",
      rel: "noopener",
      title: `Open ${name}`,
      dataset: { partId: part.PartID },
    },
    thumbnail(part),
    h("span", { class: "attachment-name", text: name }),
    h("span", { class: "attachment-meta" },
      h("span", { class: "attachment-type", text: type }),
      h("span", { text: formatSize(part.Size) }))),
    h("a", {
      class: "attachment-download",
      href,
      download: name,
      "aria-label": `Download ${name}`,
      title: "Download",
    }, h("span", { class: "icon icon-download", "aria-hidden": "true" })));
}

/** The grid for these parts (an empty fragment when there are none). */
export function attachmentGrid(messageId, parts) {
  if (!parts.length) return document.createDocumentFragment();
  const total = parts.reduce((sum, p) => sum + (p.Size || 0), 0);
  return h("section", { class: "attachments", "aria-label": "Attachments" },
    h("h2", { class: "section-title" },
      `${parts.length} attachment${parts.length === 1 ? "" : "s"}`,
      h("span", { class: "muted", text: ` · ${formatSize(total)}` })),
    h("ul", { class: "attachment-grid" }, parts.map((p) => tile(messageId, p))));
}

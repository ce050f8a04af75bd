// One row of the message list.

import { h, icon } from "./dom.js";
import { addressList, exactTime, formatSize, parseTime, relativeTime, shortAddress } from "./format.js";

export function tagChips(tags, onTag) {
  return h("span", { class: "tags" }, (tags || []).map((tag) => {
    if (!onTag) return h("span", { class: "tag", text: tag });
    return h("button", {
      type: "button",
      class: "tag",
      text: tag,
      title: `Show messages tagged ${tag}`,
      tabindex: "-1",
      on: { click: (ev) => { ev.preventDefault(); ev.stopPropagation(); onTag(tag); } },
    });
  }));
}

export function timeElement(created, now) {
  const date = parseTime(created);
  return h("time", {
    datetime: created || "",
    title: exactTime(date),
    text: relativeTime(date, now),
    dataset: { created: created || "" },
  });
}

/** Refresh the relative times under root (called periodically). */
export function refreshTimes(root, now = new Date()) {
  for (const t of root.querySelectorAll("time[data-created]")) {
    const text = relativeTime(parseTime(t.dataset.created), now);
    if (t.textContent !== text) t.textContent = text;
  }
}

/**
 * msg: a Mailpit message summary. handlers: {onSelect(id, checked, shiftKey), onTag(tag)}.
 */
export function messageRow(msg, { selected, cursor, now, onSelect, onTag }) {
  const subject = msg.Subject || "(no subject)";
  const from = shortAddress(msg.From) || "(no sender)";
  const recipients = addressList([...(msg.To || []), ...(msg.Cc || [])], true);
  const classes = ["msg", msg.Read ? "read" : "unread", selected ? "selected" : "", cursor ? "cursor" : ""];
  const checkbox = h("input", {
    type: "checkbox",
    class: "msg-check",
    "aria-label": `Select message: ${subject}`,
    tabindex: cursor ? "0" : "-1",
    on: { click: (ev) => onSelect(msg.ID, ev.target.checked, ev.shiftKey) },
  });
  checkbox.checked = selected;
  const meta = h("span", { class: "msg-meta" },
    msg.Attachments > 0
      ? h("span", {
        class: "msg-attachments",
        title: `${msg.Attachments} attachment${msg.Attachments === 1 ? "" : "s"}`,
      }, icon("paperclip"), h("span", { text: String(msg.Attachments) }))
      : null,
    h("span", { class: "msg-size", text: formatSize(msg.Size) }));
  const link = h("a", {
    class: "msg-link",
    href: `#/m/${encodeURIComponent(msg.ID)}`,
    tabindex: cursor ? "0" : "-1",
    "aria-label": `${msg.Read ? "" : "Unread. "}From ${from}. ${subject}`,
  },
  h("span", { class: "msg-from" },
    h("span", { class: "unread-dot", title: msg.Read ? null : "Unread", "aria-hidden": "true" }),
    h("span", { class: "from-name", text: from, title: msg.From ? msg.From.Address : "" })),
  h("span", { class: "msg-to", text: recipients ? `to ${recipients}` : "", title: addressList(msg.To) }),
  h("span", { class: "msg-subject" },
    h("span", { class: "subject-text", text: subject }),
    tagChips(msg.Tags, onTag)),
  h("span", { class: "msg-snippet", text: msg.Snippet || "" }),
  h("span", { class: "msg-time" }, timeElement(msg.Created, now)),
  meta);
  return h("li", { class: classes.filter(Boolean).join(" "), dataset: { id: msg.ID } }, checkbox, link);
}

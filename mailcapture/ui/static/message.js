// The message view: headers, sandboxed HTML, text, source, attachments.

import { deleteMessages, getHeaders, getMessage, rawText, rawURL, setRead } from "./api.js";
import { attachmentGrid } from "./attachments.js";
import { append, clear, h, icon } from "./dom.js";
import { addressList, exactTime, formatSize, parseTime } from "./format.js";
import { contentIdKey, prepareHTML } from "./htmlbody.js";
import { tagChips } from "./rows.js";

export const RAW_VIEW_MAX = 2 * 1024 * 1024;
// No allow-scripts, no allow-same-origin: the mail runs in an opaque origin with nothing enabled
// but opening its links in a new tab (outside the sandbox, without an opener).
export const IFRAME_SANDBOX = "allow-popups allow-popups-to-escape-sandbox";

function headerRow(label, value) {
  if (!value) return null;
  return [h("dt", { text: label }), h("dd", {}, value)];
}

export class MessageView {
  /** root: the view's element; app: {back, open, toast, messageRemoved, neighbours, markedRead}. */
  constructor(root, app) {
    this.root = root;
    this.app = app;
    this.message = null;
    this.seq = 0;
    this.allowRemote = false;
    this.tab = "html";
  }

  get id() {
    return this.message?.ID || null;
  }

  async show(id) {
    const seq = ++this.seq;
    if (this.message?.ID !== id) this.allowRemote = false;
    clear(this.root).append(h("p", { class: "loading-note", role: "status", text: "Loading message…" }));
    let message;
    try {
      message = await getMessage(id);
    } catch (err) {
      if (seq !== this.seq) return;
      this.message = null;
      const text = err.status === 404 ? "This message does not exist (it may have been deleted)." : `Could not load the message: ${err.message}`;
      clear(this.root).append(this.toolbar(null), h("p", { class: "notice error", role: "alert", text }));
      return;
    }
    if (seq !== this.seq) return;
    this.message = message;
    this.app.markedRead(id);
    this.tab = message.HTML ? "html" : "text";
    this.render();
  }

  render() {
    const msg = this.message;
    const { srcdoc, remote, cids } = msg.HTML ? prepareHTML(msg, this.allowRemote) : { srcdoc: "", remote: 0, cids: new Set() };
    const unreferenced = (msg.Inline || []).filter((p) => !cids.has(contentIdKey(p.ContentID)));
    const parts = [...(msg.Attachments || []), ...unreferenced];
    clear(this.root).append(
      this.toolbar(msg),
      h("article", { class: "message", "aria-labelledby": "msg-subject" },
        this.headerBlock(msg),
        attachmentGrid(msg.ID, parts),
        this.bodyTabs(msg, srcdoc, remote)),
    );
    this.selectTab(this.tab, false);
  }

  toolbar(msg) {
    const { prev, next } = msg ? this.app.neighbours(msg.ID) : { prev: null, next: null };
    const nav = (label, target, name) => h("button", {
      type: "button", class: "btn icon-only", "aria-label": label, title: label, disabled: !target,
      on: { click: () => this.app.open(target) },
    }, icon(name));
    return h("div", { class: "toolbar msg-toolbar", role: "toolbar", "aria-label": "Message actions" },
      h("button", { type: "button", class: "btn", on: { click: () => this.app.back() } }, icon("back"), h("span", { text: "Inbox" })),
      nav("Newer message (k)", prev, "up"),
      nav("Older message (j)", next, "down"),
      h("span", { class: "spacer" }),
      msg && h("button", {
        type: "button", class: "btn", on: { click: () => this.markUnread() },
      }, icon("unread"), h("span", { class: "label", text: "Mark unread" })),
      msg && h("a", {
        class: "btn", href: rawURL(msg.ID, true), download: `${msg.ID}.eml`, title: "Download the original message (.eml)",
      }, icon("download"), h("span", { class: "label", text: ".eml" })),
      msg && h("button", {
        type: "button", class: "btn danger", title: "Delete (Del)", on: { click: () => this.remove() },
      }, icon("trash"), h("span", { class: "label", text: "Delete" })));
  }

  headerBlock(msg) {
    const date = parseTime(msg.Date || msg.Created);
    const all = h("div", { id: "all-headers", class: "all-headers", hidden: true });
    const toggle = h("button", {
      type: "button", class: "link", "aria-expanded": "false", "aria-controls": "all-headers", text: "Show all headers",
      on: { click: () => this.toggleHeaders(toggle, all) },
    });
    return h("header", { class: "msg-header" },
      h("h1", { id: "msg-subject", class: "msg-title", text: msg.Subject || "(no subject)" }),
      h("dl", { class: "hdr-grid" },
        headerRow("From", addressList(msg.From ? [msg.From] : [])),
        headerRow("To", addressList(msg.To)),
        headerRow("Cc", addressList(msg.Cc)),
        headerRow("Bcc", addressList(msg.Bcc)),
        headerRow("Reply-To", addressList(msg.ReplyTo)),
        headerRow("Date", date ? h("time", { datetime: msg.Date, text: exactTime(date) }) : null),
        headerRow("Size", formatSize(msg.Size)),
        headerRow("Tags", msg.Tags?.length ? tagChips(msg.Tags, null) : null)),
      toggle, all);
  }

  async toggleHeaders(toggle, box) {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    toggle.textContent = open ? "Hide all headers" : "Show all headers";
    box.hidden = !open;
    if (!open || box.childElementCount) return;
    box.append(h("p", { class: "muted", text: "Loading headers…" }));
    try {
      const headers = await getHeaders(this.message.ID);
      const rows = Object.keys(headers).sort().flatMap((name) => headers[name].map((value) => h("tr", {},
        h("th", { scope: "row", text: name }), h("td", { text: value }))));
      clear(box).append(h("table", { class: "header-table" },
        h("caption", { class: "visually-hidden", text: "All headers" }), h("tbody", {}, rows)));
    } catch (err) {
      clear(box).append(h("p", { class: "notice error", text: `Could not load headers: ${err.message}` }));
    }
  }

  bodyTabs(msg, srcdoc, remote) {
    const tabs = [
      ["html", "HTML", Boolean(msg.HTML)],
      ["text", "Text", true],
      ["source", "Source", true],
    ];
    const list = h("div", { class: "tabs", role: "tablist", "aria-label": "Message body" },
      tabs.map(([key, label, enabled]) => h("button", {
        type: "button", role: "tab", id: `tab-${key}`, "aria-controls": `panel-${key}`,
        "aria-selected": "false", tabindex: "-1", disabled: !enabled, dataset: { tab: key }, text: label,
        on: { click: () => this.selectTab(key, true), keydown: (ev) => this.tabKey(ev) },
      })));
    const panels = [
      h("div", { class: "panel panel-html", role: "tabpanel", id: "panel-html", "aria-labelledby": "tab-html", hidden: true },
        this.remoteBanner(remote),
        msg.HTML ? h("iframe", {
          class: "html-frame", sandbox: IFRAME_SANDBOX, srcdoc, title: "HTML body of the message", referrerpolicy: "no-referrer",
        }) : null),
      h("div", { class: "panel panel-text", role: "tabpanel", id: "panel-text", "aria-labelledby": "tab-text", hidden: true },
        msg.Text ? h("pre", { class: "text-body", text: msg.Text }) : h("p", { class: "muted", text: "This message has no text part." })),
      h("div", { class: "panel panel-source", role: "tabpanel", id: "panel-source", "aria-labelledby": "tab-source", hidden: true }),
    ];
    return h("section", { class: "body" }, list, panels);
  }

  remoteBanner(remote) {
    if (this.allowRemote) {
      return h("div", { class: "remote-banner loaded", role: "status" }, icon("image"), "Remote content loaded.");
    }
    if (!remote) return null;
    return h("div", { class: "remote-banner", role: "status" },
      icon("image"),
      h("span", { text: `${remote} remote image${remote === 1 ? "" : "s"} or style${remote === 1 ? "" : "s"} blocked to protect your privacy.` }),
      h("button", { type: "button", class: "btn small", text: "Load remote images", on: { click: () => this.loadRemote() } }));
  }

  loadRemote() {
    this.allowRemote = true;
    this.render();
    this.root.querySelector("#tab-html")?.focus();
  }

  tabKey(ev) {
    const tabs = [...this.root.querySelectorAll("[role=tab]:not([disabled])")];
    const i = tabs.indexOf(ev.currentTarget);
    let next = null;
    if (ev.key === "ArrowRight") next = tabs[(i + 1) % tabs.length];
    else if (ev.key === "ArrowLeft") next = tabs[(i - 1 + tabs.length) % tabs.length];
    else if (ev.key === "Home") next = tabs[0];
    else if (ev.key === "End") next = tabs[tabs.length - 1];
    if (!next) return;
    ev.preventDefault();
    this.selectTab(next.dataset.tab, true);
  }

  selectTab(key, focus) {
    this.tab = key;
    for (const tab of this.root.querySelectorAll("[role=tab]")) {
      const on = tab.dataset.tab === key;
      tab.setAttribute("aria-selected", String(on));
      tab.tabIndex = on ? 0 : -1;
      if (on && focus) tab.focus();
    }
    for (const panel of this.root.querySelectorAll("[role=tabpanel]")) panel.hidden = panel.id !== `panel-${key}`;
    if (key === "source") this.loadSource();
  }

  async loadSource() {
    const panel = this.root.querySelector("#panel-source");
    if (!panel || panel.childElementCount) return;
    const id = this.message.ID;
    panel.append(h("p", { class: "muted", text: "Loading source…" }));
    try {
      const { text, truncated } = await rawText(id, RAW_VIEW_MAX);
      if (this.message?.ID !== id) return;
      append(clear(panel), [
        truncated ? h("p", { class: "notice" }, `Showing the first ${formatSize(RAW_VIEW_MAX)}. `,
          h("a", { href: rawURL(id, true), download: `${id}.eml`, text: "Download the whole message" })) : null,
        h("pre", { class: "raw-source", text })]);
    } catch (err) {
      clear(panel).append(h("p", { class: "notice error", text: `Could not load the source: ${err.message}` }));
    }
  }

  async markUnread() {
    try {
      await setRead([this.message.ID], false);
    } catch (err) {
      this.app.toast(`Could not mark unread: ${err.message}`);
      return;
    }
    this.app.toast("Marked unread");
    this.app.back();
  }

  async remove() {
    const id = this.message?.ID;
    if (!id) return;
    const { next, prev } = this.app.neighbours(id);
    try {
      await deleteMessages([id]);
    } catch (err) {
      this.app.toast(`Could not delete: ${err.message}`);
      return;
    }
    this.app.toast("Message deleted");
    this.message = null;
    if (next || prev) this.app.open(next || prev, true);
    else this.app.back();
  }

  /** The shown message was deleted elsewhere: say so instead of showing stale content. */
  removedElsewhere() {
    if (!this.message) return;
    this.message = null;
    this.root.querySelector(".msg-toolbar")?.after(h("p", { class: "notice error", role: "alert", text: "This message has been deleted." }));
  }
}

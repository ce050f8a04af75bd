// The message list: paging, live updates, selection and the keyboard cursor.

import { PAGE_SIZE, deleteMessages, deleteSearch, listMessages, setRead } from "./api.js";
import { clear, h, icon } from "./dom.js";
import { formatCount } from "./format.js";
import { messageRow } from "./rows.js";

const EVENT_BATCH_MS = 50;
const RELOAD_DEBOUNCE_MS = 250;

export function tagQuery(tag) {
  return `tag:"${tag.replaceAll('"', "")}"`;
}

export class Inbox {
  /** els: the list's elements; app: {confirm, toast, setUnread, setTags, open, filterTag}. */
  constructor(els, app) {
    this.els = els;
    this.app = app;
    this.search = "";
    this.tag = "";
    this.start = 0;
    this.messages = [];
    this.total = 0;
    this.matched = 0;
    this.selected = new Set();
    this.allMatching = false;
    this.cursor = 0;
    this.seq = 0;
    this.loaded = false;
    this.pending = [];
    this.batchTimer = null;
    this.reloadTimer = null;
    this.lastClicked = null;
    this.bind();
  }

  get query() {
    return [this.tag ? tagQuery(this.tag) : "", this.search.trim()].filter(Boolean).join(" ");
  }

  bind() {
    const { els } = this;
    els.selectAll.addEventListener("change", () => this.selectPage(els.selectAll.checked));
    els.read.addEventListener("click", () => this.markRead(true));
    els.unread.addEventListener("click", () => this.markRead(false));
    els.del.addEventListener("click", () => this.deleteSelected());
    els.delAll.addEventListener("click", () => this.deleteAll());
    els.refresh.addEventListener("click", () => this.load());
    els.prev.addEventListener("click", () => this.page(-1));
    els.next.addEventListener("click", () => this.page(1));
  }

  setFilter({ search = this.search, tag = this.tag, start = 0 } = {}) {
    const changed = search !== this.search || tag !== this.tag || start !== this.start;
    this.search = search;
    this.tag = tag;
    this.start = start;
    if (changed || !this.loaded) {
      this.clearSelection();
      this.cursor = 0;
      return this.load();
    }
    return Promise.resolve();
  }

  async load() {
    const seq = ++this.seq;
    clearTimeout(this.reloadTimer);
    this.reloadTimer = null;
    this.els.list.setAttribute("aria-busy", "true");
    let data;
    try {
      data = await listMessages(this.query, this.start, PAGE_SIZE);
    } catch (err) {
      if (seq !== this.seq) return;
      this.els.list.removeAttribute("aria-busy");
      this.showError(err.status === 400 ? `Search not understood: ${err.message}` : `Could not load messages: ${err.message}`);
      return;
    }
    if (seq !== this.seq) return;
    if (data.messages.length === 0 && this.start > 0 && data.messages_count > 0) {
      this.start = Math.max(0, Math.floor((data.messages_count - 1) / PAGE_SIZE) * PAGE_SIZE);
      this.load();
      return;
    }
    this.loaded = true;
    this.els.list.removeAttribute("aria-busy");
    this.messages = data.messages || [];
    this.total = data.total;
    this.matched = data.messages_count;
    const ids = new Set(this.messages.map((m) => m.ID));
    for (const id of this.selected) if (!ids.has(id)) this.selected.delete(id);
    this.cursor = Math.min(this.cursor, Math.max(0, this.messages.length - 1));
    this.app.setUnread(data.unread);
    this.app.setTags(data.tags || []);
    this.showError("");
    this.render();
  }

  scheduleReload() {
    if (this.reloadTimer) return;
    this.reloadTimer = setTimeout(() => {
      this.reloadTimer = null;
      this.load();
    }, RELOAD_DEBOUNCE_MS);
  }

  showError(text) {
    this.els.error.textContent = text;
    this.els.error.hidden = !text;
  }

  // -- live events, applied in batches so a burst of mail renders once
  applyEvent(event) {
    this.pending.push(event);
    if (!this.batchTimer) this.batchTimer = setTimeout(() => this.flushEvents(), EVENT_BATCH_MS);
  }

  flushEvents() {
    this.batchTimer = null;
    const events = this.pending;
    this.pending = [];
    let dirty = false;
    for (const ev of events) dirty = this.applyOne(ev) || dirty;
    if (dirty) this.render();
  }

  applyOne({ Type: type, Data: data }) {
    if (!this.loaded) return false;
    switch (type) {
      case "new": {
        if (!data || !data.ID || this.messages.some((m) => m.ID === data.ID)) return false;
        if (data.Tags?.length) this.app.addTags(data.Tags);
        if (this.query || this.start > 0) {
          this.scheduleReload();
          return false;
        }
        this.total += 1;
        this.matched += 1;
        this.messages.unshift(data);
        if (this.messages.length > PAGE_SIZE) this.messages.length = PAGE_SIZE;
        if (this.cursor > 0 || document.activeElement?.closest?.(".msg")) this.cursor += 1;
        return true;
      }
      case "update": {
        const msg = data && this.messages.find((m) => m.ID === data.ID);
        if (!msg) return false;
        if (typeof data.Read === "boolean" && data.Read !== msg.Read) {
          msg.Read = data.Read;
          this.app.adjustUnread(data.Read ? -1 : 1);
        }
        if (Array.isArray(data.Tags)) msg.Tags = data.Tags;
        if (this.query) this.scheduleReload();
        return true;
      }
      case "delete":
      case "prune": {
        const ids = new Set(data ? (data.IDs || (data.ID ? [data.ID] : [])) : []);
        if (!ids.size) {
          this.scheduleReload();
          return false;
        }
        const before = this.messages.length;
        this.messages = this.messages.filter((m) => !ids.has(m.ID));
        for (const id of ids) this.selected.delete(id);
        const removed = before - this.messages.length;
        if (removed) {
          this.total = Math.max(0, this.total - removed);
          this.matched = Math.max(0, this.matched - removed);
          this.cursor = Math.min(this.cursor, Math.max(0, this.messages.length - 1));
        }
        if (this.start > 0 || this.matched > this.messages.length || (!removed && this.query)) this.scheduleReload();
        return removed > 0;
      }
      case "truncate":
        this.messages = [];
        this.total = 0;
        this.matched = 0;
        this.start = 0;
        this.clearSelection();
        this.app.setUnread(0);
        return true;
      case "lagged":
        this.scheduleReload();
        return false;
      default:
        return false;
    }
  }

  // -- rendering
  render() {
    const { els } = this;
    const focusedRow = document.activeElement?.closest?.("#message-list .msg") != null;
    const now = new Date();
    const onSelect = (id, checked, shift) => this.toggle(id, checked, shift);
    const onTag = (tag) => this.app.filterTag(tag);
    const rows = this.messages.map((msg, i) => messageRow(msg, {
      selected: this.allMatching || this.selected.has(msg.ID),
      cursor: i === this.cursor,
      now,
      onSelect,
      onTag,
    }));
    clear(els.list).append(...rows);
    if (focusedRow) this.focusCursor();
    els.empty.hidden = this.messages.length > 0 || !this.loaded;
    clear(els.empty).append(icon(this.query ? "search" : "inbox"),
      h("strong", { text: this.query ? "No messages match this search" : "No messages yet" }),
      h("span", { text: this.query ? "Try fewer words, or press Esc to clear the search." : "Mail sent to the SMTP port appears here as it arrives." }));
    this.renderToolbar();
  }

  renderToolbar() {
    const { els } = this;
    const shown = this.messages.length;
    const first = shown ? this.start + 1 : 0;
    const last = this.start + shown;
    els.pager.textContent = shown
      ? `${formatCount(first)}–${formatCount(last)} of ${formatCount(this.matched)}`
      : "";
    els.prev.disabled = this.start === 0;
    els.next.disabled = last >= this.matched;
    const count = this.allMatching ? this.matched : this.selected.size;
    els.selectAll.checked = shown > 0 && (this.allMatching || this.selected.size === shown);
    els.selectAll.indeterminate = !els.selectAll.checked && this.selected.size > 0;
    for (const btn of [els.read, els.unread, els.del]) btn.disabled = count === 0;
    els.delAll.disabled = this.matched === 0;
    els.delAll.textContent = this.query ? "Delete all matching…" : "Delete all…";
    els.selection.textContent = count ? `${formatCount(count)} selected` : "";
    this.renderBanner(shown);
  }

  renderBanner(shown) {
    const banner = clear(this.els.banner);
    const pageFull = shown > 0 && this.selected.size === shown;
    banner.hidden = !(pageFull && this.matched > shown);
    if (banner.hidden) return;
    if (this.allMatching) {
      banner.append(`All ${formatCount(this.matched)} messages${this.query ? " matching this search" : ""} are selected. `,
        h("button", { type: "button", class: "link", text: "Clear selection", on: { click: () => { this.clearSelection(); this.render(); } } }));
    } else {
      banner.append(`All ${formatCount(shown)} messages on this page are selected. `,
        h("button", { type: "button", class: "link", text: `Select all ${formatCount(this.matched)} messages`, on: { click: () => { this.allMatching = true; this.render(); } } }));
    }
  }

  // -- selection
  clearSelection() {
    this.selected.clear();
    this.allMatching = false;
  }

  selectPage(on) {
    this.allMatching = false;
    this.selected = new Set(on ? this.messages.map((m) => m.ID) : []);
    this.render();
  }

  toggle(id, checked, shift) {
    this.allMatching = false;
    const index = this.messages.findIndex((m) => m.ID === id);
    const anchor = this.messages.findIndex((m) => m.ID === this.lastClicked);
    if (shift && anchor >= 0 && index >= 0) {
      const [a, b] = anchor < index ? [anchor, index] : [index, anchor];
      for (const m of this.messages.slice(a, b + 1)) (checked ? this.selected.add(m.ID) : this.selected.delete(m.ID));
    } else if (checked) this.selected.add(id);
    else this.selected.delete(id);
    this.lastClicked = id;
    if (index >= 0) this.cursor = index;
    this.render();
  }

  toggleCursor() {
    const msg = this.messages[this.cursor];
    if (msg) this.toggle(msg.ID, !(this.allMatching || this.selected.has(msg.ID)), false);
    this.focusCursor();
  }

  /** IDs the toolbar acts on: the selection, else the row under the cursor. */
  targetIds() {
    if (this.selected.size) return [...this.selected];
    const msg = this.messages[this.cursor];
    return msg ? [msg.ID] : [];
  }

  // -- actions
  async markRead(read) {
    try {
      if (this.allMatching) await setRead(null, read, this.query);
      else {
        const ids = this.targetIds();
        if (!ids.length) return;
        await setRead(ids, read);
        for (const m of this.messages) {
          if (ids.includes(m.ID) && m.Read !== read) {
            m.Read = read;
            this.app.adjustUnread(read ? -1 : 1);
          }
        }
      }
    } catch (err) {
      this.app.toast(`Could not mark ${read ? "read" : "unread"}: ${err.message}`);
      return;
    }
    this.render();
    this.load();
  }

  async deleteSelected() {
    if (this.allMatching) {
      await this.deleteAll();
      return;
    }
    const ids = this.targetIds();
    if (!ids.length) return;
    if (ids.length > 1 && !(await this.app.confirm(`Delete ${formatCount(ids.length)} messages?`))) return;
    try {
      await deleteMessages(ids);
    } catch (err) {
      this.app.toast(`Could not delete: ${err.message}`);
      return;
    }
    this.app.toast(ids.length === 1 ? "Message deleted" : `${formatCount(ids.length)} messages deleted`);
    this.messages = this.messages.filter((m) => !ids.includes(m.ID));
    this.clearSelection();
    this.render();
    await this.load();
    this.focusCursor();
  }

  async deleteAll() {
    const query = this.query;
    const what = query ? `all ${formatCount(this.matched)} messages matching “${query}”` : `all ${formatCount(this.matched)} messages`;
    if (!(await this.app.confirm(`Delete ${what}? This cannot be undone.`))) return;
    try {
      if (query) await deleteSearch(query);
      else await deleteMessages(null);
    } catch (err) {
      this.app.toast(`Could not delete: ${err.message}`);
      return;
    }
    this.app.toast("Messages deleted");
    this.clearSelection();
    this.start = 0;
    await this.load();
  }

  page(direction) {
    const start = Math.max(0, this.start + direction * PAGE_SIZE);
    if (start === this.start || (direction > 0 && start >= this.matched)) return Promise.resolve();
    this.start = start;
    this.cursor = direction > 0 ? 0 : PAGE_SIZE - 1;
    this.clearSelection();
    this.app.listChanged();
    return this.load().then(() => this.focusCursor());
  }

  // -- keyboard cursor
  focusCursor() {
    const row = this.els.list.children[this.cursor];
    row?.querySelector(".msg-link")?.focus({ preventScroll: false });
  }

  moveCursor(delta) {
    if (!this.messages.length) return;
    const next = this.cursor + delta;
    if (next >= this.messages.length && this.start + this.messages.length < this.matched) {
      this.page(1);
      return;
    }
    if (next < 0 && this.start > 0) {
      this.page(-1);
      return;
    }
    this.setCursor(Math.max(0, Math.min(this.messages.length - 1, next)));
  }

  setCursor(index) {
    const rows = this.els.list.children;
    rows[this.cursor]?.classList.remove("cursor");
    for (const el of rows[this.cursor]?.querySelectorAll("[tabindex]") || []) el.tabIndex = -1;
    this.cursor = index;
    rows[index]?.classList.add("cursor");
    for (const el of rows[index]?.querySelectorAll(".msg-link, .msg-check") || []) el.tabIndex = 0;
    this.focusCursor();
  }

  cursorFromElement(el) {
    const row = el?.closest?.("#message-list .msg");
    if (!row) return;
    const index = [...this.els.list.children].indexOf(row);
    if (index >= 0 && index !== this.cursor) this.setCursor(index);
  }

  currentId() {
    return this.messages[this.cursor]?.ID || null;
  }

  /** The messages before and after id on this page (for the message view's arrows). */
  neighbours(id) {
    const i = this.messages.findIndex((m) => m.ID === id);
    if (i < 0) return { prev: null, next: null };
    return { prev: this.messages[i - 1]?.ID || null, next: this.messages[i + 1]?.ID || null };
  }

  markLocallyRead(id) {
    const i = this.messages.findIndex((m) => m.ID === id);
    if (i >= 0) {
      this.cursor = i;
      if (!this.messages[i].Read) {
        this.messages[i].Read = true;
        this.app.adjustUnread(-1);
        this.render();
      }
    }
  }
}

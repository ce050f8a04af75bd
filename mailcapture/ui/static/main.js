// Entry point: wires the list, the message view, search, tags, live events and the keyboard.

import { $, clear, h } from "./dom.js";
import { LiveEvents } from "./events.js";
import { formatCount } from "./format.js";
import { Inbox } from "./inbox.js";
import { MessageView } from "./message.js";
import { refreshTimes } from "./rows.js";

const SEARCH_DEBOUNCE_MS = 300;
const TIME_REFRESH_MS = 30 * 1000;
const TOAST_MS = 3500;
const APP_NAME = "mailcapture";

class App {
  constructor() {
    this.unread = 0;
    this.tags = [];
    this.view = "list";
    this.searchInput = $("#search");
    this.inbox = new Inbox({
      list: $("#message-list"),
      empty: $("#list-empty"),
      error: $("#list-error"),
      banner: $("#select-banner"),
      selectAll: $("#select-all"),
      selection: $("#selection-count"),
      read: $("#btn-read"),
      unread: $("#btn-unread"),
      del: $("#btn-delete"),
      delAll: $("#btn-delete-all"),
      refresh: $("#btn-refresh"),
      pager: $("#pager-text"),
      prev: $("#btn-prev"),
      next: $("#btn-next"),
    }, this);
    this.message = new MessageView($("#message-view"), this);
    this.events = new LiveEvents({
      onEvent: (ev) => this.onEvent(ev),
      onStatus: (status) => this.setStatus(status),
      onReconnect: () => this.inbox.load(),
    });
  }

  start() {
    this.bindSearch();
    this.bindKeyboard();
    $("#nav-toggle").addEventListener("click", () => this.toggleNav());
    document.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && document.body.classList.contains("nav-open")) this.toggleNav(false);
    });
    $("#nav-all").addEventListener("click", () => this.filterTag(""));
    window.addEventListener("hashchange", () => this.route());
    setInterval(() => refreshTimes(document), TIME_REFRESH_MS);
    this.route();
    this.events.start();
  }

  // -- routing: "#/m/<id>" is a message, anything else the list ("#/?q=..&tag=..&start=..")
  route() {
    const hash = location.hash.slice(1) || "/";
    if (!hash.startsWith("/")) {
      // an in-page anchor (the skip link): move focus there, keep the view as it is
      document.getElementById(hash)?.focus();
      return;
    }
    const m = hash.match(/^\/m\/(.+)$/);
    if (m) {
      this.showView("message");
      this.message.show(decodeURIComponent(m[1]));
      if (!this.inbox.loaded) this.inbox.setFilter(this.listStateFromHash(""));
      return;
    }
    const fromMessage = this.view === "message";
    this.showView("list");
    const state = this.listStateFromHash(hash);
    this.searchInput.value = state.search;
    this.inbox.setFilter(state).then(() => {
      if (fromMessage) this.inbox.focusCursor();
    });
    this.renderTags();
  }

  listStateFromHash(hash) {
    const params = new URLSearchParams(hash.split("?")[1] || "");
    const start = Math.max(0, parseInt(params.get("start") || "0", 10) || 0);
    return { search: params.get("q") || "", tag: params.get("tag") || "", start };
  }

  listHash() {
    const params = new URLSearchParams();
    if (this.inbox.search) params.set("q", this.inbox.search);
    if (this.inbox.tag) params.set("tag", this.inbox.tag);
    if (this.inbox.start) params.set("start", String(this.inbox.start));
    const text = params.toString();
    return `#/${text ? `?${text}` : ""}`;
  }

  /** The list's filter or page changed: keep the address in step without a history entry. */
  listChanged() {
    if (this.view === "list") history.replaceState(null, "", this.listHash());
    this.renderTags();
  }

  showView(view) {
    this.view = view;
    $("#inbox-view").hidden = view !== "list";
    $("#message-view").hidden = view !== "message";
    document.body.dataset.view = view;
    this.updateTitle();
  }

  open(id, replace = false) {
    if (!id) return;
    const hash = `#/m/${encodeURIComponent(id)}`;
    if (replace) {
      history.replaceState(null, "", hash);
      this.route();
    } else location.hash = hash;
  }

  back() {
    location.hash = this.listHash();
  }

  // -- search and tags
  bindSearch() {
    let timer = null;
    const apply = () => {
      clearTimeout(timer);
      this.inbox.setFilter({ search: this.searchInput.value.trim(), start: 0 });
      if (this.view !== "list") this.back();
      else this.listChanged();
    };
    this.searchInput.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(apply, SEARCH_DEBOUNCE_MS);
    });
    $("#search-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      apply();
    });
    this.searchInput.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape") {
        if (this.searchInput.value) {
          this.searchInput.value = "";
          apply();
        } else {
          this.searchInput.blur();
          this.inbox.focusCursor();
        }
      } else if (ev.key === "ArrowDown") {
        ev.preventDefault();
        this.inbox.focusCursor();
      }
    });
  }

  filterTag(tag) {
    this.inbox.setFilter({ tag, start: 0 });
    this.toggleNav(false);
    if (this.view !== "list") this.back();
    else this.listChanged();
  }

  setTags(tags) {
    const same = tags.length === this.tags.length && tags.every((t, i) => t === this.tags[i]);
    this.tags = tags;
    if (!same) this.renderTags();
  }

  addTags(tags) {
    const known = new Set(this.tags.map((t) => t.toLowerCase()));
    const fresh = tags.filter((t) => !known.has(t.toLowerCase()));
    if (fresh.length) this.setTags([...this.tags, ...fresh].sort((a, b) => a.localeCompare(b)));
  }

  renderTags() {
    const active = this.inbox.tag;
    $("#nav-all").setAttribute("aria-pressed", String(!active));
    const list = clear($("#tag-list"));
    $("#tags-empty").hidden = this.tags.length > 0;
    for (const tag of this.tags) {
      list.append(h("li", {}, h("button", {
        type: "button", class: "nav-item", "aria-pressed": String(tag === active),
        on: { click: () => this.filterTag(tag === active ? "" : tag) },
      }, h("span", { class: "tag-dot", "aria-hidden": "true" }), h("span", { class: "nav-label", text: tag }))));
    }
  }

  toggleNav(force) {
    const open = document.body.classList.toggle("nav-open", force);
    $("#nav-toggle").setAttribute("aria-expanded", String(open));
  }

  // -- counts, title, status
  setUnread(n) {
    this.unread = Math.max(0, Number(n) || 0);
    const badge = $("#unread-badge");
    badge.textContent = this.unread ? formatCount(this.unread) : "";
    badge.hidden = !this.unread;
    this.updateTitle();
  }

  adjustUnread(delta) {
    this.setUnread(this.unread + delta);
  }

  updateTitle() {
    const where = this.view === "message" && this.message.message ? this.message.message.Subject || "(no subject)" : "Inbox";
    document.title = `${this.unread ? `(${formatCount(this.unread)}) ` : ""}${where} · ${APP_NAME}`;
  }

  setStatus(status) {
    const el = $("#conn-status");
    el.dataset.status = status;
    el.textContent = { live: "Live", connecting: "Connecting…", offline: "Reconnecting…" }[status] || status;
    el.title = status === "live" ? "New mail appears as it arrives" : "Live updates are paused; retrying";
  }

  onEvent(ev) {
    const data = ev.Data;
    if (ev.Type === "stats" && data && typeof data.Unread === "number") this.setUnread(data.Unread);
    else if (ev.Type === "new" && data && !data.Read) this.adjustUnread(1);
    else if (ev.Type === "truncate") this.setUnread(0);
    if ((ev.Type === "delete" || ev.Type === "prune") && data && this.message.id) {
      const ids = data.IDs || (data.ID ? [data.ID] : []);
      if (ids.includes(this.message.id) && this.view === "message") this.message.removedElsewhere();
    }
    if (ev.Type === "truncate" && this.view === "message") this.message.removedElsewhere();
    this.inbox.applyEvent(ev);
  }

  // -- for the views
  neighbours(id) {
    return this.inbox.neighbours(id);
  }

  markedRead(id) {
    this.inbox.markLocallyRead(id);
    this.updateTitle();
  }

  toast(text) {
    const el = $("#toast");
    el.textContent = text;
    el.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => { el.hidden = true; }, TOAST_MS);
  }

  confirm(text) {
    const dialog = $("#confirm");
    $("#confirm-text").textContent = text;
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
      dialog.returnValue = "";
      dialog.showModal();
      $("#confirm-cancel").focus();
    });
  }

  // -- keyboard: up/down or j/k move, Enter opens, Delete deletes, "/" searches
  bindKeyboard() {
    document.addEventListener("focusin", (ev) => this.inbox.cursorFromElement(ev.target));
    document.addEventListener("keydown", (ev) => this.onKey(ev));
  }

  onKey(ev) {
    if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const target = ev.target;
    const typing = target.closest?.("input:not([type=checkbox]), textarea, select, dialog");
    if (typing) return;
    if (ev.key === "/") {
      ev.preventDefault();
      this.searchInput.focus();
      this.searchInput.select();
      return;
    }
    if (this.view === "list") this.listKey(ev);
    else this.messageKey(ev);
  }

  listKey(ev) {
    const inList = ev.target === document.body || ev.target === $("#main") || ev.target.closest?.("#message-list");
    const moves = {
      ArrowDown: () => this.inbox.moveCursor(1),
      j: () => this.inbox.moveCursor(1),
      ArrowUp: () => this.inbox.moveCursor(-1),
      k: () => this.inbox.moveCursor(-1),
      x: () => this.inbox.toggleCursor(),
    };
    const actions = {
      Enter: () => this.open(this.inbox.currentId()),
      Delete: () => this.inbox.deleteSelected(),
    };
    const fn = moves[ev.key] || (inList ? actions[ev.key] : null);
    if (!fn || ev.target.closest?.(".help-pop, [role=tab]")) return;
    ev.preventDefault();
    fn();
  }

  messageKey(ev) {
    if (ev.target.closest?.("[role=tab]") && ev.key.startsWith("Arrow")) return;
    const id = this.message.id;
    const { prev, next } = id ? this.neighbours(id) : { prev: null, next: null };
    const handlers = {
      Escape: () => this.back(),
      Backspace: () => this.back(),
      j: () => this.open(next, true),
      k: () => this.open(prev, true),
      Delete: () => this.message.remove(),
    };
    const fn = handlers[ev.key];
    if (!fn) return;
    ev.preventDefault();
    fn();
  }
}

new App().start();

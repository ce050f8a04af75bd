// The live event stream (/api/events, Mailpit's WebSocket), reconnecting with backoff.

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 10000;

export class LiveEvents {
  /**
   * onEvent({Type, Data}) for every event; onStatus("connecting"|"live"|"offline");
   * onReconnect() after a connection that follows a lost one (events may have been missed).
   */
  constructor({ onEvent, onStatus, onReconnect }) {
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.onReconnect = onReconnect;
    this.retryMs = RETRY_MIN_MS;
    this.everOpen = false;
    this.socket = null;
    this.timer = null;
  }

  url() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    return `${proto}//${location.host}/api/events`;
  }

  start() {
    this.connect();
    window.addEventListener("online", () => this.retryNow());
  }

  retryNow() {
    if (this.socket) return;
    clearTimeout(this.timer);
    this.retryMs = RETRY_MIN_MS;
    this.connect();
  }

  connect() {
    this.timer = null;
    this.onStatus(this.everOpen ? "offline" : "connecting");
    let socket;
    try {
      socket = new WebSocket(this.url());
    } catch {
      this.scheduleRetry();
      return;
    }
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.retryMs = RETRY_MIN_MS;
      this.onStatus("live");
      if (this.everOpen) this.onReconnect();
      this.everOpen = true;
    });
    socket.addEventListener("message", (ev) => {
      let event;
      try {
        event = JSON.parse(ev.data);
      } catch {
        return; // not an event we understand
      }
      if (event && typeof event.Type === "string") this.onEvent(event);
    });
    socket.addEventListener("close", () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.onStatus("offline");
      this.scheduleRetry();
    });
  }

  scheduleRetry() {
    if (this.timer) return;
    const jitter = Math.random() * 0.3 * this.retryMs;
    this.timer = setTimeout(() => this.connect(), this.retryMs + jitter);
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }
}

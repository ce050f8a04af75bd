// The Mailpit-compatible HTTP API, as used by the inbox.

export const PAGE_SIZE = 50;
const API = "/api/v1";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function request(method, path, body) {
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  if (!resp.ok) {
    let detail = "";
    try {
      detail = (await resp.text()).trim();
    } catch {
      // the status alone will do
    }
    throw new ApiError(resp.status, detail || `${resp.status} ${resp.statusText}`);
  }
  return resp;
}

async function json(method, path, body) {
  return (await request(method, path, body)).json();
}

const enc = encodeURIComponent;

/** One page of the list, or of a search when query is non-empty. */
export function listMessages(query, start, limit = PAGE_SIZE) {
  const range = `start=${start}&limit=${limit}`;
  if (query) return json("GET", `${API}/search?query=${enc(query)}&${range}`);
  return json("GET", `${API}/messages?${range}`);
}

export function getMessage(id) {
  return json("GET", `${API}/message/${enc(id)}`);
}

export function getHeaders(id) {
  return json("GET", `${API}/message/${enc(id)}/headers`);
}

/** ids: a list, or null for every message matching search ("" = all). */
export function setRead(ids, read, search = "") {
  const body = { Read: read };
  if (ids) body.IDs = ids;
  else if (search) body.Search = search;
  return request("PUT", `${API}/messages`, body);
}

export function deleteMessages(ids) {
  return request("DELETE", `${API}/messages`, ids ? { IDs: ids } : undefined);
}

export function deleteSearch(query) {
  return request("DELETE", `${API}/search?query=${enc(query)}`);
}

export function rawURL(id, download = false) {
  return `${API}/message/${enc(id)}/raw${download ? "?dl=1" : ""}`;
}

export function partURL(id, partId) {
  return `${API}/message/${enc(id)}/part/${enc(partId)}`;
}

export function previewURL(part, size) {
  const base = part.PreviewURL || (part.PreviewID ? `/preview/${enc(part.PreviewID)}` : "");
  return base ? `${base}?size=${size}` : "";
}

/**
 * The message source as text, at most maxBytes of it (the rest is left unread).
 * Returns {text, truncated}.
 */
export async function rawText(id, maxBytes) {
  const resp = await request("GET", rawURL(id));
  const reader = resp.body.getReader();
  const chunks = [];
  let total = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    total += value.length;
    if (total >= maxBytes) {
      truncated = true;
      await reader.cancel();
      break;
    }
  }
  const bytes = new Uint8Array(Math.min(total, maxBytes));
  let offset = 0;
  for (const chunk of chunks) {
    const take = Math.min(chunk.length, bytes.length - offset);
    bytes.set(chunk.subarray(0, take), offset);
    offset += take;
    if (offset >= bytes.length) break;
  }
  return { text: new TextDecoder("utf-8").decode(bytes), truncated };
}

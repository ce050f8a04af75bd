// Formatting of times, sizes and addresses for display.

const MINUTE = 60 * 1000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const SIZE_UNITS = ["B", "KB", "MB", "GB", "TB"];

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayFmt = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
const yearFmt = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric" });
const exactFmt = new Intl.DateTimeFormat(undefined, {
  weekday: "short", year: "numeric", month: "short", day: "numeric",
  hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
});

export function parseTime(text) {
  const t = new Date(text);
  return Number.isNaN(t.getTime()) ? null : t;
}

/** "just now", "5 min ago", "3 h ago", "yesterday 14:03", "Mar 4", "Mar 4, 2023". */
export function relativeTime(date, now = new Date()) {
  if (!date) return "";
  const diff = now - date;
  if (diff < 45 * 1000 && diff > -MINUTE) return "just now";
  if (diff >= 0 && diff < HOUR) return `${Math.round(diff / MINUTE)} min ago`;
  if (diff >= 0 && diff < 12 * HOUR) return `${Math.round(diff / HOUR)} h ago`;
  const startOfToday = new Date(now.getFullYear(), now.getMonth(), now.getDate());
  if (date >= startOfToday && date - startOfToday < DAY) return timeFmt.format(date);
  if (date >= startOfToday - DAY && date < startOfToday) return `yesterday ${timeFmt.format(date)}`;
  if (date.getFullYear() === now.getFullYear()) return dayFmt.format(date);
  return yearFmt.format(date);
}

export function exactTime(date) {
  return date ? exactFmt.format(date) : "";
}

export function formatSize(bytes) {
  let n = Number(bytes) || 0;
  let unit = 0;
  while (n >= 1024 && unit < SIZE_UNITS.length - 1) {
    n /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || n >= 10 ? 0 : 1;
  return `${n.toFixed(digits)} ${SIZE_UNITS[unit]}`;
}

export function formatCount(n) {
  return Number(n || 0).toLocaleString();
}

/** A person's display form: "Name <addr>" or "addr". */
export function formatAddress(addr) {
  if (!addr) return "";
  const name = (addr.Name || "").trim();
  const address = (addr.Address || "").trim();
  if (name && address && name !== address) return `${name} <${address}>`;
  return name || address;
}

/** The short form used in the list: the name when there is one, else the address. */
export function shortAddress(addr) {
  if (!addr) return "";
  return (addr.Name || "").trim() || (addr.Address || "").trim();
}

export function addressList(list, short = false) {
  return (list || []).map(short ? shortAddress : formatAddress).filter(Boolean).join(", ");
}

/** File extension in capitals for placeholders ("PDF"), or a type word. */
export function fileBadge(fileName, contentType) {
  const dot = (fileName || "").lastIndexOf(".");
  if (dot > 0 && dot > fileName.length - 7) return fileName.slice(dot + 1).toUpperCase();
  const sub = (contentType || "").split("/")[1] || "file";
  return sub.replace(/^x-/, "").slice(0, 6).toUpperCase();
}

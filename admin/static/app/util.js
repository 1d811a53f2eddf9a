// Small helpers shared by the pages: dates in China time, numbers, colours.
export const CHINA_TZ = "Asia/Shanghai";

/** Today's date in China as YYYY-MM-DD (the hub counts days and months in China time). */
export function chinaToday(now = new Date()) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: CHINA_TZ, year: "numeric", month: "2-digit", day: "2-digit" }).format(now);
}

/** First and last day of the month of a YYYY-MM-DD date, shifted by `offset` months. */
export function monthBounds(day, offset = 0) {
  const [y, m] = day.split("-").map(Number);
  const first = new Date(Date.UTC(y, m - 1 + offset, 1));
  const last = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + 1, 0));
  const iso = (d) => d.toISOString().slice(0, 10);
  return [iso(first), iso(last)];
}

export function formatDateTime(value) {
  if (!value) return "";
  return new Intl.DateTimeFormat("zh-CN", {
    timeZone: CHINA_TZ, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false,
  }).format(new Date(value));
}

export function formatMoney(value) {
  if (value === null || value === undefined || value === "") return "";
  return Number(value).toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

export const COLOUR_TAG = { RED: "danger", YELLOW: "warning", BLUE: "primary" };
export const COLOUR_CSS = { RED: "#d9363e", YELLOW: "#e6a23c", BLUE: "#409eff" };
export const OPEN_STATUSES = ["RECEIVED", "DISPATCHED", "IN_PROGRESS", "RETURNED", "ESCALATED"];
export const CLOSED_STATUSES = ["CLOSED", "CALLED_BACK"];

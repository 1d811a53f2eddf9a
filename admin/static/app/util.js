// Small helpers shared by the pages: dates in China time, numbers, colours, the sectors, the pager.
import { t } from "./i18n.js";

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

/** The 行业主管部门 a sector user or key stands for (hub.access.SECTORS; the API refuses any other). */
export const SECTORS = ["住建", "交通", "水利"];

/**
 * Walking a server-paged list (first/after): `next` asks for the page after this one, `previous` walks
 * back the cursors seen, `restart` goes back to the first page (new filters). `state` keeps `after` (this
 * page's cursor), `cursors` (those of the pages before it) and `pageInfo` (the API's); `load(after)`
 * loads a page and sets them.
 */
export function cursorPaging(state, load) {
  return {
    restart: () => { state.cursors = []; load(); },
    next: () => { state.cursors.push(state.after); load(state.pageInfo.endCursor); },
    previous: () => load(state.cursors.pop() ?? null),
  };
}

/**
 * The pager under a server-paged list: the total, 上一页 and 下一页, on the `state` of `cursorPaging`.
 * `tests` names the parts for the tests ({pager, total, previous, next}: data-test values; any left out
 * has none).
 */
export const HubPager = {
  props: { state: { type: Object, required: true }, tests: { type: Object, default: () => ({}) } },
  emits: ["previous", "next"],
  setup() { return { t }; },
  template: `
    <div class="hub-pager" :data-test="tests.pager"><span :data-test="tests.total">{{ t('common.total', {n: state.total}) }}</span>
      <el-button size="small" :disabled="!state.cursors.length" @click="$emit('previous')" :data-test="tests.previous">{{ t('common.previous') }}</el-button>
      <el-button size="small" :disabled="!state.pageInfo || !state.pageInfo.hasNextPage" @click="$emit('next')" :data-test="tests.next">{{ t('common.more') }}</el-button></div>`,
};

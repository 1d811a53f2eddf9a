// 线索池: the clue pool within the jurisdiction — filters in the address (so a dashboard figure links
// here), server-side keyset pagination (first/after; "previous" walks back the cursors seen), sorting
// by receipt or deadline, the colour as a tag. One GraphQL request per page.
import { onMounted, reactive } from "vue";
import { gql } from "../api.js";
import { t } from "../i18n.js";
import { href, navigate, route } from "../router.js";
import { COLOUR_TAG, cursorPaging, formatDateTime, formatMoney, HubPager } from "../util.js";

export const PAGE_SIZE = 20;
const STATUSES = ["RECEIVED", "DISPATCHED", "IN_PROGRESS", "RETURNED", "ESCALATED", "CLOSED", "CALLED_BACK", "MERGED"];
const COLOURS = ["RED", "YELLOW", "BLUE"];
const CHANNELS = ["NATIONAL_PLATFORM", "HOTLINE12345", "HOTLINE12333", "PETITION", "WALK_IN", "SUPERIOR", "LEADER", "PUBLIC_OPINION", "ONLINE", "GRID", "WARNING"];
const ORDERS = ["RECEIVED_AT_DESC", "RECEIVED_AT_ASC", "DEADLINE_ASC"];

export const CLUES_QUERY = `query CluePool($filter: ClueFilter, $order: ClueOrder!, $first: Int, $after: String) {
  clues(filter: $filter, order: $order, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes {
      clueNo title status colour receivedAt deadline workingDaysLeft overdue supervision amount headcount
      respondentName handlingRegion { name } region { name }
      channelRecords { channel }
    }
  }
}`;

/** The ClueFilter the address asks for (the same keys the dashboard's links use). */
export function filterFromQuery(q) {
  const f = {};
  const list = (v) => (v ? v.split(",").filter(Boolean) : null);
  if (q.status) f.status = list(q.status);
  if (q.colour) f.colour = list(q.colour);
  if (q.channel) f.channel = q.channel;
  if (q.regionCode) f.regionCode = q.regionCode;
  if (q.receivedFrom) f.receivedFrom = q.receivedFrom;
  if (q.receivedTo) f.receivedTo = q.receivedTo;
  if (q.closedFrom) f.closedFrom = q.closedFrom;
  if (q.closedTo) f.closedTo = q.closedTo;
  if (q.overdue) f.overdue = q.overdue === "true";
  if (q.supervised) f.supervised = q.supervised === "true";
  if (q.search) f.search = q.search;
  return f;
}

export default {
  components: { HubPager },
  setup() {
    const q = route.query;
    const form = reactive({
      status: q.status ? q.status.split(",") : [],
      colour: q.colour ? q.colour.split(",") : [],
      channel: q.channel || "",
      regionCode: q.regionCode || "",
      overdue: q.overdue || "",
      supervised: q.supervised || "",
      search: q.search || "",
      order: ORDERS.includes(q.order) ? q.order : "RECEIVED_AT_DESC",
    });
    const state = reactive({ loading: false, error: null, errorField: null, rows: [], total: 0, pageInfo: null, cursors: [], after: null, regions: [] });

    async function load(after = null) {
      state.loading = true;
      state.error = null;
      state.errorField = null;
      try {
        const data = await gql(CLUES_QUERY, { filter: filterFromQuery(route.query), order: form.order, first: PAGE_SIZE, after });
        state.rows = data.clues.nodes;
        state.total = data.clues.totalCount;
        state.pageInfo = data.clues.pageInfo;
        state.after = after;
      } catch (e) {
        state.error = e.shown || String(e);
        state.errorField = e.field;
        state.rows = [];
      } finally {
        state.loading = false;
      }
    }
    function apply() {
      navigate("/clues", {
        status: form.status, colour: form.colour, channel: form.channel, regionCode: form.regionCode,
        overdue: form.overdue, supervised: form.supervised, search: form.search.trim(),
        receivedFrom: route.query.receivedFrom, receivedTo: route.query.receivedTo,
        closedFrom: route.query.closedFrom, closedTo: route.query.closedTo,
        order: form.order === "RECEIVED_AT_DESC" ? "" : form.order,
      });
    }
    function resetFilters() { navigate("/clues"); }
    const { next, previous } = cursorPaging(state, load);
    onMounted(() => load());
    const range = (a, b) => (a || b ? `${a || ""} ~ ${b || ""}` : "");
    const received = () => range(route.query.receivedFrom, route.query.receivedTo);
    const closed = () => range(route.query.closedFrom, route.query.closedTo);
    return { form, state, apply, resetFilters, next, previous, t, href, STATUSES, COLOURS, CHANNELS, ORDERS, COLOUR_TAG, formatDateTime, formatMoney, received, closed, PAGE_SIZE };
  },
  template: `
  <div data-test="clues">
    <div class="hub-filters">
      <el-select v-model="form.status" multiple collapse-tags :placeholder="t('clues.status')" data-filter="status" clearable>
        <el-option v-for="s in STATUSES" :key="s" :value="s" :label="t('statuses.' + s)" />
      </el-select>
      <el-select v-model="form.colour" multiple collapse-tags :placeholder="t('clues.colour')" data-filter="colour" clearable>
        <el-option v-for="c in COLOURS" :key="c" :value="c" :label="t('colours.' + c)" />
      </el-select>
      <el-select v-model="form.channel" :placeholder="t('clues.channel')" data-filter="channel" clearable>
        <el-option v-for="c in CHANNELS" :key="c" :value="c" :label="t('channels.' + c)" />
      </el-select>
      <div>
        <el-input v-model="form.regionCode" :placeholder="t('clues.region')" style="width:150px" data-filter="regionCode" clearable />
        <div v-if="state.errorField === 'regionCode'" class="hub-error" data-error-for="regionCode">{{ state.error }}</div>
      </div>
      <el-select v-model="form.overdue" :placeholder="t('clues.overdue')" data-filter="overdue" clearable style="width:110px">
        <el-option value="true" :label="t('common.yes')" /><el-option value="false" :label="t('common.no')" />
      </el-select>
      <el-select v-model="form.supervised" :placeholder="t('clues.supervised')" data-filter="supervised" clearable style="width:110px">
        <el-option value="true" :label="t('common.yes')" /><el-option value="false" :label="t('common.no')" />
      </el-select>
      <el-input v-model="form.search" :placeholder="t('clues.search')" style="width:200px" data-filter="search" clearable @keyup.enter="apply" />
      <el-select v-model="form.order" data-filter="order" style="width:190px">
        <el-option value="RECEIVED_AT_DESC" :label="t('clues.orderDesc')" />
        <el-option value="RECEIVED_AT_ASC" :label="t('clues.orderAsc')" />
        <el-option value="DEADLINE_ASC" :label="t('clues.deadline')" />
      </el-select>
      <el-button type="primary" @click="apply" data-test="apply">{{ t('common.search') }}</el-button>
      <el-button @click="resetFilters">{{ t('common.reset') }}</el-button>
      <el-tag v-if="received()" type="info" data-test="received-range">{{ t('clues.received') }} {{ received() }}</el-tag>
      <el-tag v-if="closed()" type="info" data-test="closed-range">{{ t('clues.closedAt') }} {{ closed() }}</el-tag>
    </div>
    <el-alert v-if="state.error && state.errorField !== 'regionCode'" type="error" :title="state.error" :closable="false" data-test="error" />
    <el-table :data="state.rows" v-loading="state.loading" size="small" border stripe data-test="clue-table" :empty-text="t('common.none')">
      <el-table-column :label="t('clues.clueNo')" width="190"><template #default="{row}"><a class="hub-link" :href="href('/clue/' + row.clueNo)" data-clue-no>{{ row.clueNo }}</a></template></el-table-column>
      <el-table-column :label="t('clues.colour')" width="64"><template #default="{row}"><el-tag v-if="row.colour" :type="COLOUR_TAG[row.colour]" effect="dark" size="small">{{ t('colours.' + row.colour) }}</el-tag></template></el-table-column>
      <el-table-column prop="title" :label="t('clues.titleCol')" min-width="200" show-overflow-tooltip />
      <el-table-column :label="t('clues.status')" width="84"><template #default="{row}">{{ t('statuses.' + row.status) }}</template></el-table-column>
      <el-table-column :label="t('clues.channel')" width="130" show-overflow-tooltip><template #default="{row}">{{ row.channelRecords.map(r => t('channels.' + r.channel)).join('、') }}</template></el-table-column>
      <el-table-column :label="t('clues.handling')" width="110" show-overflow-tooltip><template #default="{row}">{{ row.handlingRegion && row.handlingRegion.name }}</template></el-table-column>
      <el-table-column :label="t('clues.received')" width="140"><template #default="{row}">{{ formatDateTime(row.receivedAt) }}</template></el-table-column>
      <el-table-column :label="t('clues.deadline')" width="100"><template #default="{row}"><span :style="row.overdue ? 'color:#d9363e' : ''">{{ row.deadline }}</span></template></el-table-column>
      <el-table-column :label="t('clues.daysLeft')" width="80" prop="workingDaysLeft" />
    </el-table>
    <HubPager :state="state" :tests="{pager: 'pager', total: 'total', previous: 'previous', next: 'next'}" @previous="previous" @next="next" />
  </div>`,
};

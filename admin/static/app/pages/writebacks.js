// 写回: the write-back queue (clue outcomes going back to 12345 and the national platform) — pending,
// failing, acknowledged — with the upstream's reason, and a retry that delivers one now. Admin only.
import { onMounted, reactive } from "vue";
import { gql } from "../api.js";
import { t, tOr } from "../i18n.js";
import { href, navigate, route } from "../router.js";
import { cursorPaging, formatDateTime, HubPager } from "../util.js";

const STATUSES = ["failing", "pending", "delivering", "acknowledged"];
export const WRITEBACKS_QUERY = `query Writebacks($status: String, $first: Int, $after: String) {
  writebacks(status: $status, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id channel channelName sourceId writebackStatus writebackAttempts writebackError writebackNextAt writebackDoneAt clue { clueNo } }
  }
}`;
const RETRY = `mutation Retry($id: ID!) { retryWriteback(id: $id) { id writebackStatus writebackAttempts writebackError } }`;

export default {
  components: { HubPager },
  setup() {
    const status = STATUSES.includes(route.query.status) ? route.query.status : "";
    const state = reactive({ status, loading: true, error: null, rows: [], total: 0, pageInfo: null, cursors: [], after: null, busy: {}, message: null });
    async function load(after = null) {
      state.loading = true;
      try {
        const data = await gql(WRITEBACKS_QUERY, { status: state.status || null, first: 20, after });
        Object.assign(state, { rows: data.writebacks.nodes, total: data.writebacks.totalCount, pageInfo: data.writebacks.pageInfo, after, error: null });
      } catch (e) {
        state.error = e.shown || String(e);
      } finally {
        state.loading = false;
      }
    }
    async function retry(row) {
      state.busy[row.id] = true;
      state.message = null;
      try {
        const r = (await gql(RETRY, { id: row.id })).retryWriteback;
        state.message = `${row.channelName} ${row.sourceId}：${tOr("writeback." + r.writebackStatus, r.writebackStatus)}${r.writebackError ? "（" + r.writebackError + "）" : ""}`;
        await load(state.after);
      } catch (e) {
        state.message = e.shown || String(e);
      } finally {
        state.busy[row.id] = false;
      }
    }
    const filter = (s) => navigate("/writebacks", { status: s });
    const { next, previous } = cursorPaging(state, load);
    onMounted(() => load());
    return { state, retry, filter, next, previous, t, tOr, href, formatDateTime, STATUSES };
  },
  template: `
  <div data-test="writebacks">
    <div class="hub-filters">
      <el-radio-group :model-value="state.status" @change="filter" size="small">
        <el-radio-button value="">{{ t('common.all') }}</el-radio-button>
        <el-radio-button v-for="s in STATUSES" :key="s" :value="s">{{ tOr('writeback.' + s, s) }}</el-radio-button>
      </el-radio-group>
    </div>
    <el-alert v-if="state.error" type="error" :title="state.error" :closable="false" data-test="error" />
    <el-alert v-if="state.message" type="info" :title="state.message" :closable="false" style="margin-bottom:8px" data-test="message" />
    <el-table v-if="!state.error" :data="state.rows" v-loading="state.loading" size="small" border data-test="writeback-table" :empty-text="t('common.none')">
      <el-table-column :label="t('clues.clueNo')" width="190"><template #default="{row}"><a class="hub-link" :href="href('/clue/' + row.clue.clueNo)">{{ row.clue.clueNo }}</a></template></el-table-column>
      <el-table-column prop="channelName" :label="t('clues.channel')" width="170" />
      <el-table-column prop="sourceId" width="170" />
      <el-table-column :label="t('common.status')" width="90"><template #default="{row}"><span :data-status="row.writebackStatus">{{ tOr('writeback.' + row.writebackStatus, row.writebackStatus) }}</span></template></el-table-column>
      <el-table-column prop="writebackAttempts" :label="t('writebacks.attempts')" width="70" />
      <el-table-column :label="t('writebacks.next')" width="140"><template #default="{row}">{{ formatDateTime(row.writebackNextAt || row.writebackDoneAt) }}</template></el-table-column>
      <el-table-column prop="writebackError" :label="t('writebacks.error')" min-width="200" show-overflow-tooltip />
      <el-table-column width="90"><template #default="{row}">
        <el-button v-if="row.writebackStatus === 'pending' || row.writebackStatus === 'failing'" size="small" :loading="!!state.busy[row.id]" :disabled="!!state.busy[row.id]" @click="retry(row)" data-action="retry">{{ t('writebacks.retry') }}</el-button>
      </template></el-table-column>
    </el-table>
    <HubPager :state="state" :tests="{total: 'total'}" @previous="previous" @next="next" />
  </div>`,
};

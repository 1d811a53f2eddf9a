// 系统: the audit log (newest first, server-side pages) and the API keys (admin only; the API refuses
// others and the page says so). Keys are created and revoked with `hub api-key` (the API has no mutation yet).
import { onMounted, reactive } from "vue";
import { gql } from "../api.js";
import { t } from "../i18n.js";
import { formatDateTime } from "../util.js";

export const SYSTEM_QUERY = `query System($first: Int, $after: String) {
  auditLog(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { at principal action entityType entityId regionCode detail }
  }
  apiKeys(first: 50) { nodes { name prefix role regionCode canUnmask createdAt revokedAt lastUsedAt } }
}`;

export default {
  setup() {
    const state = reactive({ loading: true, error: null, audit: [], total: 0, pageInfo: null, keys: [], cursors: [], after: null });
    async function load(after = null) {
      try {
        const data = await gql(SYSTEM_QUERY, { first: 20, after });
        Object.assign(state, { audit: data.auditLog.nodes, total: data.auditLog.totalCount, pageInfo: data.auditLog.pageInfo, keys: data.apiKeys.nodes, after, error: null });
      } catch (e) {
        state.error = e.shown || String(e);
      } finally {
        state.loading = false;
      }
    }
    const next = () => { state.cursors.push(state.after); load(state.pageInfo.endCursor); };
    const previous = () => load(state.cursors.pop() ?? null);
    onMounted(() => load());
    return { state, next, previous, t, formatDateTime, json: (v) => JSON.stringify(v) };
  },
  template: `
  <div data-test="system">
    <el-alert v-if="state.error" type="error" :title="state.error" :closable="false" data-test="error" />
    <div v-if="state.loading">{{ t('common.loading') }}</div>
    <template v-else-if="!state.error">
      <div class="hub-panel"><h3>{{ t('system.audit') }}</h3>
        <el-table :data="state.audit" size="small" border>
          <el-table-column width="140"><template #default="{row}">{{ formatDateTime(row.at) }}</template></el-table-column>
          <el-table-column prop="principal" width="160" show-overflow-tooltip />
          <el-table-column prop="action" width="170" />
          <el-table-column width="140"><template #default="{row}">{{ row.entityType }} {{ row.entityId }}</template></el-table-column>
          <el-table-column prop="regionCode" width="80" />
          <el-table-column show-overflow-tooltip><template #default="{row}">{{ json(row.detail) }}</template></el-table-column>
        </el-table>
        <div class="hub-pager"><span>{{ t('common.total', {n: state.total}) }}</span>
          <el-button size="small" :disabled="!state.cursors.length" @click="previous">{{ t('common.previous') }}</el-button>
          <el-button size="small" :disabled="!state.pageInfo || !state.pageInfo.hasNextPage" @click="next">{{ t('common.more') }}</el-button></div>
      </div>
      <div class="hub-panel"><h3>{{ t('system.keys') }}</h3>
        <el-table :data="state.keys" size="small" border>
          <el-table-column prop="name" min-width="160" /><el-table-column prop="prefix" width="110" />
          <el-table-column prop="role" width="90" /><el-table-column prop="regionCode" width="80" />
          <el-table-column width="140"><template #default="{row}">{{ formatDateTime(row.lastUsedAt) }}</template></el-table-column>
          <el-table-column width="140"><template #default="{row}">{{ formatDateTime(row.revokedAt) }}</template></el-table-column>
        </el-table>
      </div>
    </template>
  </div>`,
};

// 数据接入: configured connectors with their health, last and next run and failure reason; test the
// connection, enable / disable, sync now; each one's run history with per-stream counts and durations;
// the quarantine (records that failed normalisation, with the reason and the masked payload) with replay.
// Admin only: the API refuses other roles, and the page says so.
import { onMounted, reactive } from "vue";
import { gql } from "../api.js";
import { t } from "../i18n.js";
import { formatDateTime } from "../util.js";

export const CONNECTORS_QUERY = `query Connectors($qFirst: Int, $qAfter: String) {
  connectorInstances(first: 50) {
    nodes { id name kind enabled health consecutiveFailures pausedReason lastRunAt nextRunAt scheduleSeconds hasSecrets
      runs { startedAt finishedAt status fullRefresh stats error durationMs } }
  }
  quarantine(first: $qFirst, after: $qAfter) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id stream reason field status createdAt rawRecord { source payload } }
  }
}`;

export default {
  setup() {
    const state = reactive({ loading: true, error: null, rows: [], quarantine: [], qTotal: 0, qPage: null, selected: [], message: null, busy: {} });
    async function load(qAfter = null) {
      try {
        const data = await gql(CONNECTORS_QUERY, { qFirst: 20, qAfter });
        state.rows = data.connectorInstances.nodes;
        state.quarantine = data.quarantine.nodes;
        state.qTotal = data.quarantine.totalCount;
        state.qPage = data.quarantine.pageInfo;
        state.error = null;
      } catch (e) {
        state.error = e.shown || String(e);
      } finally {
        state.loading = false;
      }
    }
    async function run(key, query, variables, done) {
      state.busy[key] = true;
      state.message = null;
      try {
        const data = await gql(query, variables);
        state.message = done(data);
        await load();
      } catch (e) {
        state.message = e.shown || String(e);
      } finally {
        state.busy[key] = false;
      }
    }
    const test = (c) => run(`test${c.id}`, "mutation($id: ID!) { testConnector(id: $id) { ok message } }", { id: c.id },
      (d) => `${c.name}：${d.testConnector.ok ? "OK" : "✗"} ${d.testConnector.message || ""}`);
    const sync = (c) => run(`sync${c.id}`, "mutation($id: ID!) { syncConnectorNow(id: $id) { id } }", { id: c.id }, () => `${c.name}：${t("connectors.syncNow")} ✓`);
    const toggle = (c) => run(`en${c.id}`, "mutation($id: ID!, $on: Boolean!) { setConnectorEnabled(id: $id, enabled: $on) { id enabled } }",
      { id: c.id, on: !c.enabled }, () => `${c.name}：${c.enabled ? t("connectors.disable") : t("connectors.enable")} ✓`);
    const replay = (ids) => run("replay", "mutation($ids: [ID!]) { replayQuarantine(ids: $ids) { replayed stillFailing } }", { ids },
      (d) => `${t("connectors.replay")}：${d.replayQuarantine.replayed} / ${d.replayQuarantine.stillFailing}`);
    const streams = (r) => Object.entries(r.stats || {}).map(([k, v]) => `${k}: ${typeof v === "object" ? Object.entries(v).map(([a, b]) => `${a}=${b}`).join(" ") : v}`).join("; ");
    onMounted(() => load());
    return { state, test, sync, toggle, replay, streams, t, formatDateTime, load, pretty: (v) => JSON.stringify(v, null, 2) };
  },
  template: `
  <div data-test="connectors">
    <el-alert v-if="state.error" type="error" :title="state.error" :closable="false" data-test="error" />
    <el-alert v-if="state.message" type="info" :title="state.message" :closable="false" style="margin-bottom:8px" data-test="message" />
    <div v-if="state.loading">{{ t('common.loading') }}</div>
    <el-table v-else-if="!state.error" :data="state.rows" size="small" border row-key="id" data-test="connector-table">
      <el-table-column type="expand"><template #default="{row}">
        <h4>{{ t('connectors.runs') }}</h4>
        <el-table :data="row.runs.slice(0, 10)" size="small">
          <el-table-column :label="t('connectors.lastRun')" width="140"><template #default="{row: r}">{{ formatDateTime(r.startedAt) }}</template></el-table-column>
          <el-table-column prop="status" width="90" />
          <el-table-column prop="durationMs" label="ms" width="70" />
          <el-table-column min-width="240"><template #default="{row: r}">{{ streams(r) }}</template></el-table-column>
          <el-table-column prop="error" show-overflow-tooltip />
        </el-table>
      </template></el-table-column>
      <el-table-column prop="name" :label="t('connectors.name')" min-width="150" />
      <el-table-column prop="kind" :label="t('connectors.kind')" width="130" />
      <el-table-column :label="t('connectors.health')" width="90"><template #default="{row}"><el-tag size="small" :type="row.health === 'ok' || row.health === 'healthy' ? 'success' : 'warning'">{{ row.health }}</el-tag></template></el-table-column>
      <el-table-column :label="t('connectors.enabled')" width="70"><template #default="{row}">{{ row.enabled ? t('common.yes') : t('common.no') }}</template></el-table-column>
      <el-table-column :label="t('connectors.lastRun')" width="140"><template #default="{row}">{{ formatDateTime(row.lastRunAt) }}</template></el-table-column>
      <el-table-column :label="t('connectors.nextRun')" width="140"><template #default="{row}">{{ formatDateTime(row.nextRunAt) }}</template></el-table-column>
      <el-table-column :label="t('connectors.paused')" min-width="120" show-overflow-tooltip><template #default="{row}">{{ row.pausedReason }}</template></el-table-column>
      <el-table-column :label="t('common.actions')" width="260"><template #default="{row}">
        <el-button size="small" :loading="!!state.busy['test' + row.id]" @click="test(row)">{{ t('connectors.test') }}</el-button>
        <el-button size="small" :loading="!!state.busy['sync' + row.id]" @click="sync(row)">{{ t('connectors.syncNow') }}</el-button>
        <el-button size="small" :loading="!!state.busy['en' + row.id]" @click="toggle(row)">{{ row.enabled ? t('connectors.disable') : t('connectors.enable') }}</el-button>
      </template></el-table-column>
    </el-table>
    <div v-if="!state.loading && !state.error" class="hub-panel" style="margin-top:12px" data-test="quarantine">
      <h3>{{ t('connectors.quarantine') }}（{{ t('common.total', {n: state.qTotal}) }}）</h3>
      <el-table :data="state.quarantine" size="small" @selection-change="rows => state.selected = rows.map(r => r.id)">
        <el-table-column type="selection" width="40" />
        <el-table-column type="expand"><template #default="{row}"><pre class="hub-json">{{ row.rawRecord ? pretty(row.rawRecord.payload) : '' }}</pre></template></el-table-column>
        <el-table-column prop="stream" width="130" />
        <el-table-column prop="reason" min-width="260" show-overflow-tooltip />
        <el-table-column width="140"><template #default="{row}">{{ formatDateTime(row.createdAt) }}</template></el-table-column>
      </el-table>
      <div class="hub-pager">
        <el-button size="small" :disabled="!state.selected.length" :loading="!!state.busy.replay" @click="replay(state.selected)">{{ t('connectors.replay') }}</el-button>
        <el-button size="small" :disabled="!state.qPage || !state.qPage.hasNextPage" @click="load(state.qPage.endCursor)">{{ t('common.more') }}</el-button>
      </div>
    </div>
  </div>`,
};

// 数据接入: configured connectors with their health, last and next run and failure reason; test the
// connection, enable / disable, sync now; each one's run history with per-stream counts and durations;
// the quarantine (records that failed normalisation, with the reason and the masked payload) with replay.
// While a sync runs (or one asked for has not started yet) the page asks for the runs again every
// second and shows each stream's counts as its pages land; it stops asking once no run is running.
// Admin only: the API refuses other roles, and the page says so.
import { onMounted, onUnmounted, reactive } from "vue";
import { ElMessageBox } from "element-plus";
import { gql } from "../api.js";
import { t } from "../i18n.js";
import { formatDateTime } from "../util.js";
import { check, fieldsOf, initialValues, payload, SchemaFields } from "../schemaform.js";

const KINDS_QUERY = `query Kinds { connectorKinds { kind title configSchema } }`;
const CREATE = `mutation Create($input: CreateConnectorInput!) { createConnector(input: $input) { id name } }`;
const UPDATE = `mutation Update($id: ID!, $input: UpdateConnectorInput!) { updateConnector(id: $id, input: $input) { id name } }`;

export const CONNECTORS_QUERY = `query Connectors($qFirst: Int, $qAfter: String) {
  connectorInstances(first: 50) {
    nodes { id name kind config state enabled health consecutiveFailures pausedReason lastRunAt nextRunAt scheduleSeconds hasSecrets
      runs { startedAt finishedAt status fullRefresh stats error durationMs } }
  }
  quarantine(first: $qFirst, after: $qAfter) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id stream reason field status createdAt rawRecord { source payload } }
  }
}`;

// What the live progress asks for: the instances' status and runs only (not the quarantine)
const PROGRESS_QUERY = `query ConnectorProgress {
  connectorInstances(first: 50) {
    nodes { id health consecutiveFailures pausedReason lastRunAt nextRunAt runs { startedAt finishedAt status fullRefresh stats error durationMs } }
  }
}`;
const POLL_MS = 1000;
// How many polls a requested sync may take to start before the page stops waiting for it.
const START_POLLS = 30;
const COUNTS = ["read", "created", "updated", "unchanged", "quarantined"];

/** The streams of a running run with their counts and, when the upstream said a total, the share read. */
export function streamProgress(run) {
  return Object.entries((run && run.stats) || {}).map(([stream, s]) => ({
    stream,
    pages: s.pages || 0,
    counts: COUNTS.map((k) => [k, s[k] || 0]),
    read: s.read || 0,
    total: s.total == null ? null : s.total,
    percentage: s.total ? Math.min(100, Math.round((100 * (s.read || 0)) / s.total)) : null,
  }));
}

export default {
  components: { SchemaFields },
  setup() {
    // The add / edit form, generated from the kind's JSON Schema
    const form = reactive({ open: false, editing: null, kinds: [], kind: "", name: "", schedule: "300", fields: [], values: {}, errors: {}, general: null, busy: false });
    async function openForm(instance = null) {
      Object.assign(form, { open: true, editing: instance, errors: {}, general: null, busy: false, name: instance ? instance.name : "", schedule: String(instance ? instance.scheduleSeconds : 300) });
      if (!form.kinds.length) {
        try { form.kinds = (await gql(KINDS_QUERY)).connectorKinds; } catch (e) { form.general = e.shown || String(e); return; }
      }
      pickKind(instance ? instance.kind : form.kinds[0] && form.kinds[0].kind);
    }
    function pickKind(kind) {
      const k = form.kinds.find((x) => x.kind === kind);
      form.kind = kind;
      form.fields = k ? fieldsOf(k.configSchema) : [];
      form.values = initialValues(form.fields, form.editing ? form.editing.config : {});
      form.errors = {};
    }
    async function saveForm() {
      const editing = form.editing;
      form.errors = check(form.fields, form.values, { keepSecrets: !!(editing && editing.hasSecrets) });
      if (!editing && !form.name.trim()) form.errors.name = `${t("connectors.name")}：必填`;
      if (!/^\d+$/.test(form.schedule) || Number(form.schedule) < 1) form.errors.scheduleSeconds = `${t("connectors.schedule")}：应为正整数，得到 ${form.schedule}`;
      form.general = null;
      if (Object.keys(form.errors).length) return;
      form.busy = true;
      const { config, secrets } = payload(form.fields, form.values);
      try {
        if (editing) {
          await gql(UPDATE, { id: editing.id, input: { config, secrets: Object.keys(secrets).length ? secrets : null, scheduleSeconds: Number(form.schedule) } });
        } else {
          await gql(CREATE, { input: { name: form.name.trim(), kind: form.kind, config, secrets, scheduleSeconds: Number(form.schedule) } });
        }
        form.open = false;
        state.message = `${form.name || (editing && editing.name)} ✓`;
        await load();
      } catch (e) {
        if (e.field && (form.fields.some((f) => f.name === e.field) || ["name", "kind", "scheduleSeconds"].includes(e.field))) form.errors = { [e.field]: e.shown };
        else form.general = e.shown || String(e);
      } finally {
        form.busy = false;
      }
    }
    const state = reactive({ loading: true, error: null, rows: [], quarantine: [], qTotal: 0, qPage: null, selected: [], message: null, busy: {} });
    // Live progress: instance id → the newest run's start when a sync was asked for (until a newer one shows)
    const live = { timer: null, awaiting: {}, polls: 0, stopped: false };
    const latest = (c) => (c.runs && c.runs.length ? c.runs[0] : null);
    const running = () => state.rows.filter((c) => latest(c) && latest(c).status === "running");
    function waiting() {
      return Object.keys(live.awaiting).length > 0 && live.polls < START_POLLS;
    }
    function schedule() {
      if (live.timer || live.stopped) return;
      if (!running().length && !waiting()) return;
      live.timer = setTimeout(poll, POLL_MS);
    }
    async function poll() {
      live.timer = null;
      live.polls += 1;
      let data;
      try {
        data = await gql(PROGRESS_QUERY);
      } catch (e) {
        state.error = e.shown || String(e);
        return;
      }
      let ended = running().length > 0;
      const byId = Object.fromEntries(data.connectorInstances.nodes.map((n) => [n.id, n]));
      for (const row of state.rows) if (byId[row.id]) Object.assign(row, byId[row.id]);
      for (const [id, since] of Object.entries(live.awaiting)) {
        const row = state.rows.find((c) => c.id === id);
        const now = row && latest(row);
        if (!row || (now && now.startedAt !== since)) {
          delete live.awaiting[id]; // the asked-for run has started (and may have ended already)
          ended = true;
        }
      }
      if (running().length || waiting()) {
        schedule();
      } else {
        live.awaiting = {};
        live.polls = 0;
        if (ended) await load(); // the runs ended: their quarantine and health, once
      }
    }
    function watchSync(c) {
      const now = latest(c);
      live.awaiting[c.id] = now ? now.startedAt : null;
      live.polls = 0;
      schedule();
    }
    onUnmounted(() => {
      live.stopped = true;
      if (live.timer) clearTimeout(live.timer);
    });
    async function load(qAfter = null) {
      try {
        const data = await gql(CONNECTORS_QUERY, { qFirst: 20, qAfter });
        state.rows = data.connectorInstances.nodes;
        state.quarantine = data.quarantine.nodes;
        state.qTotal = data.quarantine.totalCount;
        state.qPage = data.quarantine.pageInfo;
        state.error = null;
        schedule();
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
    const sync = (c) => {
      watchSync(c);
      return run(`sync${c.id}`, "mutation($id: ID!) { syncConnectorNow(id: $id) { id } }", { id: c.id }, () => `${c.name}：${t("connectors.syncNow")} ✓`);
    };
    // Full refresh and resetting a stream's bookmark re-read everything upstream: confirm first
    async function confirmed(message) {
      try {
        await ElMessageBox.confirm(message, t("connectors.confirmTitle"), { type: "warning", confirmButtonText: t("common.confirm"), cancelButtonText: t("common.cancel") });
        return true;
      } catch (e) {
        return false;
      }
    }
    const fullRefresh = async (c) => {
      if (!(await confirmed(t("connectors.fullRefreshConfirm", { name: c.name })))) return;
      watchSync(c);
      await run(`full${c.id}`, "mutation($id: ID!) { syncConnectorNow(id: $id, fullRefresh: true) { id } }", { id: c.id }, () => `${c.name}：${t("connectors.fullRefresh")} ✓`);
    };
    const resetStream = async (c, stream) => {
      if (!(await confirmed(t("connectors.resetConfirm", { name: c.name, stream })))) return;
      await run(`reset${c.id}`, "mutation($id: ID!, $stream: String!) { resetConnectorStream(id: $id, stream: $stream) { id } }", { id: c.id, stream },
        () => `${c.name} / ${stream}：${t("connectors.reset")} ✓`);
    };
    const toggle = (c) => run(`en${c.id}`, "mutation($id: ID!, $on: Boolean!) { setConnectorEnabled(id: $id, enabled: $on) { id enabled } }",
      { id: c.id, on: !c.enabled }, () => `${c.name}：${c.enabled ? t("connectors.disable") : t("connectors.enable")} ✓`);
    const replay = (ids) => run("replay", "mutation($ids: [ID!]) { replayQuarantine(ids: $ids) { replayed stillFailing } }", { ids },
      (d) => `${t("connectors.replay")}：${d.replayQuarantine.replayed} / ${d.replayQuarantine.stillFailing}`);
    const streams = (r) => Object.entries(r.stats || {}).map(([k, v]) => `${k}: ${typeof v === "object" ? Object.entries(v).map(([a, b]) => `${a}=${b}`).join(" ") : v}`).join("; ");
    onMounted(() => load());
    return { running, latest, streamProgress, fullRefresh, resetStream, form, openForm, pickKind, saveForm, state, test, sync, toggle, replay, streams, t, formatDateTime, load, pretty: (v) => JSON.stringify(v, null, 2) };
  },
  template: `
  <div data-test="connectors">
    <el-alert v-if="state.error" type="error" :title="state.error" :closable="false" data-test="error" />
    <el-alert v-if="state.message" type="info" :title="state.message" :closable="false" style="margin-bottom:8px" data-test="message" />
    <div v-if="!state.loading && !state.error" class="hub-filters"><el-button type="primary" size="small" @click="openForm()" data-test="add-connector">{{ t('connectors.add') }}</el-button></div>
    <div v-if="!state.loading && running().length" class="hub-panel" style="margin-bottom:8px" data-test="live-runs">
      <h4>{{ t('connectors.live') }}</h4>
      <div v-for="c in running()" :key="c.id" :data-live-run="c.name" style="margin-bottom:6px">
        <div><b>{{ c.name }}</b> · {{ t('connectors.since', {at: formatDateTime(latest(c).startedAt)}) }}<span v-if="latest(c).fullRefresh"> · {{ t('connectors.fullRefresh') }}</span></div>
        <div v-if="!streamProgress(latest(c)).length" :data-live-stream="''">
          <el-progress :percentage="100" :indeterminate="true" :show-text="false" :stroke-width="6" />
          <span>{{ t('connectors.starting') }}</span>
        </div>
        <div v-for="s in streamProgress(latest(c))" :key="s.stream" :data-live-stream="s.stream" :data-read="s.read" :data-total="s.total == null ? '' : s.total" :data-bar="s.percentage == null ? 'indeterminate' : s.percentage" style="display:flex;gap:12px;align-items:center">
          <span style="width:140px">{{ s.stream }}</span>
          <el-progress v-if="s.percentage != null" :percentage="s.percentage" :stroke-width="6" style="width:220px" />
          <el-progress v-else :percentage="100" :indeterminate="true" :show-text="false" :stroke-width="6" style="width:220px" />
          <span class="hub-counts"><span v-for="[k, v] in s.counts" :key="k" :data-count="k">{{ t('connectors.counts.' + k) }} {{ v }}　</span>{{ t('connectors.counts.pages') }} {{ s.pages }}</span>
        </div>
      </div>
    </div>
    <div v-if="state.loading">{{ t('common.loading') }}</div>
    <el-table v-else-if="!state.error" :data="state.rows" size="small" border row-key="id" data-test="connector-table">
      <el-table-column type="expand"><template #default="{row}">
        <div class="hub-actions" style="margin-bottom:6px">
          <el-button size="small" :loading="!!state.busy['full' + row.id]" @click="fullRefresh(row)" :data-full-refresh="row.name">{{ t('connectors.fullRefresh') }}</el-button>
          <el-button v-for="stream in Object.keys(row.state || {})" :key="stream" size="small" plain @click="resetStream(row, stream)" :data-reset-stream="stream">{{ t('connectors.reset') }} {{ stream }}</el-button>
        </div>
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
      <el-table-column :label="t('common.actions')" width="330"><template #default="{row}">
        <el-button size="small" @click="openForm(row)" :data-edit="row.name">{{ t('connectors.edit') }}</el-button>
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
    <el-dialog v-model="form.open" :title="form.editing ? t('connectors.edit') + ' · ' + form.editing.name : t('connectors.add')" width="620px" data-test="connector-form">
      <el-form label-width="150px" @submit.prevent="saveForm">
        <el-form-item :label="t('connectors.kind')" required :error="form.errors.kind || ''" data-field="kind">
          <el-select :model-value="form.kind" @change="pickKind" :disabled="!!form.editing" style="width:100%" data-input="kind">
            <el-option v-for="k in form.kinds" :key="k.kind" :value="k.kind" :label="k.title + ' (' + k.kind + ')'" />
          </el-select>
        </el-form-item>
        <el-form-item :label="t('connectors.name')" required :error="form.errors.name || ''" data-field="name">
          <el-input v-model="form.name" :disabled="!!form.editing" data-input="name" />
        </el-form-item>
        <el-form-item :label="t('connectors.schedule')" :error="form.errors.scheduleSeconds || ''" data-field="scheduleSeconds">
          <el-input v-model="form.schedule" data-input="scheduleSeconds" />
        </el-form-item>
        <SchemaFields :fields="form.fields" :values="form.values" :errors="form.errors" :has-secrets="!!(form.editing && form.editing.hasSecrets)" :secret-label="t('connectors.secretSet')" />
        <div v-if="form.general" class="hub-error" data-test="form-error">{{ form.general }}</div>
      </el-form>
      <template #footer>
        <el-button @click="form.open = false">{{ t('common.cancel') }}</el-button>
        <el-button type="primary" :loading="form.busy" :disabled="form.busy" @click="saveForm" data-test="form-submit">{{ t('common.confirm') }}</el-button>
      </template>
    </el-dialog>
  </div>`,
};

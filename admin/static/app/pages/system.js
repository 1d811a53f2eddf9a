// 系统: the users who sign in (pages/users.js), the audit log filtered by who / what / which record /
// when (server-side pages), and the API keys: create one (its key shown once, in the dialog, never
// again) and revoke one. A 行业主管部门's key (the sector role) names its sector, as the API requires;
// any other key has none and reads every sector. Admin only: the API refuses others and the page says so.
import { onMounted, reactive } from "vue";
import { gql } from "../api.js";
import { t } from "../i18n.js";
import { cursorPaging, formatDateTime, HubPager, SECTORS } from "../util.js";
import UsersPanel from "./users.js";

export const SYSTEM_QUERY = `query System($principal: String, $action: String, $entityType: String, $entityId: Int, $from: Date, $to: Date, $first: Int, $after: String) {
  auditLog(principal: $principal, action: $action, entityType: $entityType, entityId: $entityId, from: $from, to: $to, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { at principal action entityType entityId regionCode detail }
  }
  apiKeys(first: 100) { nodes { id name prefix role regionCode sector canUnmask createdAt revokedAt lastUsedAt } }
}`;
const CREATE = `mutation CreateKey($input: CreateApiKeyInput!) { createApiKey(input: $input) { key apiKey { id name } } }`;
const REVOKE = `mutation RevokeKey($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }`;
const ROLES = ["admin", "inspector", "viewer", "regional", "sector"];

export default {
  components: { UsersPanel, HubPager },
  setup() {
    const filters = reactive({ principal: "", action: "", entityType: "", entityId: "", from: "", to: "" });
    const state = reactive({ loading: true, error: null, audit: [], total: 0, pageInfo: null, keys: [], cursors: [], after: null, filterError: null, message: null });
    const blankKey = () => ({ open: false, name: "", role: "viewer", regionCode: "", sector: "", canUnmask: false, errors: {}, general: null, busy: false, created: null });
    const keyForm = reactive(blankKey());

    function variables(after) {
      const v = { first: 20, after };
      for (const k of ["principal", "action", "entityType", "from", "to"]) v[k] = filters[k].trim() || null;
      v.entityId = filters.entityId.trim() ? Number(filters.entityId) : null;
      return v;
    }
    async function load(after = null) {
      state.filterError = null;
      if (filters.entityId.trim() && !/^\d+$/.test(filters.entityId.trim())) { state.filterError = `entityId：应为整数，得到 ${filters.entityId}`; return; }
      for (const k of ["from", "to"]) if (filters[k] && !/^\d{4}-\d{2}-\d{2}$/.test(filters[k])) { state.filterError = `${k}：应为日期 YYYY-MM-DD，得到 ${filters[k]}`; return; }
      try {
        const data = await gql(SYSTEM_QUERY, variables(after));
        Object.assign(state, { audit: data.auditLog.nodes, total: data.auditLog.totalCount, pageInfo: data.auditLog.pageInfo, keys: data.apiKeys.nodes, after, error: null });
      } catch (e) {
        if (e.field) state.filterError = e.shown; else state.error = e.shown || String(e);
      } finally {
        state.loading = false;
      }
    }
    const { restart: search, next, previous } = cursorPaging(state, load);
    function openKey() { Object.assign(keyForm, blankKey(), { open: true }); }
    async function createKey() {
      keyForm.errors = {};
      if (!keyForm.name.trim()) keyForm.errors.name = `${t("system.keyName")}：必填`;
      if (!/^\d{6}(\d{3})?(\d{3})?$/.test(keyForm.regionCode.trim())) keyForm.errors.regionCode = `${t("common.region")}：应为 6、9 或 12 位地区编码，得到 ${keyForm.regionCode}`;
      if (keyForm.role === "sector" && !SECTORS.includes(keyForm.sector)) keyForm.errors.sector = t("system.needsSector");
      if (Object.keys(keyForm.errors).length) return;
      keyForm.busy = true;
      keyForm.general = null;
      try {
        const input = { name: keyForm.name.trim(), role: keyForm.role, regionCode: keyForm.regionCode.trim(), canUnmask: keyForm.canUnmask,
          sector: keyForm.role === "sector" ? keyForm.sector : null };
        const r = (await gql(CREATE, { input })).createApiKey;
        keyForm.created = r.key; // shown in the dialog this once; not kept anywhere else
        await load(state.after);
      } catch (e) {
        if (e.field && ["name", "role", "regionCode", "sector"].includes(e.field)) keyForm.errors = { [e.field]: e.shown };
        else keyForm.general = e.shown || String(e);
      } finally {
        keyForm.busy = false;
      }
    }
    function closeKey() { keyForm.created = null; keyForm.open = false; }
    async function revoke(row) {
      state.message = null;
      try {
        await gql(REVOKE, { id: row.id });
        state.message = `${row.name}：${t("system.revoked")}`;
        await load(state.after);
      } catch (e) { state.message = e.shown || String(e); }
    }
    onMounted(() => load());
    return { filters, state, keyForm, search, next, previous, openKey, createKey, closeKey, revoke, t, formatDateTime, ROLES, SECTORS, json: (v) => JSON.stringify(v) };
  },
  template: `
  <div data-test="system">
    <el-alert v-if="state.error" type="error" :title="state.error" :closable="false" data-test="error" />
    <div v-if="state.loading">{{ t('common.loading') }}</div>
    <template v-else-if="!state.error">
      <UsersPanel />
      <div class="hub-panel"><h3>{{ t('system.audit') }}</h3>
        <div class="hub-filters">
          <el-input v-model="filters.principal" :placeholder="t('system.who')" style="width:170px" clearable data-filter="principal" />
          <el-input v-model="filters.action" :placeholder="t('system.what')" style="width:150px" clearable data-filter="action" />
          <el-input v-model="filters.entityType" :placeholder="t('system.entityType')" style="width:130px" clearable />
          <el-input v-model="filters.entityId" :placeholder="t('system.entityId')" style="width:100px" clearable />
          <el-input v-model="filters.from" placeholder="YYYY-MM-DD" style="width:120px" clearable data-filter="from" />
          <el-input v-model="filters.to" placeholder="YYYY-MM-DD" style="width:120px" clearable data-filter="to" />
          <el-button type="primary" @click="search" data-test="audit-search">{{ t('common.search') }}</el-button>
        </div>
        <div v-if="state.filterError" class="hub-error" data-test="filter-error">{{ state.filterError }}</div>
        <el-table :data="state.audit" size="small" border data-test="audit-table">
          <el-table-column width="140"><template #default="{row}">{{ formatDateTime(row.at) }}</template></el-table-column>
          <el-table-column prop="principal" width="170" show-overflow-tooltip />
          <el-table-column prop="action" width="170" />
          <el-table-column width="140"><template #default="{row}">{{ row.entityType }} {{ row.entityId }}</template></el-table-column>
          <el-table-column prop="regionCode" width="80" />
          <el-table-column show-overflow-tooltip><template #default="{row}">{{ json(row.detail) }}</template></el-table-column>
        </el-table>
        <HubPager :state="state" :tests="{total: 'audit-total'}" @previous="previous" @next="next" />
      </div>
      <div class="hub-panel"><h3>{{ t('system.keys') }}</h3>
        <el-alert v-if="state.message" type="info" :title="state.message" :closable="false" style="margin-bottom:8px" data-test="message" />
        <div class="hub-filters"><el-button size="small" type="primary" @click="openKey" data-test="add-key">{{ t('system.addKey') }}</el-button></div>
        <el-table :data="state.keys" size="small" border data-test="key-table">
          <el-table-column prop="name" :label="t('system.keyName')" min-width="160" /><el-table-column prop="prefix" width="110" />
          <el-table-column prop="role" width="90" /><el-table-column prop="regionCode" :label="t('common.region')" width="80" />
          <el-table-column :label="t('system.sector')" width="90"><template #default="{row}"><span :data-sector="row.sector || ''">{{ row.sector || t('system.allSectors') }}</span></template></el-table-column>
          <el-table-column :label="t('system.lastUsed')" width="140"><template #default="{row}">{{ formatDateTime(row.lastUsedAt) }}</template></el-table-column>
          <el-table-column :label="t('system.revoked')" width="140"><template #default="{row}">{{ formatDateTime(row.revokedAt) }}</template></el-table-column>
          <el-table-column width="90"><template #default="{row}"><el-button v-if="!row.revokedAt" size="small" type="danger" plain @click="revoke(row)" :data-revoke="row.name">{{ t('system.revoke') }}</el-button></template></el-table-column>
        </el-table>
      </div>
    </template>
    <el-dialog v-model="keyForm.open" :title="t('system.addKey')" width="520px" :before-close="closeKey" data-test="key-form">
      <template v-if="keyForm.created">
        <p>{{ t('system.shownOnce') }}</p>
        <el-input :model-value="keyForm.created" readonly data-test="new-key" />
      </template>
      <el-form v-else label-width="110px" @submit.prevent="createKey">
        <el-form-item :label="t('system.keyName')" required :error="keyForm.errors.name || ''" data-field="name"><el-input v-model="keyForm.name" data-input="name" /></el-form-item>
        <el-form-item :label="t('system.role')" required :error="keyForm.errors.role || ''" data-field="role">
          <el-select v-model="keyForm.role" style="width:100%" data-input="role"><el-option v-for="r in ROLES" :key="r" :value="r" :label="t('roles.' + r) + ' ' + r" /></el-select>
        </el-form-item>
        <el-form-item v-if="keyForm.role === 'sector'" :label="t('system.sector')" required :error="keyForm.errors.sector || ''" data-field="sector">
          <el-select v-model="keyForm.sector" style="width:100%" data-input="sector"><el-option v-for="s in SECTORS" :key="s" :value="s" :label="s" /></el-select>
        </el-form-item>
        <el-form-item :label="t('common.region')" required :error="keyForm.errors.regionCode || ''" data-field="regionCode"><el-input v-model="keyForm.regionCode" data-input="regionCode" /></el-form-item>
        <el-form-item :label="t('system.unmask')"><el-switch v-model="keyForm.canUnmask" /></el-form-item>
        <div v-if="keyForm.general" class="hub-error" data-test="key-error">{{ keyForm.general }}</div>
      </el-form>
      <template #footer>
        <el-button v-if="keyForm.created" type="primary" @click="closeKey" data-test="key-done">{{ t('common.confirm') }}</el-button>
        <el-button v-else type="primary" :loading="keyForm.busy" :disabled="keyForm.busy" @click="createKey" data-test="key-submit">{{ t('common.confirm') }}</el-button>
      </template>
    </el-dialog>
  </div>`,
};

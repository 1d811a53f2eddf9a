// 系统 › 用户: the people who sign in, within the administrator's jurisdiction. A server-paged list
// with filters (text, role, region), a create dialog, edit, disable / enable, reset a password. The
// forms check what the API checks before sending (the password rules of hub/users.py), the API checks
// again, and its refusal is shown beside the field it names (extensions.field).
import { onMounted, reactive } from "vue";
import { gql } from "../api.js";
import { t } from "../i18n.js";
import { session } from "../session.js";
import { cursorPaging, formatDateTime, HubPager, SECTORS } from "../util.js";

const FIELDS = "id username displayName role regionCode sector canUnmask disabled lockedUntil lastSignInAt";
export const USERS_QUERY = `query Users($role: String, $regionCode: String, $text: String, $first: Int, $after: String) {
  users(role: $role, regionCode: $regionCode, text: $text, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } nodes { ${FIELDS} }
  }
}`;
const CREATE = `mutation CreateUser($input: CreateUserInput!) { createUser(input: $input) { ${FIELDS} } }`;
const UPDATE = `mutation UpdateUser($id: ID!, $input: UpdateUserInput!) { updateUser(id: $id, input: $input) { ${FIELDS} } }`;
const DISABLE = `mutation SetUserDisabled($id: ID!, $disabled: Boolean!) { setUserDisabled(id: $id, disabled: $disabled) { ${FIELDS} } }`;
const RESET = `mutation ResetUserPassword($id: ID!, $password: String!) { resetUserPassword(id: $id, password: $password) { ${FIELDS} } }`;

export const USER_ROLES = ["admin", "inspector", "town", "leader", "sector", "viewer", "regional"];
const USERNAME = /^[a-z0-9][a-z0-9._-]{2,63}$/;
const REGION = /^\d{6}(\d{3})?(\d{3})?$/;
// The hub's minimum is a setting (HUB_PASSWORD_MIN_LENGTH, at least 8, 10 by default) that `me` tells
// (session.passwordMinLength); until it has, the form asks for the setting's floor and the API refuses
// a shorter one beside the field.
const PASSWORD_FLOOR = 8;
const PAGE = 20;

/** The fewest characters the hub accepts in a password. */
export const passwordMinLength = () => session.passwordMinLength || PASSWORD_FLOOR;

/** What the API would refuse in a new password, as the API says it (hub/users.py check_password). */
export function passwordProblem(password, username) {
  const least = passwordMinLength();
  if (password.length < least) return t("users.tooShort", { n: least, got: password.length });
  const kinds = [/[a-z]/, /[A-Z]/, /\d/, /[^\p{L}\p{N}\s]/u].filter((re) => re.test(password)).length;
  if (kinds < 3) return t("users.tooSimple", { n: kinds });
  if (username && password.toLowerCase().includes(username.toLowerCase())) return t("users.containsUsername");
  return null;
}

/** The errors of a user form {field: message}, checked as the API checks them. */
function check(form, { creating }) {
  const errors = {};
  const username = form.username.trim().toLowerCase();
  if (creating && !USERNAME.test(username)) errors.username = t("users.badUsername", { got: form.username });
  const name = form.displayName.trim();
  if (!name || name.length > 64) errors.displayName = t("users.badName");
  const region = form.regionCode.trim();
  if (region !== "000000" && !REGION.test(region)) errors.regionCode = t("users.badRegion", { got: form.regionCode });
  else if (form.role === "town" && region.length !== 9) errors.regionCode = t("users.townRegion", { got: form.regionCode });
  if (form.role === "sector" && !SECTORS.includes(form.sector)) errors.sector = t("users.needsSector");
  if (creating) {
    const problem = passwordProblem(form.password, username);
    if (problem) errors.password = problem;
    else if (form.password !== form.confirm) errors.confirm = t("users.mismatch");
  }
  return errors;
}

/** Put an API refusal beside the field it names (one of `fields`), else above the form. */
function place(target, e, fields) {
  if (e.field && fields.includes(e.field)) target.errors = { [e.field]: e.shown };
  else target.general = e.shown || String(e);
}

const blankForm = () => ({ open: false, mode: "create", id: null, original: null, username: "", displayName: "", role: "inspector",
  regionCode: "", sector: "", canUnmask: false, password: "", confirm: "", errors: {}, general: null, busy: false });

export default {
  components: { HubPager },
  setup() {
    const filters = reactive({ text: "", role: "", regionCode: "" });
    const state = reactive({ loading: true, error: null, rows: [], total: 0, pageInfo: null, cursors: [], after: null, filterError: null, message: null });
    const form = reactive(blankForm());
    const reset = reactive({ open: false, row: null, password: "", confirm: "", errors: {}, general: null, busy: false });

    async function load(after = null) {
      state.filterError = null;
      const region = filters.regionCode.trim();
      if (region && !REGION.test(region)) { state.filterError = t("users.badRegion", { got: region }); return; }
      try {
        const data = await gql(USERS_QUERY, { role: filters.role || null, regionCode: region || null, text: filters.text.trim() || null, first: PAGE, after });
        Object.assign(state, { rows: data.users.nodes, total: data.users.totalCount, pageInfo: data.users.pageInfo, after, error: null });
      } catch (e) {
        if (e.field) state.filterError = e.shown; else state.error = e.shown || String(e);
      } finally {
        state.loading = false;
      }
    }
    const { restart: search, next, previous } = cursorPaging(state, load);

    function openCreate() { Object.assign(form, blankForm(), { open: true }); }
    function openEdit(row) {
      Object.assign(form, blankForm(), { open: true, mode: "edit", id: row.id, original: row, username: row.username,
        displayName: row.displayName, role: row.role, regionCode: row.regionCode, sector: row.sector || "", canUnmask: row.canUnmask });
    }
    async function save() {
      form.general = null;
      const creating = form.mode === "create";
      form.errors = check(form, { creating });
      if (Object.keys(form.errors).length) return;
      form.busy = true;
      try {
        if (creating) {
          const input = { username: form.username.trim().toLowerCase(), displayName: form.displayName.trim(), role: form.role,
            regionCode: form.regionCode.trim(), password: form.password, canUnmask: form.canUnmask, sector: form.role === "sector" ? form.sector : null };
          const made = (await gql(CREATE, { input })).createUser;
          state.message = t("users.created", { name: made.username });
        } else {
          const o = form.original;
          const input = {};
          if (form.displayName.trim() !== o.displayName) input.displayName = form.displayName.trim();
          if (form.role !== o.role) input.role = form.role;
          if (form.regionCode.trim() !== o.regionCode) input.regionCode = form.regionCode.trim();
          if (form.role === "sector" && form.sector !== (o.sector || "")) input.sector = form.sector;
          if (form.canUnmask !== o.canUnmask) input.canUnmask = form.canUnmask;
          if (!Object.keys(input).length) { form.general = t("users.unchanged"); return; }
          await gql(UPDATE, { id: form.id, input });
          state.message = t("users.updated", { name: o.username });
        }
        form.open = false;
        await load(state.after);
      } catch (e) {
        place(form, e, ["username", "displayName", "role", "regionCode", "sector", "canUnmask", "password"]);
      } finally {
        form.busy = false;
      }
    }
    async function setDisabled(row, disabled) {
      state.message = null;
      try {
        await gql(DISABLE, { id: row.id, disabled });
        state.message = t(disabled ? "users.disabledNow" : "users.enabledNow", { name: row.username });
        await load(state.after);
      } catch (e) { state.message = e.shown || String(e); }
    }
    function openReset(row) { Object.assign(reset, { open: true, row, password: "", confirm: "", errors: {}, general: null, busy: false }); }
    async function saveReset() {
      reset.general = null;
      reset.errors = {};
      const problem = passwordProblem(reset.password, reset.row.username);
      if (problem) reset.errors.password = problem;
      else if (reset.password !== reset.confirm) reset.errors.confirm = t("users.mismatch");
      if (Object.keys(reset.errors).length) return;
      reset.busy = true;
      try {
        await gql(RESET, { id: reset.row.id, password: reset.password });
        state.message = t("users.passwordReset", { name: reset.row.username });
        reset.open = false;
        await load(state.after);
      } catch (e) {
        place(reset, e, ["password"]);
      } finally {
        reset.busy = false;
      }
    }
    const locked = (row) => row.lockedUntil && new Date(row.lockedUntil) > new Date();
    onMounted(() => load());
    return { filters, state, form, reset, search, next, previous, openCreate, openEdit, save, setDisabled, openReset, saveReset,
      locked, t, formatDateTime, passwordMinLength, USER_ROLES, SECTORS };
  },
  template: `
  <div class="hub-panel" data-test="users"><h3>{{ t('users.title') }}</h3>
    <el-alert v-if="state.error" type="error" :title="state.error" :closable="false" data-test="users-error" />
    <div v-else-if="state.loading">{{ t('common.loading') }}</div>
    <template v-else>
      <el-alert v-if="state.message" type="info" :title="state.message" :closable="false" style="margin-bottom:8px" data-test="users-message" />
      <div class="hub-filters">
        <el-input v-model="filters.text" :placeholder="t('users.search')" style="width:180px" clearable data-filter="user-text" @keyup.enter="search" />
        <el-select v-model="filters.role" :placeholder="t('system.role')" clearable data-filter="user-role">
          <el-option v-for="r in USER_ROLES" :key="r" :value="r" :label="t('roles.' + r)" />
        </el-select>
        <el-input v-model="filters.regionCode" :placeholder="t('common.region')" style="width:120px" clearable data-filter="user-region" />
        <el-button type="primary" @click="search" data-test="users-search">{{ t('common.search') }}</el-button>
        <span class="hub-spacer"></span>
        <el-button type="primary" plain @click="openCreate" data-test="add-user">{{ t('users.add') }}</el-button>
      </div>
      <div v-if="state.filterError" class="hub-error" data-test="users-filter-error">{{ state.filterError }}</div>
      <el-table :data="state.rows" size="small" border data-test="user-table" row-key="id">
        <el-table-column prop="username" :label="t('signin.username')" min-width="120" />
        <el-table-column prop="displayName" :label="t('users.displayName')" min-width="100" />
        <el-table-column :label="t('system.role')" width="110"><template #default="{row}">{{ t('roles.' + row.role) }}<template v-if="row.sector"> · {{ row.sector }}</template></template></el-table-column>
        <el-table-column prop="regionCode" :label="t('common.region')" width="100" />
        <el-table-column :label="t('system.unmask')" width="90"><template #default="{row}">{{ row.canUnmask ? t('common.yes') : t('common.no') }}</template></el-table-column>
        <el-table-column :label="t('common.status')" width="170"><template #default="{row}">
          <el-tag v-if="row.disabled" type="info" size="small">{{ t('users.disabled') }}</el-tag>
          <el-tag v-else-if="locked(row)" type="danger" size="small">{{ t('users.lockedUntil', {at: formatDateTime(row.lockedUntil)}) }}</el-tag>
          <el-tag v-else type="success" size="small">{{ t('users.active') }}</el-tag>
        </template></el-table-column>
        <el-table-column :label="t('users.lastSignIn')" width="140"><template #default="{row}">{{ formatDateTime(row.lastSignInAt) }}</template></el-table-column>
        <el-table-column :label="t('common.actions')" width="230"><template #default="{row}">
          <el-button size="small" @click="openEdit(row)" :data-edit="row.username">{{ t('connectors.edit') }}</el-button>
          <el-button v-if="row.disabled" size="small" type="success" plain @click="setDisabled(row, false)" :data-enable="row.username">{{ t('connectors.enable') }}</el-button>
          <el-button v-else size="small" type="danger" plain @click="setDisabled(row, true)" :data-disable="row.username">{{ t('connectors.disable') }}</el-button>
          <el-button size="small" @click="openReset(row)" :data-reset="row.username">{{ t('users.resetPassword') }}</el-button>
        </template></el-table-column>
      </el-table>
      <HubPager :state="state" :tests="{total: 'users-total', next: 'users-next'}" @previous="previous" @next="next" />
    </template>
    <el-dialog v-model="form.open" :title="form.mode === 'create' ? t('users.add') : t('users.edit', {name: form.username})" width="540px" data-test="user-form">
      <el-form label-width="120px" @submit.prevent="save">
        <el-form-item :label="t('signin.username')" required :error="form.errors.username || ''" data-field="username">
          <el-input v-model="form.username" :disabled="form.mode === 'edit'" data-input="username" autocomplete="off" />
        </el-form-item>
        <el-form-item :label="t('users.displayName')" required :error="form.errors.displayName || ''" data-field="displayName"><el-input v-model="form.displayName" data-input="displayName" /></el-form-item>
        <el-form-item :label="t('system.role')" required :error="form.errors.role || ''" data-field="role">
          <el-select v-model="form.role" style="width:100%" data-input="role"><el-option v-for="r in USER_ROLES" :key="r" :value="r" :label="t('roles.' + r) + ' ' + r" :data-role="r" /></el-select>
        </el-form-item>
        <el-form-item :label="t('common.region')" required :error="form.errors.regionCode || ''" data-field="regionCode"><el-input v-model="form.regionCode" data-input="regionCode" :placeholder="t('users.regionHint')" /></el-form-item>
        <el-form-item v-if="form.role === 'sector'" :label="t('users.sector')" required :error="form.errors.sector || ''" data-field="sector">
          <el-select v-model="form.sector" style="width:100%"><el-option v-for="s in SECTORS" :key="s" :value="s" :label="s" /></el-select>
        </el-form-item>
        <el-form-item :label="t('system.unmask')" :error="form.errors.canUnmask || ''" data-field="canUnmask"><el-switch v-model="form.canUnmask" /></el-form-item>
        <template v-if="form.mode === 'create'">
          <el-form-item :label="t('signin.password')" required :error="form.errors.password || ''" data-field="password"><el-input v-model="form.password" type="password" show-password data-input="password" autocomplete="new-password" /></el-form-item>
          <el-form-item :label="t('users.confirm')" required :error="form.errors.confirm || ''" data-field="confirm"><el-input v-model="form.confirm" type="password" data-input="confirm" autocomplete="new-password" /></el-form-item>
          <div class="hub-hint" data-test="password-rule">{{ t('users.passwordRule', {n: passwordMinLength()}) }}</div>
        </template>
        <div v-if="form.general" class="hub-error" data-test="user-form-error">{{ form.general }}</div>
      </el-form>
      <template #footer>
        <el-button @click="form.open = false">{{ t('common.cancel') }}</el-button>
        <el-button type="primary" :loading="form.busy" :disabled="form.busy" @click="save" data-test="user-submit">{{ t('common.confirm') }}</el-button>
      </template>
    </el-dialog>
    <el-dialog v-model="reset.open" :title="t('users.resetFor', {name: reset.row ? reset.row.username : ''})" width="480px" data-test="reset-form">
      <el-form label-width="120px" @submit.prevent="saveReset">
        <el-form-item :label="t('users.newPassword')" required :error="reset.errors.password || ''" data-field="password"><el-input v-model="reset.password" type="password" show-password data-input="password" autocomplete="new-password" /></el-form-item>
        <el-form-item :label="t('users.confirm')" required :error="reset.errors.confirm || ''" data-field="confirm"><el-input v-model="reset.confirm" type="password" data-input="confirm" autocomplete="new-password" /></el-form-item>
        <div class="hub-hint" data-test="reset-rule">{{ t('users.passwordRule', {n: passwordMinLength()}) }}</div>
        <div class="hub-hint">{{ t('users.resetEffect') }}</div>
        <div v-if="reset.general" class="hub-error" data-test="reset-error">{{ reset.general }}</div>
      </el-form>
      <template #footer>
        <el-button @click="reset.open = false">{{ t('common.cancel') }}</el-button>
        <el-button type="primary" :loading="reset.busy" :disabled="reset.busy" @click="saveReset" data-test="reset-submit">{{ t('common.confirm') }}</el-button>
      </template>
    </el-dialog>
  </div>`,
};

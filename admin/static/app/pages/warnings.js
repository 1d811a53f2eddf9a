// 预警: warnings within the jurisdiction by rule / level / region / status (server-side keyset pages),
// a warning's evidence (its facts) and history, and its handling: acknowledge, note, resolve, false
// positive, escalate to a clue (schema/warning_mutations.py), offered only as the policy table allows the
// user (`me.actions`: a leader gets none). The API's refusals show as it says them.
import { onMounted, reactive } from "vue";
import { gql } from "../api.js";
import { may } from "../session.js";
import { t } from "../i18n.js";
import { href, navigate, route } from "../router.js";
import { COLOUR_TAG, cursorPaging, formatDateTime, HubPager } from "../util.js";

const PAGE_SIZE = 20;
export const WARNINGS_QUERY = `query Warnings($filter: WarningFilter, $first: Int, $after: String) {
  warnings(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id ruleCode level status period regionCode detectedAt message ruleCite facts acknowledgedAt acknowledgedBy
      resolution clue { clueNo } project { name } enterprise { name }
      history { action actor at note } }
  }
}`;
const MUTATIONS = {
  acknowledge: { query: "mutation($id: ID!, $text: String) { acknowledgeWarning(id: $id, note: $text) { id status } }", needsText: false, needs: "warning.handle" },
  note: { query: "mutation($id: ID!, $text: String!) { noteWarning(id: $id, note: $text) { id status } }", needsText: true, needs: "warning.handle" },
  resolve: { query: "mutation($id: ID!, $text: String!) { resolveWarning(id: $id, reason: $text) { id status } }", needsText: true, needs: "warning.handle" },
  falsePositive: { query: "mutation($id: ID!, $text: String!) { markWarningFalsePositive(id: $id, reason: $text) { id status } }", needsText: true, needs: "warning.handle" },
  escalate: { query: "mutation($id: ID!) { escalateWarning(id: $id) { clueNo } }", needsText: false, noText: true, needs: "warning.escalate" },
};

export default {
  components: { HubPager },
  setup() {
    const q = route.query;
    const form = reactive({ ruleCode: q.ruleCode || "", level: q.level || "", regionCode: q.regionCode || "", status: q.status || "" });
    const state = reactive({ loading: false, error: null, rows: [], total: 0, pageInfo: null, cursors: [], after: null, selected: null });
    const act = reactive({ open: false, kind: null, text: "", error: null, busy: false, message: null });

    function filter() {
      const f = {};
      if (route.query.ruleCode) f.ruleCode = route.query.ruleCode;
      if (route.query.level) f.level = route.query.level.split(",");
      if (route.query.regionCode) f.regionCode = route.query.regionCode;
      if (route.query.status) f.status = route.query.status;
      return f;
    }
    async function load(after = null) {
      state.loading = true;
      state.error = null;
      try {
        const data = await gql(WARNINGS_QUERY, { filter: filter(), first: PAGE_SIZE, after });
        Object.assign(state, { rows: data.warnings.nodes, total: data.warnings.totalCount, pageInfo: data.warnings.pageInfo, after });
        if (state.selected) state.selected = state.rows.find((r) => r.id === state.selected.id) || null;
      } catch (e) {
        state.error = e.shown || String(e);
      } finally {
        state.loading = false;
      }
    }
    const apply = () => navigate("/warnings", { ...form });
    const { next, previous } = cursorPaging(state, load);
    function open(kind) { Object.assign(act, { open: true, kind, text: "", error: null, busy: false }); }
    async function submit() {
      const m = MUTATIONS[act.kind];
      if (m.needsText && !act.text.trim()) { act.error = `${t("common.reason")}：必填 / required`; return; }
      act.busy = true;
      try {
        const vars = m.noText ? { id: state.selected.id } : { id: state.selected.id, text: act.text.trim() || null };
        const data = await gql(m.query, vars);
        act.open = false;
        act.message = data.escalateWarning ? `${t("warnings.escalate")}：${data.escalateWarning.clueNo}` : t("clue.done", { action: t(`warnings.${act.kind}`) });
        await load(state.after);
      } catch (e) { act.error = e.shown || String(e); } finally { act.busy = false; }
    }
    onMounted(() => load());
    const offered = () => Object.keys(MUTATIONS).filter((kind) => may(MUTATIONS[kind].needs));
    return { form, state, act, apply, next, previous, open, submit, t, href, COLOUR_TAG, formatDateTime, MUTATIONS, offered, pretty: (v) => JSON.stringify(v, null, 2) };
  },
  template: `
  <div data-test="warnings">
    <div class="hub-filters">
      <el-input v-model="form.ruleCode" :placeholder="t('warnings.rule')" style="width:180px" clearable />
      <el-select v-model="form.level" :placeholder="t('warnings.level')" clearable style="width:110px">
        <el-option v-for="c in ['RED','YELLOW','BLUE']" :key="c" :value="c" :label="t('colours.' + c)" />
      </el-select>
      <el-input v-model="form.regionCode" :placeholder="t('common.region')" style="width:130px" clearable />
      <el-select v-model="form.status" :placeholder="t('common.status')" clearable style="width:150px">
        <el-option v-for="s in ['ACTIVE','ESCALATED','RESOLVED','FALSE_POSITIVE']" :key="s" :value="s" :label="s" />
      </el-select>
      <el-button type="primary" @click="apply">{{ t('common.search') }}</el-button>
    </div>
    <el-alert v-if="state.error" type="error" :title="state.error" :closable="false" />
    <el-alert v-if="act.message" type="success" :title="act.message" :closable="false" style="margin-bottom:8px" />
    <el-table :data="state.rows" v-loading="state.loading" size="small" border highlight-current-row @current-change="r => state.selected = r" :empty-text="t('common.none')" data-test="warning-table">
      <el-table-column :label="t('warnings.level')" width="64"><template #default="{row}"><el-tag :type="COLOUR_TAG[row.level.toUpperCase()]" effect="dark" size="small">{{ t('colours.' + row.level.toUpperCase()) }}</el-tag></template></el-table-column>
      <el-table-column prop="ruleCode" :label="t('warnings.rule')" width="190" />
      <el-table-column prop="message" :label="t('warnings.message')" min-width="240" show-overflow-tooltip />
      <el-table-column prop="status" :label="t('common.status')" width="110" />
      <el-table-column prop="regionCode" :label="t('common.region')" width="80" />
      <el-table-column :label="t('warnings.detected')" width="140"><template #default="{row}">{{ formatDateTime(row.detectedAt) }}</template></el-table-column>
    </el-table>
    <HubPager :state="state" @previous="previous" @next="next" />
    <div v-if="state.selected" class="hub-panel" style="margin-top:12px" data-test="warning-detail">
      <h3>{{ state.selected.ruleCode }} · {{ state.selected.period }}</h3>
      <p>{{ state.selected.message }}</p>
      <p class="hub-user">{{ state.selected.ruleCite }}</p>
      <p v-if="state.selected.clue">→ <a class="hub-link" :href="href('/clue/' + state.selected.clue.clueNo)">{{ state.selected.clue.clueNo }}</a></p>
      <h3>{{ t('warnings.facts') }}</h3>
      <pre class="hub-json" data-test="facts">{{ pretty(state.selected.facts) }}</pre>
      <div class="hub-actions">
        <el-button v-for="kind in offered()" :key="kind" size="small" :data-action="kind" @click="open(kind)">{{ t('warnings.' + kind) }}</el-button>
      </div>
      <h3 style="margin-top:10px">{{ t('warnings.history') }}</h3>
      <el-timeline><el-timeline-item v-for="(h, i) in state.selected.history" :key="i" :timestamp="formatDateTime(h.at)">{{ h.action }} · {{ h.actor }}<template v-if="h.note">：{{ h.note }}</template></el-timeline-item></el-timeline>
    </div>
    <el-dialog v-model="act.open" :title="act.kind ? t('warnings.' + act.kind) : ''" width="460px">
      <el-input v-if="act.kind && !MUTATIONS[act.kind].noText" v-model="act.text" type="textarea" :placeholder="MUTATIONS[act.kind].needsText ? t('common.reason') : t('common.note')" />
      <div v-if="act.error" class="hub-error" data-test="warning-error">{{ act.error }}</div>
      <template #footer><el-button type="primary" :loading="act.busy" :disabled="act.busy" @click="submit">{{ t('common.confirm') }}</el-button></template>
    </el-dialog>
  </div>`,
};

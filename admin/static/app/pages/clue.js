// A clue's page: what it is, where it came from (channel records with their match rule and score, the
// masked raw payloads, the write-back to each channel), its timeline and deadlines, and the actions its
// state and the user's role allow (Clue.availableActions, from the API: the console does not keep its
// own copy of the workflow or the policy table). An action's errors show beside the field they name.
import { computed, onMounted, reactive } from "vue";
import { gql } from "../api.js";
import { t, tOr } from "../i18n.js";
import { href, route } from "../router.js";
import { COLOUR_TAG, formatDateTime, formatMoney } from "../util.js";

export const CLUE_QUERY = `query ClueDetail($clueNo: String!) {
  clue(clueNo: $clueNo) {
    id clueNo title content status colour version supervision urgedCount extendedDays
    respondentName respondentUscc complainantName complainantPhone amount headcount receivedAt
    deadline deadlineProvisional workingDaysLeft overdue closedAt conclusion recoveredAmount workersPaid satisfaction
    handlingRegionCode handlingRegion { code fullName } region { fullName }
    availableActions
    deadlines { stage outcome dueDate doneOn current cite provisional }
    channelRecords {
      id channel channelName sourceId receivedAt matchRule matchScore
      writebackStatus writebackAttempts writebackError writebackNextAt writebackDoneAt
      rawRecord { source stream payload }
    }
    actions { action actor fromStatus toStatus fromRegionCode toRegionCode note at }
    similarClues(first: 5) { rule score clue { clueNo title status colour } }
  }
}`;

const REGIONS_QUERY = `query DispatchTargets($parentCode: String!) { regions(parentCode: $parentCode) { code name } }`;

/** Each action: its mutation, the form fields it asks for (name → {type, required}), and its variables. */
export const ACTIONS = {
  accept: { mutation: "acceptClue(clueNo: $clueNo, note: $note)", vars: "$note: String", fields: { note: { type: "text" } } },
  dispatch: {
    mutation: "dispatchClue(clueNo: $clueNo, toRegionCode: $toRegionCode, note: $note)",
    vars: "$toRegionCode: String!, $note: String",
    fields: { toRegionCode: { type: "region", required: true }, note: { type: "text" } },
  },
  return: { mutation: "returnClue(clueNo: $clueNo, reason: $reason)", vars: "$reason: String!", fields: { reason: { type: "text", required: true } } },
  escalate: { mutation: "escalateClue(clueNo: $clueNo, reason: $reason)", vars: "$reason: String!", fields: { reason: { type: "text", required: true } } },
  extend: {
    mutation: "extendClue(clueNo: $clueNo, workingDays: $workingDays, reason: $reason)",
    vars: "$workingDays: Int!, $reason: String!",
    fields: { workingDays: { type: "int", required: true, min: 1 }, reason: { type: "text", required: true } },
  },
  supervise: {
    mutation: "superviseClue(clueNo: $clueNo, level: $level, note: $note)",
    vars: "$level: SupervisionLevel!, $note: String",
    fields: { level: { type: "choice", required: true, choices: ["SUPERVISED", "LISTED"], initial: "SUPERVISED" }, note: { type: "text" } },
  },
  close: {
    mutation: "closeClue(clueNo: $clueNo, conclusion: $conclusion, recoveredAmount: $recoveredAmount, workersPaid: $workersPaid)",
    vars: "$conclusion: String!, $recoveredAmount: Decimal, $workersPaid: Int",
    fields: { conclusion: { type: "text", required: true }, recoveredAmount: { type: "decimal" }, workersPaid: { type: "int", min: 0 } },
  },
  record_callback: {
    mutation: "recordCallback(clueNo: $clueNo, satisfaction: $satisfaction, note: $note)",
    vars: "$satisfaction: Satisfaction!, $note: String",
    fields: { satisfaction: { type: "choice", required: true, choices: ["SATISFIED", "BASICALLY_SATISFIED", "DISSATISFIED"] }, note: { type: "text" } },
  },
};
const FIELD_LABELS = {
  note: "common.note", reason: "common.reason", toRegionCode: "clue.toRegion", workingDays: "clue.workingDays",
  level: "clue.level", conclusion: "clue.conclusion", recoveredAmount: "clue.recoveredAmount", workersPaid: "clue.workersPaid",
  satisfaction: "clue.satisfaction",
};

/** Check a form as the API will (required, integer, amount) before sending; field → message. */
export function checkForm(spec, values) {
  const errors = {};
  for (const [name, f] of Object.entries(spec.fields)) {
    const v = values[name];
    const empty = v === undefined || v === null || String(v).trim() === "";
    if (empty) {
      if (f.required) errors[name] = `${t(FIELD_LABELS[name])}：必填 / required`;
      continue;
    }
    if (f.type === "int" && (!/^-?\d+$/.test(String(v)) || (f.min !== undefined && Number(v) < f.min))) {
      errors[name] = `${t(FIELD_LABELS[name])}：应为不小于 ${f.min ?? 0} 的整数，得到 ${v}`;
    }
    if (f.type === "decimal" && !/^\d+(\.\d{1,2})?$/.test(String(v))) errors[name] = `${t(FIELD_LABELS[name])}：应为金额（元，最多两位小数），得到 ${v}`;
  }
  return errors;
}

function variablesOf(spec, values) {
  const out = {};
  for (const [name, f] of Object.entries(spec.fields)) {
    const v = values[name];
    if (v === undefined || v === null || String(v).trim() === "") out[name] = null;
    else if (f.type === "int") out[name] = Number(v);
    else out[name] = String(v).trim();
  }
  return out;
}

export default {
  setup() {
    const clueNo = decodeURIComponent(route.path.replace(/^\/clue\//, ""));
    const state = reactive({ loading: true, error: null, clue: null, notFound: false, message: null });
    const dialog = reactive({ open: false, action: null, values: {}, errors: {}, general: null, busy: false, regions: [] });
    const merge = reactive({ open: false, source: null, reason: "", error: null, busy: false });
    const split = reactive({ open: false, ids: [], reason: "", error: null, busy: false });

    async function load() {
      try {
        const data = await gql(CLUE_QUERY, { clueNo });
        state.clue = data.clue;
        state.notFound = !data.clue;
      } catch (e) {
        state.error = e.shown || String(e);
      } finally {
        state.loading = false;
      }
    }

    async function openAction(action) {
      const spec = ACTIONS[action];
      const values = {};
      for (const [name, f] of Object.entries(spec.fields)) values[name] = f.initial ?? "";
      Object.assign(dialog, { open: true, action, values, errors: {}, general: null, busy: false, regions: [] });
      if (action === "dispatch") {
        try {
          const data = await gql(REGIONS_QUERY, { parentCode: state.clue.handlingRegionCode });
          dialog.regions = data.regions;
        } catch (e) {
          dialog.general = e.shown || String(e);
        }
      }
    }

    async function submit() {
      const spec = ACTIONS[dialog.action];
      dialog.errors = checkForm(spec, dialog.values);
      dialog.general = null;
      if (Object.keys(dialog.errors).length) return;
      dialog.busy = true;
      const query = `mutation ClueAction($clueNo: String!, ${spec.vars}) { ${spec.mutation} { clueNo status version } }`;
      try {
        await gql(query, { clueNo, ...variablesOf(spec, dialog.values) });
        dialog.open = false;
        state.message = t("clue.done", { action: t(`actions.${dialog.action}`) });
        await load();
      } catch (e) {
        if (e.field && e.field in spec.fields) dialog.errors = { [e.field]: e.shown };
        else dialog.general = e.shown || String(e);
      } finally {
        dialog.busy = false;
      }
    }

    async function doMerge() {
      if (!merge.reason.trim()) { merge.error = `${t("common.reason")}：必填 / required`; return; }
      merge.busy = true;
      try {
        await gql(`mutation Merge($target: String!, $source: String!, $reason: String!) { mergeClues(targetClueNo: $target, sourceClueNo: $source, reason: $reason) { clueNo } }`,
          { target: clueNo, source: merge.source, reason: merge.reason.trim() });
        merge.open = false;
        state.message = t("clue.done", { action: t("actions.merge") });
        await load();
      } catch (e) { merge.error = e.shown || String(e); } finally { merge.busy = false; }
    }

    async function doSplit() {
      if (!split.ids.length || !split.reason.trim()) { split.error = `${t("common.reason")}：必填 / required`; return; }
      split.busy = true;
      try {
        await gql(`mutation Split($clueNo: String!, $ids: [ID!]!, $reason: String!) { splitClue(clueNo: $clueNo, channelRecordIds: $ids, reason: $reason) { clueNo } }`,
          { clueNo, ids: split.ids, reason: split.reason.trim() });
        split.open = false;
        state.message = t("clue.done", { action: t("actions.split") });
        await load();
      } catch (e) { split.error = e.shown || String(e); } finally { split.busy = false; }
    }

    const buttons = computed(() => (state.clue ? state.clue.availableActions.filter((a) => a in ACTIONS) : []));
    const canMerge = computed(() => !!state.clue && state.clue.availableActions.includes("merge"));
    const canSplit = computed(() => !!state.clue && state.clue.availableActions.includes("split") && state.clue.channelRecords.length > 1);
    const pretty = (v) => JSON.stringify(v, null, 2);
    onMounted(load);
    return { tOr, load, state, dialog, merge, split, buttons, canMerge, canSplit, openAction, submit, doMerge, doSplit, t, href, ACTIONS, FIELD_LABELS, COLOUR_TAG, formatDateTime, formatMoney, pretty };
  },
  template: `
  <div data-test="clue">
    <a class="hub-link" :href="href('/clues')">← {{ t('nav.clues') }}</a>
    <el-button size="small" text @click="load" data-test="reload" style="margin-left:8px">{{ t('common.refresh') }}</el-button>
    <el-alert v-if="state.error" type="error" :title="state.error" :closable="false" />
    <div v-if="state.loading">{{ t('common.loading') }}</div>
    <el-empty v-else-if="state.notFound" :description="t('clue.notFound')" />
    <template v-else-if="state.clue">
      <div class="hub-panel">
        <h3 data-test="clue-title"><el-tag v-if="state.clue.colour" :type="COLOUR_TAG[state.clue.colour]" effect="dark" size="small">{{ t('colours.' + state.clue.colour) }}</el-tag>
          {{ state.clue.clueNo }} · {{ state.clue.title }}</h3>
        <dl class="hub-kv">
          <dt>{{ t('clues.status') }}</dt><dd data-test="clue-status" :data-status="state.clue.status">{{ t('statuses.' + state.clue.status) }}</dd>
          <dt>{{ t('clues.handling') }}</dt><dd data-test="clue-handling" :data-region="state.clue.handlingRegionCode">{{ state.clue.handlingRegion && state.clue.handlingRegion.fullName }}</dd>
          <dt>{{ t('clue.respondent') }}</dt><dd>{{ state.clue.respondentName }} {{ state.clue.respondentUscc }}</dd>
          <dt>{{ t('clue.complainant') }}</dt><dd>{{ state.clue.complainantName }} {{ state.clue.complainantPhone }}</dd>
          <template v-if="state.clue.amount !== null"><dt>{{ t('clue.amount') }}</dt><dd>{{ formatMoney(state.clue.amount) }}<template v-if="state.clue.headcount !== null">（{{ t('clue.headcount') }} {{ state.clue.headcount }}）</template></dd></template>
          <dt>{{ t('clues.received') }}</dt><dd>{{ formatDateTime(state.clue.receivedAt) }}</dd>
          <dt>{{ t('clues.deadline') }}</dt><dd>{{ state.clue.deadline }}<template v-if="state.clue.workingDaysLeft !== null"> · {{ t('clues.daysLeft') }} {{ state.clue.workingDaysLeft }}</template></dd>
          <dt>{{ t('clue.content') }}</dt><dd>{{ state.clue.content }}</dd>
          <template v-if="state.clue.conclusion"><dt>{{ t('clue.conclusion') }}</dt><dd data-test="clue-conclusion">{{ state.clue.conclusion }} · {{ formatMoney(state.clue.recoveredAmount) }} · {{ state.clue.workersPaid }}</dd></template>
          <dt>{{ t('clue.version') }}</dt><dd>{{ state.clue.version }}</dd>
        </dl>
      </div>
      <div class="hub-panel">
        <h3>{{ t('common.actions') }}</h3>
        <el-alert v-if="state.message" type="success" :title="state.message" :closable="false" style="margin-bottom:8px" data-test="action-done" />
        <div class="hub-actions" data-test="actions">
          <el-button v-for="a in buttons" :key="a" :data-action="a" @click="openAction(a)">{{ t('actions.' + a) }}</el-button>
          <el-button v-if="canSplit" data-action="split" @click="split.open = true">{{ t('actions.split') }}</el-button>
          <span v-if="!buttons.length" class="hub-user">{{ t('clue.noActions') }}</span>
        </div>
      </div>
      <div class="hub-panel">
        <h3>{{ t('clue.deadlines') }}</h3>
        <el-table :data="state.clue.deadlines" size="small">
          <el-table-column :label="t('clue.stage')" width="110"><template #default="{row}">{{ tOr('stages.' + row.stage, row.stage) }}</template></el-table-column>
          <el-table-column prop="dueDate" :label="t('clue.due')" width="110" />
          <el-table-column :label="t('clue.outcome')" width="90"><template #default="{row}">{{ tOr('outcomes.' + row.outcome, row.outcome) }}</template></el-table-column>
          <el-table-column prop="doneOn" width="110" />
          <el-table-column prop="cite" show-overflow-tooltip />
        </el-table>
      </div>
      <div class="hub-panel" data-test="channel-records">
        <h3>{{ t('clue.channels') }}</h3>
        <el-table :data="state.clue.channelRecords" size="small" row-key="id">
          <el-table-column type="expand"><template #default="{row}"><pre class="hub-json">{{ row.rawRecord ? pretty(row.rawRecord.payload) : '' }}</pre></template></el-table-column>
          <el-table-column prop="channelName" :label="t('clues.channel')" width="170" />
          <el-table-column prop="sourceId" width="170" />
          <el-table-column :label="t('clue.rule')" width="150"><template #default="{row}">{{ row.matchRule }}<template v-if="row.matchScore !== null"> ({{ row.matchScore.toFixed(2) }})</template></template></el-table-column>
          <el-table-column :label="t('clue.writeback')" min-width="150"><template #default="{row}"><span :data-writeback="row.channel" :data-writeback-status="row.writebackStatus || ''">{{ row.writebackStatus ? tOr('writeback.' + row.writebackStatus, row.writebackStatus) : '—' }}</span><span v-if="row.writebackAttempts" class="hub-user"> ×{{ row.writebackAttempts }}</span><span v-if="row.writebackError" class="hub-error"> {{ row.writebackError }}</span></template></el-table-column>
        </el-table>
      </div>
      <div class="hub-panel" data-test="timeline">
        <h3>{{ t('clue.timeline') }}</h3>
        <el-timeline>
          <el-timeline-item v-for="(a, i) in state.clue.actions" :key="i" :timestamp="formatDateTime(a.at)">
            <span :data-timeline-action="a.action">{{ tOr('timeline.' + a.action, a.action) }}</span> · {{ a.actor }} <template v-if="a.toStatus">→ {{ tOr('statuses.' + a.toStatus.toUpperCase(), a.toStatus) }}</template><template v-if="a.toRegionCode"> → {{ a.toRegionCode }}</template><template v-if="a.note">：{{ a.note }}</template>
          </el-timeline-item>
        </el-timeline>
      </div>
      <div class="hub-panel" v-if="state.clue.similarClues.length">
        <h3>{{ t('clue.similar') }}</h3>
        <el-table :data="state.clue.similarClues" size="small">
          <el-table-column :label="t('clues.clueNo')" width="190"><template #default="{row}"><a class="hub-link" :href="href('/clue/' + row.clue.clueNo)">{{ row.clue.clueNo }}</a></template></el-table-column>
          <el-table-column :label="t('clues.titleCol')"><template #default="{row}">{{ row.clue.title }}</template></el-table-column>
          <el-table-column :label="t('clue.rule')" width="160"><template #default="{row}">{{ row.rule }} ({{ row.score.toFixed(2) }})</template></el-table-column>
          <el-table-column width="140" v-if="canMerge"><template #default="{row}"><el-button size="small" @click="merge.source = row.clue.clueNo; merge.reason=''; merge.error=null; merge.open = true">{{ t('clue.merge') }}</el-button></template></el-table-column>
        </el-table>
      </div>
    </template>
    <el-dialog v-model="dialog.open" :title="dialog.action ? t('actions.' + dialog.action) : ''" width="520px" data-test="action-dialog">
      <el-form v-if="dialog.action" label-width="110px" @submit.prevent="submit">
        <el-form-item v-for="(f, name) in ACTIONS[dialog.action].fields" :key="name" :label="t(FIELD_LABELS[name])" :required="!!f.required" :error="dialog.errors[name] || ''" :data-field="name">
          <el-select v-if="f.type === 'region'" v-model="dialog.values[name]" filterable allow-create default-first-option style="width:100%" :data-input="name" :placeholder="t('clue.regionHint')">
            <el-option v-for="r in dialog.regions" :key="r.code" :value="r.code" :label="r.name + ' ' + r.code" />
          </el-select>
          <el-select v-else-if="f.type === 'choice'" v-model="dialog.values[name]" style="width:100%" :data-input="name">
            <el-option v-for="c in f.choices" :key="c" :value="c" :label="c" />
          </el-select>
          <el-input v-else v-model="dialog.values[name]" :type="name === 'conclusion' || name === 'reason' ? 'textarea' : 'text'" :data-input="name" />
        </el-form-item>
        <div v-if="dialog.general" class="hub-error" data-test="action-error">{{ dialog.general }}</div>
      </el-form>
      <template #footer>
        <el-button @click="dialog.open = false">{{ t('common.cancel') }}</el-button>
        <el-button type="primary" :loading="dialog.busy" :disabled="dialog.busy" @click="submit" data-test="action-submit">{{ t('common.confirm') }}</el-button>
      </template>
    </el-dialog>
    <el-dialog v-model="merge.open" :title="t('clue.merge')" width="480px">
      <p>{{ merge.source }} → {{ state.clue && state.clue.clueNo }}</p>
      <el-input v-model="merge.reason" type="textarea" :placeholder="t('common.reason')" />
      <div v-if="merge.error" class="hub-error">{{ merge.error }}</div>
      <template #footer><el-button type="primary" :loading="merge.busy" @click="doMerge">{{ t('common.confirm') }}</el-button></template>
    </el-dialog>
    <el-dialog v-model="split.open" :title="t('actions.split')" width="520px">
      <el-checkbox-group v-model="split.ids">
        <div v-for="r in (state.clue ? state.clue.channelRecords : [])" :key="r.id"><el-checkbox :value="r.id">{{ r.channelName }} {{ r.sourceId }}</el-checkbox></div>
      </el-checkbox-group>
      <el-input v-model="split.reason" type="textarea" :placeholder="t('common.reason')" />
      <div v-if="split.error" class="hub-error">{{ split.error }}</div>
      <template #footer><el-button type="primary" :loading="split.busy" @click="doSplit">{{ t('common.confirm') }}</el-button></template>
    </el-dialog>
  </div>`,
};

// 驾驶舱: this month's clues (received, closed, overdue, amounts), by channel / colour / subordinate region,
// the 12-month trend and the warnings — all from `stats` (SQL GROUP BY within the jurisdiction) in one
// request — and connector health in a second (admins only: the API refuses others, the card then hides).
// Every figure links to the list behind it.
import { nextTick, onBeforeUnmount, onMounted, reactive, ref } from "vue";
import { gql } from "../api.js";
import { t } from "../i18n.js";
import { href, navigate } from "../router.js";
import { chinaToday, CLOSED_STATUSES, COLOUR_CSS, formatDateTime, formatMoney, monthBounds, OPEN_STATUSES } from "../util.js";

// `stats` leaves merged clues out: the lists the figures open do too, so that both count the same clues
const COUNTED = [...OPEN_STATUSES, ...CLOSED_STATUSES];

export const DASHBOARD_QUERY = `query Dashboard($from: Date!, $to: Date!, $trendFrom: Date!) {
  stats {
    received: clues(groupBy: [], from: $from, to: $to) { count amount headcount }
    closed: clues(groupBy: [], from: $from, to: $to, dateBy: CLOSED) { count recoveredAmount workersPaid }
    all: clues(groupBy: []) { count overdue }
    byChannel: clues(groupBy: [CHANNEL], from: $from, to: $to) { channel count }
    byColour: clues(groupBy: [COLOUR], from: $from, to: $to) { colour count }
    byRegion: clues(groupBy: [REGION], from: $from, to: $to) { regionCode regionName count overdue }
    trend: clues(groupBy: [MONTH], from: $trendFrom, to: $to) { month count }
    trendClosed: clues(groupBy: [MONTH], from: $trendFrom, to: $to, dateBy: CLOSED) { month count }
    warningsByRule: warnings(groupBy: [RULE]) { ruleCode count open }
    warningsByLevel: warnings(groupBy: [LEVEL]) { level count open }
  }
}`;

export const CONNECTOR_HEALTH_QUERY = `query ConnectorHealth {
  connectorInstances(first: 50) { nodes { id name kind health enabled lastRunAt consecutiveFailures pausedReason } }
}`;

const sum = (rows, field) => (rows || []).reduce((acc, r) => acc + Number(r[field] || 0), 0);

export default {
  setup() {
    const today = chinaToday();
    const [from, to] = monthBounds(today);
    const [trendFrom] = monthBounds(today, -11);
    const state = reactive({ loading: true, error: null, stats: null, connectors: null });
    const charts = { channel: ref(null), colour: ref(null), region: ref(null), trend: ref(null), rule: ref(null), level: ref(null) };
    const instances = [];
    const received = (extra = {}) => ({ receivedFrom: from, receivedTo: to, status: COUNTED, ...extra });
    const closedThisMonth = { closedFrom: from, closedTo: to, status: COUNTED };

    // `drawn` is what the chart shows, as (key, value) pairs: kept on the element (data-drawn) so that a
    // reader — or a test — can check the figures against the API without reading pixels.
    function draw(echarts, el, option, onClick, drawn) {
      if (!el) return;
      el.dataset.drawn = JSON.stringify(drawn);
      const chart = echarts.init(el, null, { renderer: "canvas" });
      chart.setOption({ animation: false, tooltip: {}, ...option });
      if (onClick) chart.on("click", onClick);
      instances.push(chart);
    }

    function months() {
      const out = [];
      for (let i = -11; i <= 0; i++) out.push(monthBounds(today, i)[0].slice(0, 7));
      return out;
    }

    async function drawAll(s) {
      const echarts = await import("echarts");
      await nextTick();
      const channelLabel = (c) => (c ? t(`channels.${c}`) : t("common.unknown"));
      draw(echarts, charts.channel.value, {
        series: [{ type: "pie", radius: ["35%", "65%"], data: s.byChannel.map((g) => ({ name: channelLabel(g.channel), value: g.count, channel: g.channel })), label: { formatter: "{b}: {c}" } }],
      }, (p) => p.data.channel && navigate("/clues", received({ channel: p.data.channel })), s.byChannel.map((g) => [g.channel, g.count]));
      draw(echarts, charts.colour.value, {
        xAxis: { type: "category", data: s.byColour.map((g) => (g.colour ? t(`colours.${g.colour}`) : t("common.unknown"))) },
        yAxis: { type: "value", minInterval: 1 },
        series: [{ type: "bar", data: s.byColour.map((g) => ({ value: g.count, colour: g.colour, itemStyle: { color: COLOUR_CSS[g.colour] || "#999" } })), label: { show: true, position: "top" } }],
      }, (p) => p.data.colour && navigate("/clues", received({ colour: p.data.colour })), s.byColour.map((g) => [g.colour, g.count]));
      draw(echarts, charts.region.value, {
        grid: { left: 110, right: 30, top: 10, bottom: 20 },
        yAxis: { type: "category", data: s.byRegion.map((g) => g.regionName || g.regionCode) },
        xAxis: { type: "value", minInterval: 1 },
        series: [{ type: "bar", data: s.byRegion.map((g) => ({ value: g.count, regionCode: g.regionCode })), label: { show: true, position: "right" } }],
      }, (p) => navigate("/clues", received({ regionCode: p.data.regionCode })), s.byRegion.map((g) => [g.regionCode, g.count]));
      const ms = months();
      const byMonth = (rows) => ms.map((mo) => (rows.find((r) => r.month === mo) || { count: 0 }).count);
      draw(echarts, charts.trend.value, {
        legend: { data: [t("dashboard.trendReceived"), t("dashboard.trendClosed")] },
        tooltip: { trigger: "axis" },
        xAxis: { type: "category", data: ms },
        yAxis: { type: "value", minInterval: 1 },
        series: [
          { name: t("dashboard.trendReceived"), type: "line", data: byMonth(s.trend) },
          { name: t("dashboard.trendClosed"), type: "line", data: byMonth(s.trendClosed) },
        ],
      }, (p) => {
        const [mFrom, mTo] = monthBounds(`${ms[p.dataIndex]}-01`);
        navigate("/clues", { receivedFrom: mFrom, receivedTo: mTo, status: COUNTED });
      }, ms.map((mo, i) => [mo, byMonth(s.trend)[i], byMonth(s.trendClosed)[i]]));
      draw(echarts, charts.rule.value, {
        grid: { left: 150, right: 30, top: 10, bottom: 20 },
        yAxis: { type: "category", data: s.warningsByRule.map((g) => g.ruleCode) },
        xAxis: { type: "value", minInterval: 1 },
        series: [{ type: "bar", data: s.warningsByRule.map((g) => g.count), label: { show: true, position: "right" } }],
      }, (p) => navigate("/warnings", { ruleCode: s.warningsByRule[p.dataIndex].ruleCode }), s.warningsByRule.map((g) => [g.ruleCode, g.count]));
      draw(echarts, charts.level.value, {
        series: [{ type: "pie", radius: "65%", data: s.warningsByLevel.map((g) => ({ name: g.level ? t(`colours.${g.level}`) : t("common.unknown"), value: g.count, level: g.level, itemStyle: { color: COLOUR_CSS[g.level] } })), label: { formatter: "{b}: {c}" } }],
      }, (p) => p.data.level && navigate("/warnings", { level: p.data.level }), s.warningsByLevel.map((g) => [g.level, g.count]));
      document.body.dataset.dashboardDrawn = String(instances.length);
    }

    onMounted(async () => {
      const variables = { from, to, trendFrom };
      const health = gql(CONNECTOR_HEALTH_QUERY).then(
        (d) => { state.connectors = d.connectorInstances.nodes; },
        () => { state.connectors = null; },
      );
      try {
        const data = await gql(DASHBOARD_QUERY, variables);
        state.stats = data.stats;
        state.loading = false;
        await drawAll(data.stats);
      } catch (e) {
        state.error = e.shown || String(e);
        state.loading = false;
      }
      await health;
    });
    onBeforeUnmount(() => instances.forEach((c) => c.dispose()));

    const cards = () => {
      const s = state.stats;
      if (!s) return [];
      return [
        { key: "received", label: t("dashboard.received"), value: sum(s.received, "count"), link: href("/clues", received()) },
        { key: "closed", label: t("dashboard.closed"), value: sum(s.closed, "count"), link: href("/clues", closedThisMonth) },
        { key: "overdue", label: t("dashboard.overdue"), value: sum(s.all, "overdue"), link: href("/clues", { overdue: "true" }) },
        { key: "amount", label: t("dashboard.amount"), value: formatMoney(sum(s.received, "amount")), link: href("/clues", received()) },
        { key: "headcount", label: t("dashboard.headcount"), value: sum(s.received, "headcount"), link: href("/clues", received()) },
        { key: "recovered", label: t("dashboard.recovered"), value: formatMoney(sum(s.closed, "recoveredAmount")), link: href("/clues", closedThisMonth) },
        { key: "workersPaid", label: t("dashboard.workersPaid"), value: sum(s.closed, "workersPaid"), link: href("/clues", closedThisMonth) },
      ];
    };
    return { state, cards, t, from, to, formatDateTime, href, received, ...charts };
  },
  template: `
  <div data-test="dashboard">
    <div class="hub-filters"><strong>{{ t('dashboard.month', {from, to}) }}</strong></div>
    <el-alert v-if="state.error" type="error" :title="state.error" :closable="false" />
    <div v-if="state.loading">{{ t('common.loading') }}</div>
    <template v-else-if="state.stats">
      <div class="hub-cards">
        <a v-for="c in cards()" :key="c.key" class="hub-card" :href="c.link" :data-figure="c.key">
          <div class="label">{{ c.label }}</div><div class="value">{{ c.value }}</div>
        </a>
      </div>
      <div class="hub-charts">
        <div class="hub-panel"><h3>{{ t('dashboard.byChannel') }}</h3><div ref="channel" class="hub-chart" data-chart="channel"></div></div>
        <div class="hub-panel"><h3>{{ t('dashboard.byColour') }}</h3><div ref="colour" class="hub-chart" data-chart="colour"></div></div>
        <div class="hub-panel"><h3>{{ t('dashboard.byRegion') }}</h3><div ref="region" class="hub-chart" data-chart="region"></div>
          <div class="hub-region-links"><a v-for="g in state.stats.byRegion" :key="g.regionCode" class="hub-link" :data-region="g.regionCode" :href="href('/clues', received({regionCode: g.regionCode}))">{{ g.regionName || g.regionCode }} {{ g.count }}</a></div></div>
        <div class="hub-panel"><h3>{{ t('dashboard.trend') }}</h3><div ref="trend" class="hub-chart" data-chart="trend"></div></div>
        <div class="hub-panel"><h3>{{ t('dashboard.warningsByRule') }}</h3><div ref="rule" class="hub-chart" data-chart="rule"></div></div>
        <div class="hub-panel"><h3>{{ t('dashboard.warningsByLevel') }}</h3><div ref="level" class="hub-chart" data-chart="level"></div></div>
        <div v-if="state.connectors" class="hub-panel" data-test="connector-health"><h3>{{ t('dashboard.connectors') }}</h3>
          <el-table :data="state.connectors" size="small">
            <el-table-column prop="name" :label="t('connectors.name')" />
            <el-table-column prop="health" :label="t('connectors.health')" width="90" />
            <el-table-column :label="t('connectors.lastRun')" width="140"><template #default="{row}">{{ formatDateTime(row.lastRunAt) }}</template></el-table-column>
          </el-table>
        </div>
      </div>
    </template>
  </div>`,
};

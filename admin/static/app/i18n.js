// zh-CN first (the default), English as a switch; the choice is kept in localStorage.
import { reactive } from "vue";

const LOCALE_KEY = "hub.console.locale";

export const MESSAGES = {
  "zh-CN": {
    app: { title: "根治欠薪数据中枢", subtitle: "管理后台", signOut: "退出", language: "English", keyMode: "API 密钥" },
    nav: { dashboard: "驾驶舱", clues: "线索池", warnings: "预警", connectors: "数据接入", writebacks: "写回", system: "系统" },
    roles: { admin: "管理员", inspector: "督查员", viewer: "只读", regional: "区域系统", handler: "镇街", town: "镇街", leader: "领导", sector: "行业主管部门" },
    common: {
      loading: "加载中…", search: "查询", reset: "重置", more: "下一页", first: "首页", previous: "上一页", unknown: "未标注", total: "共 {n} 条",
      none: "暂无数据", all: "全部", yes: "是", no: "否", confirm: "确定", cancel: "取消", reason: "原因",
      note: "备注", open: "查看", back: "返回", region: "地区", status: "状态", actions: "操作", refresh: "刷新",
    },
    signin: {
      title: "登录管理后台", username: "用户名", password: "密码", submit: "登录", expired: "会话已过期，请重新登录（表单内容已保留）",
      unavailable: "本中枢尚未启用用户登录。", required: "请输入用户名和密码",
      locked: "账号已锁定：连续多次密码错误，{at} 解锁（北京时间）。如需提前解锁，请联系管理员重置密码。",
    },
    dashboard: {
      title: "驾驶舱", month: "本月（{from} 至 {to}）", received: "本月受理", closed: "本月办结", overdue: "超期未办",
      amount: "涉及金额（元）", recovered: "追回金额（元）", workersPaid: "已支付人数", headcount: "涉及人数",
      byChannel: "按渠道", byColour: "按颜色", byRegion: "按下级地区", trend: "近 12 个月趋势",
      warningsByRule: "预警（按规则）", warningsByLevel: "预警（按等级）", connectors: "接入健康",
      trendReceived: "受理", trendClosed: "办结",
    },
    clues: {
      title: "线索池", clueNo: "线索编号", titleCol: "标题", colour: "颜色", channel: "渠道", status: "状态",
      region: "地区（含下级）", handling: "承办地区", received: "受理时间", closedAt: "办结时间", deadline: "期限", daysLeft: "剩余工作日",
      overdue: "超期", supervised: "督办", search: "标题/被投诉人/投诉人", amount: "金额（元）",
      orderDesc: "按受理时间（新→旧）", orderAsc: "按受理时间（旧→新）", orderId: "按编号",
    },
    clue: {
      respondent: "被投诉单位", complainant: "投诉人", phone: "电话", amount: "金额（元）", headcount: "人数",
      content: "投诉内容", channels: "来源渠道", provenance: "匹配", rule: "规则", score: "得分", payload: "原始报文（已脱敏）",
      writeback: "写回", timeline: "办理记录", deadlines: "办理期限", stage: "环节", due: "期限", outcome: "结果",
      similar: "相似线索", merge: "合并到本线索", split: "拆分", version: "版本", conclusion: "核处结论",
      recoveredAmount: "追回金额（元）", workersPaid: "支付人数", toRegion: "分办至", workingDays: "延期工作日",
      level: "督办级别", satisfaction: "满意度", notFound: "没有这条线索，或不在您的管辖范围内。", done: "已{action}",
      noActions: "当前状态或角色下没有可执行的操作。", regionHint: "选择下级地区，或输入乡镇（街道）编码",
    },
    actions: {
      accept: "签收", dispatch: "分办", return: "退回", escalate: "上报", extend: "延期", supervise: "督办",
      close: "办结", record_callback: "回访", merge: "合并", split: "拆分",
    },
    timeline: { receive: "受理", dispatch: "分办", accept: "签收办理", return: "退回", escalate: "上报", extend: "延期",
      supervise: "督办", urge: "催办", close: "办结", record_callback: "回访", reopen: "重办", merge: "合并", split: "拆分" },
    stages: { SIGN: "签收", ANSWER: "答复", ACCEPT: "受理", INVESTIGATE: "调查" },
    outcomes: { PENDING: "未到期", MET: "按期", MISSED: "超期" },
    writeback: { pending: "待写回", delivering: "写回中", acknowledged: "已确认", failing: "写回失败" },
    warnings: { title: "预警", rule: "规则", level: "等级", detected: "发现时间", message: "内容", facts: "证据",
      acknowledge: "签收", note: "核查记录", resolve: "解除", falsePositive: "误报", escalate: "转线索", history: "处理记录" },
    connectors: { title: "数据接入", name: "名称", kind: "类型", health: "健康", enabled: "启用", lastRun: "上次运行",
      nextRun: "下次运行", failures: "连续失败", paused: "暂停原因", runs: "运行记录", quarantine: "隔离区",
      syncNow: "立即同步", test: "测试连接", enable: "启用", disable: "停用", replay: "重放", secretSet: "已设置（留空则不修改）", add: "新增接入", edit: "编辑", schedule: "同步间隔（秒）", fullRefresh: "全量同步", reset: "重置", confirmTitle: "请确认", fullRefreshConfirm: "从头重新读取 {name} 的全部数据？", resetConfirm: "清除 {name} 的 {stream} 同步位置？下次同步将从头读取该数据流。",
      live: "正在同步", since: "开始于 {at}", starting: "等待第一页…",
      counts: { read: "读取", created: "新增", updated: "更新", unchanged: "未变", quarantined: "隔离", pages: "页数" } },
    writebacks: { title: "写回", attempts: "尝试次数", next: "下次/完成时间", error: "上游原因", retry: "重试" },
    system: { title: "系统", audit: "审计日志", keys: "API 密钥", who: "操作人", what: "操作", entityType: "对象类型", entityId: "对象编号", addKey: "新建密钥", keyName: "名称", role: "角色", unmask: "可查看明文", revoke: "吊销", revoked: "已吊销", lastUsed: "最近使用", sector: "行业", allSectors: "全部行业", needsSector: "行业：行业主管部门密钥须选择行业（住建、交通、水利）", shownOnce: "密钥只显示这一次，请立即复制保存；关闭后无法再次查看。" },
    users: { title: "用户", add: "新建用户", edit: "编辑用户 {name}", search: "用户名/姓名", displayName: "姓名", sector: "行业",
      confirm: "确认密码", newPassword: "新密码", resetPassword: "重置密码", resetFor: "重置 {name} 的密码",
      resetEffect: "重置后该用户的登录会话立即结束，锁定随之解除。", passwordRule: "密码至少 {n} 位，含大写字母、小写字母、数字、符号中的三类，且不得包含用户名。",
      regionHint: "6 位区县/地市编码，镇街用户填 9 位乡镇（街道）编码", active: "正常", disabled: "已停用", lockedUntil: "已锁定至 {at}", lastSignIn: "最近登录",
      created: "已创建用户 {name}", updated: "已保存用户 {name}", disabledNow: "已停用用户 {name}，其会话已结束", enabledNow: "已启用用户 {name}",
      passwordReset: "已重置 {name} 的密码，其会话已结束", unchanged: "没有修改任何内容",
      badUsername: "用户名：3 至 64 位小写字母、数字或 . _ -，以字母或数字开头，得到 {got}", badName: "姓名：必填，至多 64 个字",
      badRegion: "地区：应为 6、9 或 12 位地区编码，得到 {got}", townRegion: "地区：镇街用户须为 9 位乡镇（街道）编码，得到 {got}",
      needsSector: "行业：行业主管部门用户须选择行业（住建、交通、水利）", tooShort: "密码：至少 {n} 位，现为 {got} 位",
      tooSimple: "密码：须含大写字母、小写字母、数字、符号中的至少三类，现为 {n} 类", containsUsername: "密码：不得包含用户名", mismatch: "两次输入的密码不一致" },
    colours: { RED: "红", YELLOW: "黄", BLUE: "蓝" },
    statuses: { RECEIVED: "已受理", DISPATCHED: "已分办", IN_PROGRESS: "办理中", CLOSED: "已办结", CALLED_BACK: "已回访",
      RETURNED: "已退回", ESCALATED: "已上报", MERGED: "已合并" },
    channels: { NATIONAL_PLATFORM: "全国根治欠薪线索反映平台", HOTLINE12345: "12345 热线", HOTLINE12333: "12333 热线",
      PETITION: "信访", WALK_IN: "来访", SUPERIOR: "上级交办", LEADER: "领导批示", PUBLIC_OPINION: "舆情",
      ONLINE: "网上投诉", GRID: "网格", WARNING: "预警" },
    errors: {
      UNAUTHENTICATED: "未登录或会话已过期", FORBIDDEN: "无权执行此操作", NOT_FOUND: "未找到",
      BAD_USER_INPUT: "输入有误", INVALID_IDENTIFIER: "编码格式有误", ILLEGAL_TRANSITION: "当前状态不允许此操作",
      CONFLICT: "该记录已被他人修改，请刷新后重试", DUPLICATE_SOURCE: "该登记号已录入", RATE_LIMITED: "请求过于频繁，请稍后再试",
      QUERY_TIMEOUT: "查询超时", NETWORK: "网络错误", BAD_CREDENTIALS: "用户名或密码错误", ACCOUNT_LOCKED: "账号已锁定",
      ACCOUNT_DISABLED: "账号已停用", SESSION_EXPIRED: "会话已过期", WEAK_PASSWORD: "密码不符合要求", CSRF_REFUSED: "请求被拒绝（跨站）", USERNAME_TAKEN: "用户名已被使用",
      INTERNAL: "系统错误",
    },
  },
  en: {
    app: { title: "Wage Arrears Hub", subtitle: "Admin console", signOut: "Sign out", language: "中文", keyMode: "API key" },
    nav: { dashboard: "Dashboard", clues: "Clue pool", warnings: "Warnings", connectors: "Connectors", writebacks: "Write-backs", system: "System" },
    roles: { admin: "Admin", inspector: "Inspector", viewer: "Viewer", regional: "Regional system", handler: "Town handler", town: "Town handler", leader: "Leader", sector: "Sector" },
    common: {
      loading: "Loading…", search: "Search", reset: "Reset", more: "Next page", first: "First page", previous: "Previous page", unknown: "Not set", total: "{n} in all",
      none: "No data", all: "All", yes: "Yes", no: "No", confirm: "OK", cancel: "Cancel", reason: "Reason",
      note: "Note", open: "Open", back: "Back", region: "Region", status: "Status", actions: "Actions", refresh: "Refresh",
    },
    signin: {
      title: "Sign in", username: "Username", password: "Password", submit: "Sign in", expired: "Your session expired: sign in again (the form is kept)",
      unavailable: "This hub has no user sign-in yet.", required: "Enter a username and a password",
      locked: "Account locked after too many wrong passwords, until {at} (China time). An administrator can reset the password sooner.",
    },
    dashboard: {
      title: "Dashboard", month: "This month ({from} to {to})", received: "Received", closed: "Closed", overdue: "Overdue",
      amount: "Amount (yuan)", recovered: "Recovered (yuan)", workersPaid: "Workers paid", headcount: "Workers named",
      byChannel: "By channel", byColour: "By colour", byRegion: "By subordinate region", trend: "Last 12 months",
      warningsByRule: "Warnings by rule", warningsByLevel: "Warnings by level", connectors: "Connector health",
      trendReceived: "Received", trendClosed: "Closed",
    },
    clues: {
      title: "Clue pool", clueNo: "Clue no.", titleCol: "Title", colour: "Colour", channel: "Channel", status: "Status",
      region: "Region (and below)", handling: "Handled by", received: "Received", closedAt: "Closed", deadline: "Deadline", daysLeft: "Working days left",
      overdue: "Overdue", supervised: "Supervised", search: "Title / respondent / complainant", amount: "Amount (yuan)",
      orderDesc: "Newest first", orderAsc: "Oldest first", orderId: "By number",
    },
    clue: {
      respondent: "Respondent", complainant: "Complainant", phone: "Phone", amount: "Amount (yuan)", headcount: "Workers",
      content: "Complaint", channels: "Channels", provenance: "Match", rule: "Rule", score: "Score", payload: "Raw payload (masked)",
      writeback: "Write-back", timeline: "Timeline", deadlines: "Deadlines", stage: "Stage", due: "Due", outcome: "Outcome",
      similar: "Similar clues", merge: "Merge into this clue", split: "Split", version: "Version", conclusion: "Conclusion",
      recoveredAmount: "Recovered (yuan)", workersPaid: "Workers paid", toRegion: "Dispatch to", workingDays: "Working days",
      level: "Level", satisfaction: "Satisfaction", notFound: "No such clue, or not in your jurisdiction.", done: "{action}: done",
      noActions: "Nothing to do in this state with your role.", regionHint: "Pick a region below, or type a town code",
    },
    actions: {
      accept: "Accept", dispatch: "Dispatch", return: "Return", escalate: "Escalate", extend: "Extend", supervise: "Supervise",
      close: "Close", record_callback: "Call back", merge: "Merge", split: "Split",
    },
    timeline: { receive: "Received", dispatch: "Dispatched", accept: "Accepted", return: "Returned", escalate: "Escalated",
      extend: "Extended", supervise: "Supervised", urge: "Urged", close: "Closed", record_callback: "Called back", reopen: "Reopened",
      merge: "Merged", split: "Split" },
    stages: { SIGN: "Sign", ANSWER: "Answer", ACCEPT: "Accept", INVESTIGATE: "Investigate" },
    outcomes: { PENDING: "Pending", MET: "Met", MISSED: "Missed" },
    writeback: { pending: "Pending", delivering: "Delivering", acknowledged: "Acknowledged", failing: "Failing" },
    warnings: { title: "Warnings", rule: "Rule", level: "Level", detected: "Detected", message: "Message", facts: "Evidence",
      acknowledge: "Acknowledge", note: "Note", resolve: "Resolve", falsePositive: "False positive", escalate: "Escalate to a clue", history: "History" },
    connectors: { title: "Connectors", name: "Name", kind: "Kind", health: "Health", enabled: "Enabled", lastRun: "Last run",
      nextRun: "Next run", failures: "Failures in a row", paused: "Paused because", runs: "Runs", quarantine: "Quarantine",
      syncNow: "Sync now", test: "Test connection", enable: "Enable", disable: "Disable", replay: "Replay", secretSet: "set (leave empty to keep)", add: "Add a connector", edit: "Edit", schedule: "Every (seconds)", fullRefresh: "Full refresh", reset: "Reset", confirmTitle: "Please confirm", fullRefreshConfirm: "Read everything of {name} again from the start?", resetConfirm: "Forget where {name} stands in {stream}? Its next sync reads the stream from the start.",
      live: "Syncing now", since: "since {at}", starting: "waiting for the first page…",
      counts: { read: "read", created: "created", updated: "updated", unchanged: "unchanged", quarantined: "quarantined", pages: "pages" } },
    writebacks: { title: "Write-backs", attempts: "Attempts", next: "Next try / done", error: "Upstream's reason", retry: "Retry" },
    system: { title: "System", audit: "Audit log", keys: "API keys", who: "Who", what: "What", entityType: "Record type", entityId: "Record id", addKey: "New key", keyName: "Name", role: "Role", unmask: "May unmask", revoke: "Revoke", revoked: "Revoked", lastUsed: "Last used", sector: "Sector", allSectors: "All sectors", needsSector: "sector: a sector key needs a sector (住建, 交通, 水利)", shownOnce: "The key is shown this once: copy it now; it cannot be shown again." },
    users: { title: "Users", add: "New user", edit: "Edit user {name}", search: "Username / name", displayName: "Name", sector: "Sector",
      confirm: "Confirm password", newPassword: "New password", resetPassword: "Reset password", resetFor: "Reset the password of {name}",
      resetEffect: "The user's sessions end at once, and a lockout lifts.", passwordRule: "At least {n} characters, three of upper case, lower case, digits and symbols, not containing the username.",
      regionHint: "A 6-digit county or city code; a town handler's 9-digit town code", active: "Active", disabled: "Disabled", lockedUntil: "Locked until {at}", lastSignIn: "Last sign-in",
      created: "User {name} created", updated: "User {name} saved", disabledNow: "User {name} disabled; their sessions have ended", enabledNow: "User {name} enabled",
      passwordReset: "The password of {name} is reset; their sessions have ended", unchanged: "Nothing was changed",
      badUsername: "username: 3 to 64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit; got {got}", badName: "name: required, at most 64 characters",
      badRegion: "region: a 6, 9 or 12-digit region code; got {got}", townRegion: "region: a town handler's region is a 9-digit town code; got {got}",
      needsSector: "sector: a sector user needs a sector (住建, 交通, 水利)", tooShort: "password: at least {n} characters, got {got}",
      tooSimple: "password: use at least three of upper case, lower case, digits and symbols; it uses {n}", containsUsername: "password: must not contain the username", mismatch: "the two passwords differ" },
    colours: { RED: "Red", YELLOW: "Yellow", BLUE: "Blue" },
    statuses: { RECEIVED: "Received", DISPATCHED: "Dispatched", IN_PROGRESS: "In progress", CLOSED: "Closed", CALLED_BACK: "Called back",
      RETURNED: "Returned", ESCALATED: "Escalated", MERGED: "Merged" },
    channels: { NATIONAL_PLATFORM: "National platform", HOTLINE12345: "12345 hotline", HOTLINE12333: "12333 hotline",
      PETITION: "Petition", WALK_IN: "Walk-in", SUPERIOR: "From above", LEADER: "Leader's instruction", PUBLIC_OPINION: "Public opinion",
      ONLINE: "Online", GRID: "Grid", WARNING: "Warning" },
    errors: {
      UNAUTHENTICATED: "Not signed in", FORBIDDEN: "Not allowed", NOT_FOUND: "Not found", BAD_USER_INPUT: "Bad input",
      INVALID_IDENTIFIER: "Malformed code", ILLEGAL_TRANSITION: "Not allowed in this state", CONFLICT: "Changed by someone else: reload",
      DUPLICATE_SOURCE: "Already entered", RATE_LIMITED: "Too many requests", QUERY_TIMEOUT: "Timed out", NETWORK: "Network error",
      BAD_CREDENTIALS: "Wrong username or password", ACCOUNT_LOCKED: "Account locked", ACCOUNT_DISABLED: "Account disabled",
      SESSION_EXPIRED: "Session expired", WEAK_PASSWORD: "Password not accepted", CSRF_REFUSED: "Refused (cross-site)", USERNAME_TAKEN: "Username taken", INTERNAL: "Internal error",
    },
  },
};

export const i18n = reactive({ locale: localStorage.getItem(LOCALE_KEY) === "en" ? "en" : "zh-CN" });

export function setLocale(locale) {
  i18n.locale = locale === "en" ? "en" : "zh-CN";
  localStorage.setItem(LOCALE_KEY, i18n.locale);
  document.documentElement.lang = i18n.locale;
}

/** The message at `key`, or `fallback` (the raw value) when the table has none. */
export function tOr(key, fallback) {
  const found = t(key);
  return found === key ? fallback : found;
}

/** The message at a dotted key ("nav.clues"), with {name} placeholders filled; the key itself when missing. */
export function t(key, params = {}) {
  let node = MESSAGES[i18n.locale];
  for (const part of key.split(".")) node = node == null ? undefined : node[part];
  if (typeof node !== "string") return key;
  return node.replace(/\{(\w+)\}/g, (_, name) => (params[name] === undefined ? `{${name}}` : String(params[name])));
}

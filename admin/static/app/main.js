// The console's entry: the layout (menu, header, language switch), the session gate and the pages.
import "./link.js"; // first: takes a #key=… off the address before the router reads it
import { computed, createApp, h } from "vue";
import ElementPlus from "element-plus";
import zhCn from "element-plus/zh-cn";
import en from "element-plus/en";
import { i18n, setLocale, t } from "./i18n.js";
import { route, href } from "./router.js";
import { boot, may, session, signOut } from "./session.js";
import SignIn from "./pages/signin.js";
import Dashboard from "./pages/dashboard.js";
import Clues from "./pages/clues.js";
import ClueDetail from "./pages/clue.js";
import Warnings from "./pages/warnings.js";
import Connectors from "./pages/connectors.js";
import System from "./pages/system.js";
import Writebacks from "./pages/writebacks.js";

// `needs`: the policy-table action without which the API refuses the page's data (the menu leaves it out)
const PAGES = [
  { path: "/", nav: "dashboard", component: Dashboard },
  { path: "/clues", nav: "clues", component: Clues },
  { path: "/warnings", nav: "warnings", component: Warnings },
  { path: "/connectors", nav: "connectors", component: Connectors, needs: "admin.read" },
  { path: "/writebacks", nav: "writebacks", component: Writebacks, needs: "admin.read" },
  { path: "/system", nav: "system", component: System, needs: "admin.read" },
];

const Layout = {
  setup() {
    const current = computed(() => {
      if (route.path.startsWith("/clue/")) return { nav: "clues", component: ClueDetail, key: route.path };
      const page = PAGES.find((p) => p.path === route.path) || PAGES[0];
      return { ...page, key: page.path };
    });
    const locale = computed(() => (i18n.locale === "en" ? en : zhCn));
    const toggleLocale = () => setLocale(i18n.locale === "en" ? "zh-CN" : "en");
    const pages = computed(() => PAGES.filter((p) => !p.needs || may(p.needs)));
    return { session, current, locale, t, href, pages, toggleLocale, signOut, i18n };
  },
  template: `
  <el-config-provider :locale="locale">
    <div v-if="!session.ready" class="hub-loading">{{ t('common.loading') }}</div>
    <SignIn v-else-if="!session.user && !session.expiredAt" />
    <el-container v-else class="hub-shell">
      <div v-if="!session.user" class="hub-overlay"><SignIn /></div>
      <el-aside width="180px" class="hub-aside">
        <div class="hub-brand">{{ t('app.title') }}<small>{{ t('app.subtitle') }}</small></div>
        <nav class="hub-nav" data-test="nav">
          <a v-for="p in pages" :key="p.nav" :href="href(p.path)" :class="{active: current.nav === p.nav}" :data-nav="p.nav">{{ t('nav.' + p.nav) }}</a>
        </nav>
      </el-aside>
      <el-container>
        <el-header class="hub-header" height="48px">
          <span class="hub-page-title">{{ t('nav.' + current.nav) }}</span>
          <span class="hub-spacer"></span>
          <span v-if="session.user" class="hub-user" data-test="user">{{ session.user.displayName }} · {{ t('roles.' + session.user.role) }} · {{ session.user.regionCode }}<template v-if="session.mode === 'key'"> · {{ t('app.keyMode') }}</template></span>
          <el-button size="small" text data-test="locale" @click="toggleLocale">{{ t('app.language') }}</el-button>
          <el-button v-if="session.mode === 'session' || session.linkKey" size="small" text data-test="sign-out" @click="signOut">{{ t('app.signOut') }}</el-button>
        </el-header>
        <el-main class="hub-main">
          <component :is="current.component" :key="current.key + '|' + i18n.locale" />
        </el-main>
      </el-container>
    </el-container>
  </el-config-provider>`,
};

setLocale(i18n.locale);
const app = createApp({ render: () => h(Layout) });
app.use(ElementPlus, { locale: zhCn });
app.component("SignIn", SignIn);
app.mount("#app");
boot();

// 登录: username and password to POST /admin/api/sign-in; the API's refusal (wrong password, locked
// account …) is shown as it says, in Chinese by its code; a locked account's with its unlock time
// (extensions.lockedUntil) in China time.
import { reactive } from "vue";
import { t } from "../i18n.js";
import { session, signIn } from "../session.js";
import { formatDateTime } from "../util.js";

// Kept at module level, so that a session that expires mid-form keeps what was typed elsewhere: the
// page under the sign-in form is not destroyed, only hidden until the user is back.
const form = reactive({ username: "", password: "", error: "", busy: false });

export default {
  setup() {
    async function submit() {
      form.error = "";
      if (!form.username || !form.password) {
        form.error = t("signin.required");
        return;
      }
      form.busy = true;
      try {
        const refusal = await signIn(form.username, form.password);
        const lockedUntil = refusal && refusal.code === "ACCOUNT_LOCKED" && refusal.extensions && refusal.extensions.lockedUntil;
        if (lockedUntil) {
          form.error = t("signin.locked", { at: formatDateTime(lockedUntil) });
        } else if (refusal) {
          const known = t(`errors.${refusal.code}`);
          form.error = known === `errors.${refusal.code}` ? refusal.message : `${known}：${refusal.message}`;
        } else {
          form.password = "";
        }
      } finally {
        form.busy = false;
      }
    }
    return { form, submit, session, t };
  },
  template: `
  <div class="hub-signin" data-test="signin">
    <h2>{{ t('app.title') }} · {{ t('signin.title') }}</h2>
    <el-alert v-if="session.expiredAt" type="warning" :closable="false" :title="t('signin.expired')" style="margin-bottom:12px" />
    <el-alert v-if="session.signInAvailable === false" type="info" :closable="false" :title="t('signin.unavailable')" style="margin-bottom:12px" />
    <el-form label-position="top" @submit.prevent="submit">
      <el-form-item :label="t('signin.username')"><el-input v-model="form.username" name="username" autocomplete="username" /></el-form-item>
      <el-form-item :label="t('signin.password')"><el-input v-model="form.password" name="password" type="password" autocomplete="current-password" show-password /></el-form-item>
      <div v-if="form.error" class="hub-error" data-test="signin-error">{{ form.error }}</div>
      <el-button type="primary" native-type="submit" :loading="form.busy" data-test="signin-submit" style="width:100%;margin-top:8px">{{ t('signin.submit') }}</el-button>
    </el-form>
  </div>`,
};

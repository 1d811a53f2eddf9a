// A form generated from a connector kind's JSON Schema (pydantic's): one input per property, checked
// as the schema says (required, type, bounds, length) before sending; secret properties (`secret: true`)
// are write-only: an input that is never filled from the server, shown as 已设置 when one is stored.

/** The property's own schema: `anyOf: [X, {type: null}]` (an optional X) becomes X, nullable. */
export function plain(prop) {
  if (prop.anyOf) {
    const inner = prop.anyOf.find((p) => p.type !== "null");
    return { ...prop, ...inner, nullable: true };
  }
  return prop;
}

/** The fields of `schema`, in its order: {name, title, description, type, required, secret, ...}. */
export function fieldsOf(schema) {
  const required = new Set(schema.required || []);
  return Object.entries(schema.properties || {}).map(([name, raw]) => {
    const p = plain(raw);
    return {
      name, title: p.title || name, description: p.description || "", type: p.type || "string",
      format: p.format, enum: p.enum, default: p.default, required: required.has(name), secret: !!p.secret,
      minimum: p.minimum, maximum: p.maximum, exclusiveMinimum: p.exclusiveMinimum, minLength: p.minLength,
    };
  });
}

/** Initial values: the stored config (public fields only), else the schema's defaults. */
export function initialValues(fields, config = {}) {
  const out = {};
  for (const f of fields) {
    if (f.secret) out[f.name] = "";
    else if (config[f.name] !== undefined && config[f.name] !== null) out[f.name] = f.type === "boolean" ? !!config[f.name] : String(config[f.name]);
    else if (f.default !== undefined && f.default !== null) out[f.name] = f.type === "boolean" ? !!f.default : String(f.default);
    else out[f.name] = f.type === "boolean" ? false : "";
  }
  return out;
}

/** Check the values as the schema says; field → message (Chinese, naming the value). `keepSecrets`:
 *  an empty secret keeps the stored one (editing), so it is not required then. */
export function check(fields, values, { keepSecrets = false } = {}) {
  const errors = {};
  for (const f of fields) {
    const v = values[f.name];
    const empty = v === "" || v === null || v === undefined;
    if (empty) {
      if (f.required && !(f.secret && keepSecrets)) errors[f.name] = `${f.title}：必填`;
      continue;
    }
    if (f.type === "integer" || f.type === "number") {
      const n = Number(v);
      if (Number.isNaN(n) || (f.type === "integer" && !Number.isInteger(n))) errors[f.name] = `${f.title}：应为${f.type === "integer" ? "整数" : "数字"}，得到 ${v}`;
      else if (f.minimum !== undefined && n < f.minimum) errors[f.name] = `${f.title}：不能小于 ${f.minimum}，得到 ${v}`;
      else if (f.maximum !== undefined && n > f.maximum) errors[f.name] = `${f.title}：不能大于 ${f.maximum}，得到 ${v}`;
      else if (f.exclusiveMinimum !== undefined && n <= f.exclusiveMinimum) errors[f.name] = `${f.title}：应大于 ${f.exclusiveMinimum}，得到 ${v}`;
    } else if (f.type === "string") {
      if (f.minLength && String(v).length < f.minLength) errors[f.name] = `${f.title}：至少 ${f.minLength} 个字符`;
      if (f.format === "date" && !/^\d{4}-\d{2}-\d{2}$/.test(String(v))) errors[f.name] = `${f.title}：应为日期 YYYY-MM-DD，得到 ${v}`;
    }
  }
  return errors;
}

/** {config, secrets} to send: typed values, empty optional fields left out (secrets only when typed). */
export function payload(fields, values) {
  const config = {};
  const secrets = {};
  for (const f of fields) {
    const v = values[f.name];
    if (v === "" || v === null || v === undefined) continue;
    const typed = f.type === "integer" || f.type === "number" ? Number(v) : v;
    (f.secret ? secrets : config)[f.name] = typed;
  }
  return { config, secrets };
}

export const SchemaFields = {
  props: { fields: Array, values: Object, errors: Object, hasSecrets: Boolean, secretLabel: String },
  template: `
  <el-form-item v-for="f in fields" :key="f.name" :label="f.title" :required="f.required && !(f.secret && hasSecrets)" :error="errors[f.name] || ''" :data-field="f.name">
    <el-switch v-if="f.type === 'boolean'" v-model="values[f.name]" :data-input="f.name" />
    <el-select v-else-if="f.enum" v-model="values[f.name]" :data-input="f.name" style="width:100%"><el-option v-for="e in f.enum" :key="e" :value="e" :label="e" /></el-select>
    <el-input v-else v-model="values[f.name]" :type="f.secret ? 'password' : 'text'" :show-password="f.secret" autocomplete="off"
      :placeholder="f.secret && hasSecrets ? secretLabel : (f.description || '')" :data-input="f.name" />
  </el-form-item>`,
};

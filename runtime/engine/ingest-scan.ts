/**
 * A validating scanner compiled from a source's JSON Schema: it reads a record's JSON text once, checks
 * it against the schema without building objects, and notes where the top-level fields ingest needs
 * (event id, event time, tenant) hold their string values. JSON.parse and ajv cost several times more,
 * in work and in garbage, and most records are valid.
 *
 * The scanner only ever answers "valid" for text that JSON.parse reads and ajv accepts; it answers
 * "not sure" for everything else: invalid records, but also whatever it does not handle (a string with an
 * escape, a repeated key, a number beyond a double). Ingest then parses the record and asks ajv, which
 * gives the verdict and its reason. A schema with a keyword the scanner does not know gets no scanner.
 *
 * Like ajv, it is compiled to JavaScript source (one function per schema node), which V8 optimises far
 * better than a tree of closures.
 */
import type { Format } from "ajv";
import addFormatsModule from "ajv-formats";
import { isDate, isDateTime, isUuid } from "./ingest-formats.ts";

export interface Scanner {
  /**
   * Whether `text[from, to)` (without escapes: ingest checks there is no backslash) is one JSON value valid
   * against the schema. After true, `starts[i]`/`ends[i]` delimit the string value of captured field i in
   * `text`, or are -1 when the field is absent or not a string. `text` is best a whole block's string:
   * characters of a slice cost more to read.
   */
  scan(text: string, from: number, to: number): boolean;
  readonly starts: Int32Array;
  readonly ends: Int32Array;
}

type FormatsMode = "fast" | "full";

interface Schema {
  readonly [keyword: string]: unknown;
}

/** Keywords that say nothing about validity. */
const ANNOTATIONS = new Set(["title", "description", "default", "examples", "$comment", "readOnly", "writeOnly", "deprecated"]);

class Unsupported extends Error {}

function unsupported(why: string): never {
  throw new Unsupported(why);
}

// ---------------------------------------------------------------------------------------------------------
// Helpers the generated code calls: each takes the text, a position and the record's end, and returns
// the position after what it read, or -1.

function ws(t: string, p: number, n: number): number {
  while (p < n) {
    const c = t.charCodeAt(p);
    if (c === 32 || c === 10 || c === 13 || c === 9) p++;
    else break;
  }
  return p;
}

/** A string token without control characters. */
function anyString(t: string, p: number, n: number): number {
  if (p >= n || t.charCodeAt(p) !== 34) return -1;
  const b = t.indexOf('"', p + 1);
  if (b < 0 || b >= n) return -1;
  for (let i = p + 1; i < b; i++) if (t.charCodeAt(i) < 32) return -1;
  return b + 1;
}

/**
 * A number token (JSON grammar). Sets `integral` when it has no fraction and no exponent, and then
 * `integerValue` to its value (exact below 2^53, which tokens of up to 15 digits are).
 */
let integral = false;
let integerValue = 0;
function numberToken(t: string, p: number, n: number): number {
  const negative = t.charCodeAt(p) === 45;
  if (negative) p++;
  let c = t.charCodeAt(p);
  let value = 0;
  if (c === 48) {
    p++;
  } else if (c >= 49 && c <= 57) {
    for (; c >= 48 && c <= 57; c = t.charCodeAt(++p)) value = value * 10 + (c - 48);
  } else {
    return -1;
  }
  integral = true;
  integerValue = negative ? -value : value;
  if (t.charCodeAt(p) === 46) {
    integral = false;
    c = t.charCodeAt(++p);
    if (!(c >= 48 && c <= 57)) return -1;
    for (; c >= 48 && c <= 57; c = t.charCodeAt(++p));
  }
  c = t.charCodeAt(p);
  if (c === 101 || c === 69) {
    integral = false;
    c = t.charCodeAt(++p);
    if (c === 43 || c === 45) c = t.charCodeAt(++p);
    if (!(c >= 48 && c <= 57)) return -1;
    for (; c >= 48 && c <= 57; c = t.charCodeAt(++p));
  }
  return p > n ? -1 : p;
}

function word(t: string, p: number, n: number, w: string): number {
  if (p + w.length > n) return -1;
  for (let i = 0; i < w.length; i++) if (t.charCodeAt(p + i) !== w.charCodeAt(i)) return -1;
  return p + w.length;
}

/** Any JSON value: a schema without constraints, or an additional property that is allowed. */
function anyValue(t: string, p: number, n: number): number {
  const c = t.charCodeAt(p);
  if (c === 34) return anyString(t, p, n);
  if (c === 123 || c === 91) {
    const close = c === 123 ? 125 : 93;
    p = ws(t, p + 1, n);
    if (t.charCodeAt(p) === close) return p + 1;
    for (;;) {
      if (c === 123) {
        // Keys of an object nothing constrains: a repeated one changes nothing a schema looks at.
        p = anyString(t, p, n);
        if (p < 0) return -1;
        p = ws(t, p, n);
        if (t.charCodeAt(p) !== 58) return -1;
        p = ws(t, p + 1, n);
      }
      p = anyValue(t, p, n);
      if (p < 0) return -1;
      p = ws(t, p, n);
      const next = t.charCodeAt(p++);
      if (next === close) return p;
      if (next !== 44) return -1;
      p = ws(t, p, n);
    }
  }
  if (c === 116) return word(t, p, n, "true");
  if (c === 102) return word(t, p, n, "false");
  if (c === 110) return word(t, p, n, "null");
  return numberToken(t, p, n);
}

/** Unicode code points in t[a, b), as ajv counts string lengths. */
function codePoints(t: string, a: number, b: number): number {
  let count = b - a;
  for (let i = a; i < b; i++) {
    const c = t.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) count--;
  }
  return count;
}

function isIntegral(): boolean {
  return integral;
}

function lastInteger(): number {
  return integerValue;
}

// ---------------------------------------------------------------------------------------------------------
// Code generation

type AddFormats = { get(name: string, mode: FormatsMode): Format };
const formatsPlugin: AddFormats =
  (addFormatsModule as unknown as { default?: AddFormats }).default ?? (addFormatsModule as unknown as AddFormats);

/** A check of t[a, b). */
type RangeCheck = (t: string, a: number, b: number) => boolean;

/** The formats that exclude control characters by themselves. */
const OWN_FORMATS: Record<string, RangeCheck> = { "date-time": isDateTime, date: isDate, uuid: isUuid };

function formatCheck(name: string, mode: FormatsMode): RangeCheck {
  // The same checks compileSourceSchema gives ajv.
  const own = OWN_FORMATS[name];
  if (own) return own;
  let format: Format;
  try {
    format = formatsPlugin.get(name, mode);
  } catch {
    unsupported(`format ${name}`);
  }
  const f = typeof format === "object" && !(format instanceof RegExp) ? format : { validate: format };
  if ("async" in f && f.async) unsupported(`async format ${name}`);
  if ("type" in f && f.type !== undefined && f.type !== "string") unsupported(`format ${name} of ${f.type}`);
  const v = f.validate;
  if (v instanceof RegExp) return (t, a, b) => v.test(t.slice(a, b));
  if (typeof v === "function") return (t, a, b) => (v as (s: string) => boolean)(t.slice(a, b)) === true;
  if (typeof v === "string") {
    const re = new RegExp(v, "u");
    return (t, a, b) => re.test(t.slice(a, b));
  }
  return () => true;
}

function only(schema: Schema, allowed: readonly string[]): void {
  for (const k of Object.keys(schema)) {
    if (!allowed.includes(k) && !ANNOTATIONS.has(k)) unsupported(`keyword ${k}`);
  }
}

function bound(schema: Schema, key: string): number | undefined {
  const v = schema[key];
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) unsupported(`${key} ${JSON.stringify(v)}`);
  return v;
}

const NEEDS_ESCAPE = /[\u0000-\u001f"\\]/;

/**
 * Code comparing t[at + i] with each character of `text`: inline comparisons, which V8 optimises well
 * (String.prototype.startsWith with a position is a builtin call with checks).
 */
function equalsAt(text: string, at: string): string {
  if (text.length === 0) return "true";
  return [...text].map((_, i) => `t.charCodeAt(${at} + ${i}) === ${text.charCodeAt(i)}`).join(" && ");
}

class Generator {
  readonly functions: string[] = [];
  /** Values the generated code reaches as h[i]. */
  readonly helpers: unknown[] = [];
  readonly #formats: FormatsMode;

  constructor(formats: FormatsMode) {
    this.#formats = formats;
  }

  helper(value: unknown): string {
    this.helpers.push(value);
    return `h[${this.helpers.length - 1}]`;
  }

  /** Emits the function matching `schemaValue` and returns its name. */
  node(schemaValue: unknown, captures?: readonly string[]): string {
    if (typeof schemaValue !== "object" || schemaValue === null || Array.isArray(schemaValue)) {
      unsupported("boolean or non-object schema");
    }
    const schema = schemaValue as Schema;
    const name = `m${this.functions.length}`;
    this.functions.push("");
    this.functions[this.functions.length - 1] = `function ${name}(t, p, n) {\n${this.#body(schema, captures)}\n}`;
    return name;
  }

  #body(schema: Schema, captures?: readonly string[]): string {
    if (schema["anyOf"] !== undefined) {
      only(schema, ["anyOf"]);
      const branches = schema["anyOf"];
      if (!Array.isArray(branches) || branches.length === 0) unsupported("anyOf");
      return this.#alternatives(branches.map((b) => this.node(b)));
    }
    const type = schema["type"];
    if (Array.isArray(type)) {
      // ["string", "null"]: one branch per type, the other keywords with each.
      return this.#alternatives(type.map((t) => this.node({ ...schema, type: t })));
    }
    switch (type) {
      case "object":
        return this.#object(schema, captures);
      case "string":
        return this.#string(schema);
      case "integer":
      case "number":
        return this.#number(schema, type === "integer");
      case "boolean":
        only(schema, ["type"]);
        return `return t.charCodeAt(p) === 116 ? word(t, p, n, "true") : word(t, p, n, "false");`;
      case "null":
        only(schema, ["type"]);
        return `return word(t, p, n, "null");`;
      case "array":
        return this.#array(schema);
      case undefined:
        only(schema, []);
        return "return anyValue(t, p, n);";
      default:
        return unsupported(`type ${String(type)}`);
    }
  }

  #alternatives(names: string[]): string {
    return `let q;\n${names.map((m) => `q = ${m}(t, p, n); if (q >= 0) return q;`).join("\n")}\nreturn -1;`;
  }

  #string(schema: Schema): string {
    only(schema, ["type", "format", "pattern", "enum", "const", "minLength", "maxLength"]);
    const checks: string[] = [];
    // A format of ours or a set of values excludes control characters; otherwise they are looked for.
    let strict = true;
    const values = schema["enum"] ?? (schema["const"] === undefined ? undefined : [schema["const"]]);
    if (values !== undefined) {
      if (!Array.isArray(values) || values.some((v) => typeof v !== "string")) unsupported("enum of non-strings");
      const list = values as string[];
      if (list.some((v) => NEEDS_ESCAPE.test(v))) unsupported("enum value with characters to escape");
      const alternatives = list.map((v) => `(b - a === ${v.length} && ${equalsAt(v, "a")})`);
      checks.push(`if (!(${alternatives.join(" || ") || "false"})) return -1;`);
      strict = false;
    }
    const format = schema["format"];
    if (format !== undefined) {
      if (typeof format !== "string") unsupported("format");
      checks.push(`if (!${this.helper(formatCheck(format, this.#formats))}(t, a, b)) return -1;`);
      if (format in OWN_FORMATS) strict = false;
    }
    if (schema["pattern"] !== undefined) {
      if (typeof schema["pattern"] !== "string") unsupported("pattern");
      // As ajv: a unicode regular expression.
      checks.push(`if (!${this.helper(new RegExp(schema["pattern"], "u"))}.test(t.slice(a, b))) return -1;`);
    }
    const min = bound(schema, "minLength");
    const max = bound(schema, "maxLength");
    if (min !== undefined || max !== undefined) {
      checks.push("const length = codePoints(t, a, b);");
      if (min !== undefined) checks.push(`if (length < ${min}) return -1;`);
      if (max !== undefined) checks.push(`if (length > ${max}) return -1;`);
    }
    return [
      "if (p >= n || t.charCodeAt(p) !== 34) return -1;",
      "const a = p + 1;",
      `const b = t.indexOf('"', a);`,
      "if (b < 0 || b >= n) return -1;",
      strict ? "for (let i = a; i < b; i++) if (t.charCodeAt(i) < 32) return -1;" : "",
      ...checks,
      "return b + 1;",
    ].join("\n");
  }

  #number(schema: Schema, integer: boolean): string {
    only(schema, ["type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"]);
    const tests = [
      ["minimum", ">="],
      ["maximum", "<="],
      ["exclusiveMinimum", ">"],
      ["exclusiveMaximum", "<"],
    ]
      .map(([key, op]) => [bound(schema, key!), op] as const)
      .filter(([v]) => v !== undefined)
      .map(([v, op]) => `if (!(v ${op} ${v})) return -1;`);
    const lines = ["const e = numberToken(t, p, n);", "if (e < 0) return -1;"];
    // Short integral tokens are exact as they were read; anything else is converted, as JSON.parse does.
    lines.push(
      "let v;",
      "if (isIntegral() && e - p < 16) v = lastInteger();",
      integer ? "else {" : "else if (true) {",
      "  v = Number(t.slice(p, e));",
      // Beyond a double ("1e400"): ajv has its own view of Infinity; let it decide.
      "  if (!Number.isFinite(v)) return -1;",
      "}",
    );
    if (integer) lines.push("if (!Number.isInteger(v)) return -1;");
    lines.push(...tests, "return e;");
    return lines.join("\n");
  }

  #array(schema: Schema): string {
    only(schema, ["type", "items", "minItems", "maxItems"]);
    const items = schema["items"] === undefined ? "anyValue" : this.node(schema["items"]);
    const min = bound(schema, "minItems");
    const max = bound(schema, "maxItems");
    return [
      "if (t.charCodeAt(p) !== 91) return -1;",
      "p = ws(t, p + 1, n);",
      "let count = 0;",
      "if (t.charCodeAt(p) === 93) { p++; } else for (;;) {",
      `  p = ${items}(t, p, n);`,
      "  if (p < 0) return -1;",
      "  count++;",
      "  p = ws(t, p, n);",
      "  const next = t.charCodeAt(p++);",
      "  if (next === 93) break;",
      "  if (next !== 44) return -1;",
      "  p = ws(t, p, n);",
      "}",
      min === undefined ? "" : `if (count < ${min}) return -1;`,
      max === undefined ? "" : `if (count > ${max}) return -1;`,
      "return p;",
    ].join("\n");
  }

  #object(schema: Schema, captures?: readonly string[]): string {
    only(schema, ["type", "properties", "required", "additionalProperties"]);
    const properties = (schema["properties"] ?? {}) as Record<string, unknown>;
    if (typeof properties !== "object" || properties === null) unsupported("properties");
    const names = Object.keys(properties);
    if (names.length > 30) unsupported("more than 30 properties");
    if (names.some((k) => NEEDS_ESCAPE.test(k))) unsupported("property name with characters to escape");
    const matchers = names.map((k) => this.node(properties[k]));
    const additional = schema["additionalProperties"];
    if (additional !== undefined && typeof additional !== "boolean") unsupported("additionalProperties schema");
    const required = (schema["required"] ?? []) as unknown[];
    if (!Array.isArray(required)) unsupported("required");
    let requiredMask = 0;
    for (const r of required) {
      const i = names.indexOf(r as string);
      if (i < 0) unsupported(`required ${String(r)} without a property schema`);
      requiredMask |= 1 << i;
    }
    // Which key is it: by length, then by text.
    const byLength = new Map<number, number[]>();
    names.forEach((k, i) => byLength.set(k.length, [...(byLength.get(k.length) ?? []), i]));
    const keyCases = [...byLength].map(
      ([length, indices]) =>
        `case ${length}: ${indices.map((i) => `if (${equalsAt(names[i]!, "a")}) k = ${i}; else `).join("")}{} break;`,
    );
    const valueCases = names.map((_, i) => {
      const slot = captures?.indexOf(names[i]!) ?? -1;
      const capture =
        slot < 0
          ? ""
          : `if (t.charCodeAt(p) === 34) { S[${slot}] = p + 1; E[${slot}] = q - 1; } else { S[${slot}] = -1; E[${slot}] = -1; }`;
      return [
        `case ${i}:`,
        // A repeated key: JSON.parse keeps the last value; let ajv judge that one.
        `  if (seen & ${1 << i}) return -1;`,
        `  seen |= ${1 << i};`,
        `  q = ${matchers[i]}(t, p, n);`,
        "  if (q < 0) return -1;",
        `  ${capture}`,
        "  p = q;",
        "  break;",
      ].join("\n");
    });
    return [
      "if (t.charCodeAt(p) !== 123) return -1;",
      "p = ws(t, p + 1, n);",
      "let seen = 0;",
      "let q;",
      "if (t.charCodeAt(p) === 125) { p++; } else for (;;) {",
      "  const a = p + 1;",
      "  p = anyString(t, p, n);",
      "  if (p < 0) return -1;",
      "  let k = -1;",
      `  switch (p - 1 - a) {\n${keyCases.join("\n")}\n  }`,
      "  p = ws(t, p, n);",
      "  if (t.charCodeAt(p) !== 58) return -1;",
      "  p = ws(t, p + 1, n);",
      "  switch (k) {",
      ...valueCases,
      "  default:",
      additional === false ? "    return -1;" : "    p = anyValue(t, p, n); if (p < 0) return -1;",
      "  }",
      "  p = ws(t, p, n);",
      "  const next = t.charCodeAt(p++);",
      "  if (next === 125) break;",
      "  if (next !== 44) return -1;",
      "  p = ws(t, p, n);",
      "}",
      `if ((seen & ${requiredMask}) !== ${requiredMask}) return -1;`,
      "return p;",
    ].join("\n");
  }
}

/**
 * The scanner of an object schema, capturing the string values of the top-level fields `captures`;
 * undefined when the schema uses something the scanner does not handle (then every record goes through
 * JSON.parse and ajv).
 */
export function compileScanner(schema: object, captures: readonly string[], formats: FormatsMode): Scanner | undefined {
  const gen = new Generator(formats);
  let root: string;
  try {
    if ((schema as Schema)["type"] !== "object") unsupported("a root that is not an object");
    root = gen.node(schema, captures);
  } catch (e) {
    if (e instanceof Unsupported) return undefined;
    throw e;
  }
  const starts = new Int32Array(captures.length);
  const ends = new Int32Array(captures.length);
  const source = `"use strict";
${gen.functions.join("\n")}
return function scan(t, from, to) {
  S.fill(-1);
  E.fill(-1);
  let p = ws(t, from, to);
  p = ${root}(t, p, to);
  return p >= 0 && ws(t, p, to) === to;
};`;
  const factory = new Function(
    "h",
    "S",
    "E",
    "ws",
    "anyString",
    "numberToken",
    "isIntegral",
    "lastInteger",
    "word",
    "anyValue",
    "codePoints",
    source,
  );
  const scan = factory(
    gen.helpers,
    starts,
    ends,
    ws,
    anyString,
    numberToken,
    isIntegral,
    lastInteger,
    word,
    anyValue,
    codePoints,
  ) as Scanner["scan"];
  return { scan, starts, ends };
}

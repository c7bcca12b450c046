/** Row validation against an asset's JSON Schema: one ajv instance, each schema compiled once. */
import { Ajv, type ValidateFunction } from "ajv";
import * as formats from "ajv-formats";

// ajv-formats is CommonJS: its plugin is the default export.
const addFormats = formats.default as unknown as (ajv: Ajv) => Ajv;

let shared: Ajv | undefined;

/** The shared ajv instance: strict mode off (TypeBox adds keywords ajv does not know), formats on. */
export function ajv(): Ajv {
  if (!shared) {
    shared = new Ajv({ strict: false, allErrors: false });
    addFormats(shared);
  }
  return shared;
}

const compiled = new WeakMap<object, ValidateFunction>();

/** The compiled validator of a schema, compiled on first use. */
export function compileSchema(schema: object): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) {
    v = ajv().compile(schema);
    compiled.set(schema, v);
  }
  return v;
}

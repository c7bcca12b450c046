/**
 * The official OpenLineage schemas (shared/specs/openlineage beside this repository: OpenLineage.json
 * and every facets/*.json) in one Ajv (draft 2020-12), and `problems(event)`: what is wrong with an event.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv2020, type ErrorObject } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import {
  type Facet,
  PARTITIONS_FACET_SCHEMA,
  RUN_EVENT_SCHEMA_URL,
  type RunEvent,
} from "../../src/runtime/openlineage/events.ts";

export const SPEC_DIR =
  process.env.OPENLINEAGE_SPEC_DIR ??
  fileURLToPath(new URL("../../../shared/specs/openlineage", import.meta.url));
if (!existsSync(join(SPEC_DIR, "OpenLineage.json"))) {
  throw new Error(
    `the OpenLineage spec is not at ${SPEC_DIR}: it is read from shared/specs/openlineage beside the repository (or $OPENLINEAGE_SPEC_DIR)`,
  );
}
export const FACET_FILES = readdirSync(join(SPEC_DIR, "facets")).sort();
interface SchemaFile {
  $id: string;
  $defs: Record<string, unknown>;
  properties: Record<string, { $ref: string }>;
}
export const loadJson = (path: string) => JSON.parse(readFileSync(path, "utf8")) as SchemaFile;

export const ajv = new Ajv2020({ allErrors: true });
// The spec annotates its schemas with "example", which is no JSON Schema keyword: strict mode needs it declared.
ajv.addKeyword("example");
addFormats.default(ajv);
ajv.addSchema(loadJson(join(SPEC_DIR, "OpenLineage.json")));
/** Each facet file's root schema by $id: its `properties` name the facet it defines. */
const facetFiles = new Map<string, SchemaFile>();
for (const file of FACET_FILES) {
  const schema = loadJson(join(SPEC_DIR, "facets", file));
  ajv.addSchema(schema);
  facetFiles.set(schema.$id, schema);
}
ajv.addSchema(PARTITIONS_FACET_SCHEMA);
facetFiles.set(PARTITIONS_FACET_SCHEMA.$id, PARTITIONS_FACET_SCHEMA as unknown as SchemaFile);

const describeErrors = (where: string, errors: ErrorObject[] | null | undefined) =>
  (errors ?? []).map((e) => `${where}${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);

/** Every facet of an event with where it sits, e.g. "outputs[0].outputFacets.outputStatistics". */
function facetsOf(event: RunEvent): { where: string; name: string; facet: Facet }[] {
  const out: { where: string; name: string; facet: Facet }[] = [];
  const add = (where: string, facets: Readonly<Record<string, Facet>> | undefined) => {
    for (const [name, facet] of Object.entries(facets ?? {}))
      out.push({ where: `${where}.${name}`, name, facet });
  };
  add("run.facets", event.run.facets);
  add("job.facets", event.job.facets);
  event.inputs.forEach((d, i) => {
    add(`inputs[${i}].facets`, d.facets);
    add(`inputs[${i}].inputFacets`, d.inputFacets);
  });
  event.outputs.forEach((d, i) => {
    add(`outputs[${i}].facets`, d.facets);
    add(`outputs[${i}].outputFacets`, d.outputFacets);
  });
  return out;
}

/**
 * What is wrong with an event: against RunEvent and the whole OpenLineage.json; then each facet against
 * the definition its `_schemaURL` names, and, under its name, against its facet file's root schema
 * (whose `properties` list the facet's name, so "nominalTime" must carry NominalTimeRunFacet).
 */
export function problems(event: RunEvent): string[] {
  const out: string[] = [];
  const runEvent = ajv.getSchema(RUN_EVENT_SCHEMA_URL)!;
  if (!runEvent(event)) out.push(...describeErrors("RunEvent", runEvent.errors));
  const whole = ajv.getSchema("https://openlineage.io/spec/2-0-2/OpenLineage.json")!;
  if (!whole(event)) out.push(...describeErrors("OpenLineage.json", whole.errors));
  for (const { where, name, facet } of facetsOf(event)) {
    const definition = ajv.getSchema(facet._schemaURL);
    if (!definition) {
      out.push(`${where}: no schema at ${facet._schemaURL}`);
      continue;
    }
    if (!definition(facet)) out.push(...describeErrors(where, definition.errors));
    const id = facet._schemaURL.split("#")[0]!;
    if (!(name in (facetFiles.get(id)?.properties ?? {}))) {
      out.push(`${where}: ${id} does not define a facet named "${name}"`);
      continue;
    }
    const file = ajv.getSchema(id)!;
    if (!file({ [name]: facet })) out.push(...describeErrors(`${where} as "${name}"`, file.errors));
  }
  return out;
}

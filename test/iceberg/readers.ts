/**
 * Independent views of a table, for tests: icebird (an Iceberg reader of its own, on hyparquet) given
 * only the table's location, and the REST catalog OpenAPI's `TableMetadata` schema to validate metadata
 * files against. Rows of every reader are compared as sorted sets of their JSON, each value normalised
 * by its Iceberg type (readers disagree on how to hand back a long, a date or a timestamp).
 */
import { open, readFile, stat } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { Ajv2020 } from "ajv/dist/2020.js";
import { icebergRead } from "icebird";
import { parse } from "yaml";
import type { IcebergStruct, IcebergType } from "../../src/contract/table-schema.ts";
import type { TableMetadata } from "../../src/runtime/iceberg/metadata.ts";

const SPECS = fileURLToPath(new URL("../../../shared/specs/iceberg/", import.meta.url));

let installed = false;

/**
 * icebird reads through the global `fetch`, which has no file: scheme in Node: answer file:// URLs from
 * disk (HEAD with the length, GET with a Range as 206, 404 when missing), everything else as before.
 */
export function installFileFetch(): void {
  if (installed) return;
  installed = true;
  const real = globalThis.fetch;
  globalThis.fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    if (!url.startsWith("file:")) return real(input, init);
    const path = fileURLToPath(url);
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch {
      return new Response("not found", { status: 404, statusText: "Not Found" });
    }
    if ((init?.method ?? "GET") === "HEAD") {
      return new Response(null, { status: 200, headers: { "Content-Length": String(size) } });
    }
    const range = /^bytes=(\d+)-(\d*)$/.exec(new Headers(init?.headers).get("Range") ?? "");
    if (!range) return new Response(await readFile(path), { status: 200 });
    const start = Number(range[1]);
    const end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
    const fh = await open(path, "r");
    try {
      const buf = Buffer.alloc(end - start + 1);
      await fh.read(buf, 0, buf.length, start);
      return new Response(buf, { status: 206, headers: { "Content-Length": String(buf.length) } });
    } finally {
      await fh.close();
    }
  }) as typeof fetch;
}

/** A value as one text whatever reader produced it, by its Iceberg type. */
export function normalised(v: unknown, t: IcebergType): unknown {
  if (v === null || v === undefined) return null;
  if (typeof t === "string") {
    switch (t) {
      case "long":
        return String(v);
      case "double":
        return Number(v);
      case "date":
        return v instanceof Date ? v.toISOString().slice(0, 10) : String(v).slice(0, 10);
      case "timestamptz":
        // hyparquet makes a Date of µs: compare at ms.
        return (
          v instanceof Date ? v : new Date(String(v).replace(" ", "T").replace(/\+00$/, "Z"))
        ).toISOString();
      default:
        return v;
    }
  }
  if (t.type === "list") return (v as unknown[]).map((x) => normalised(x, t.element));
  const o = v as Record<string, unknown>;
  return Object.fromEntries(t.fields.map((f) => [f.name, normalised(o[f.name], f.type)]));
}

/** Rows as sorted JSON texts, normalised by `schema`. */
export function rowSet(rows: readonly Record<string, unknown>[], schema: IcebergStruct): string[] {
  return rows.map((r) => JSON.stringify(normalised(r, schema))).sort();
}

/** The current metadata of a table as a reader that trusts version-hint.text finds it. */
export async function hintedMetadata(location: string): Promise<TableMetadata> {
  const root = fileURLToPath(location);
  const hint = (await readFile(`${root}/metadata/version-hint.text`, "utf8")).trim();
  return JSON.parse(await readFile(`${root}/metadata/v${hint}.metadata.json`, "utf8")) as TableMetadata;
}

/**
 * What icebird reads at `location` (through version-hint.text, as it opens a table), or as of a
 * snapshot (given the metadata with another current snapshot), as sorted normalised rows.
 */
export async function icebirdRows(location: string, asOf?: { snapshot: number }): Promise<string[]> {
  installFileFetch();
  const metadata = await hintedMetadata(location);
  const at = asOf ? { ...metadata, "current-snapshot-id": asOf.snapshot } : metadata;
  const snapshot = at.snapshots.find((s) => s["snapshot-id"] === at["current-snapshot-id"]);
  const schema =
    metadata.schemas.find((s) => s["schema-id"] === snapshot?.["schema-id"]) ?? metadata.schemas[0]!;
  if (!snapshot) return [];
  const rows = await icebergRead({ tableUrl: location, metadata: at as never });
  return rowSet(rows, schema);
}

/** A validator of metadata files: the REST catalog OpenAPI document's `TableMetadata`, with every $ref. */
export async function tableMetadataValidator(): Promise<(m: unknown) => string[]> {
  const doc = parse(await readFile(`${SPECS}rest-catalog-open-api.yaml`, "utf8")) as Record<string, unknown>;
  // OpenAPI 3.1 is JSON Schema 2020-12; its own keywords (discriminator, example) need strict off, and
  // "int64" is no JSON Schema format.
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema({ ...doc, $id: "iceberg-rest.json" });
  const validate = ajv.getSchema("iceberg-rest.json#/components/schemas/TableMetadata")!;
  return (m) =>
    validate(m) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}`);
}

/** The spec's own valid example metadata (a control for the validator). */
export async function validExample(): Promise<unknown> {
  return JSON.parse(await readFile(`${SPECS}TableMetadataV2Valid.json`, "utf8"));
}

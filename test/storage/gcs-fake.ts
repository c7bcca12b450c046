import { createHash, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Emulator } from "./emulators.ts";

/**
 * A loopback server that speaks the Cloud Storage JSON API for exactly the calls GcsStore makes, so
 * that GcsStore runs against the real @google-cloud/storage client over real HTTP. npm has no GCS
 * emulator (fake-gcs-server is a Go binary, and firebase-tools' storage emulator is a very large
 * dependency that speaks the Firebase API first), so this is the stand-in.
 *
 * It serves, under /storage/v1 or not (STORAGE_EMULATOR_HOST makes the client leave it out):
 * - object insert: POST /upload/storage/v1/b/B/o?uploadType=multipart (metadata + media), and
 *   resumable uploads (POST ...?uploadType=resumable to open a session, PUT chunks with Content-Range,
 *   308 for an incomplete one, status queries with "bytes * /N");
 *   `ifGenerationMatch` is checked when a session opens and again, atomically, when the object is
 *   written: 412 conditionNotMet when it does not hold;
 * - media download: GET /b/B/o/NAME?alt=media, with x-goog-hash (crc32c and md5), which the client checks;
 * - metadata: GET /b/B/o/NAME;
 * - list: GET /b/B/o?prefix=&maxResults=&pageToken=, sorted by name;
 * - delete: DELETE /b/B/o/NAME, 404 when missing;
 * - and, at /B and /B/NAME, the XML API calls LanceDB's object store client makes (xmlApi).
 * Anything else answers 501, so a new call made by GcsStore fails loudly here instead of passing untested.
 * A crc32c or md5 the client sends with an upload is checked against the bytes received.
 */

interface StoredObject {
  readonly data: Buffer;
  readonly generation: number;
  readonly updated: string;
  readonly contentType: string;
}

interface Session {
  readonly bucket: string;
  readonly name: string;
  readonly ifGenerationMatch: string | null;
  readonly contentType: string;
  readonly chunks: Buffer[];
  received: number;
  done?: StoredObject;
}

export interface GcsFake extends Emulator {
  readonly host: string;
  readonly bucket: string;
  /** "METHOD path?query" of every request, in order. */
  readonly log: string[];
}

export async function startGcsFake(bucket = "tributary-test"): Promise<GcsFake> {
  const buckets = new Map<string, Map<string, StoredObject>>([[bucket, new Map()]]);
  const sessions = new Map<string, Session>();
  /** The XML API's multipart uploads, by upload id. */
  const uploads = new Map<string, { name: string; parts: Map<number, Buffer> }>();
  const log: string[] = [];
  let generation = 1_700_000_000_000_000;
  let origin = "";

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      log.push(`${req.method} ${req.url}`);
      try {
        handle(req, Buffer.concat(chunks), res);
      } catch (e) {
        error(res, 500, "backendError", (e as Error).message);
      }
    });
  });

  function handle(req: IncomingMessage, body: Buffer, res: ServerResponse) {
    const url = new URL(req.url ?? "/", origin);
    const q = url.searchParams;
    const path = url.pathname.replace(/^\/(storage|download\/storage)\/v1\//, "/");
    const upload = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(path);
    const objectsPath = /^\/b\/([^/]+)\/o$/.exec(path);
    const objectPath = /^\/b\/([^/]+)\/o\/(.+)$/.exec(path);
    if (upload && req.method === "PUT" && q.has("upload_id")) {
      return putChunk(q.get("upload_id")!, req, body, res);
    }
    if (upload && req.method === "POST") {
      const bucketName = decodeURIComponent(upload[1]!);
      const objects = bucketOf(bucketName, res);
      if (!objects) return;
      const type = q.get("uploadType");
      if (type === "multipart") return multipartInsert(bucketName, objects, req, body, q, res);
      if (type === "resumable") return openSession(bucketName, objects, req, body, q, res);
      return error(res, 501, "notImplemented", `uploadType ${type}`);
    }
    if (objectsPath && req.method === "GET") {
      const bucketName = decodeURIComponent(objectsPath[1]!);
      const objects = bucketOf(bucketName, res);
      if (!objects) return;
      return list(bucketName, objects, q, res);
    }
    if (objectPath) {
      const name = decodeURIComponent(objectPath[2]!);
      const bucketName = decodeURIComponent(objectPath[1]!);
      const objects = bucketOf(bucketName, res);
      if (!objects) return;
      const object = objects.get(name);
      if (req.method === "DELETE") {
        if (!object) return error(res, 404, "notFound", `No such object: ${bucketName}/${name}`);
        objects.delete(name);
        res.writeHead(204).end();
        return;
      }
      if (req.method === "GET") {
        if (!object) return error(res, 404, "notFound", `No such object: ${bucketName}/${name}`);
        if (q.get("alt") === "media") {
          if (req.headers.range) return error(res, 501, "notImplemented", "range downloads");
          res.writeHead(200, {
            "content-type": object.contentType,
            "content-length": object.data.length,
            "x-goog-hash": `crc32c=${crc32c(object.data)},md5=${md5(object.data)}`,
            "x-goog-stored-content-encoding": "identity",
            "x-goog-generation": String(object.generation),
          });
          res.end(object.data);
          return;
        }
        return json(res, 200, resource(bucketName, name, object));
      }
    }
    const xml = /^\/([^/]+)(?:\/(.+))?$/.exec(url.pathname);
    if (xml && buckets.has(decodeURIComponent(xml[1]!))) {
      return xmlApi(
        decodeURIComponent(xml[1]!),
        xml[2] === undefined ? undefined : decodeURIComponent(xml[2]),
        req,
        body,
        q,
        res,
      );
    }
    error(res, 501, "notImplemented", `${req.method} ${url.pathname} is not served by the GCS fake`);
  }

  /**
   * The XML API, for the calls LanceDB's object store client (Rust object_store) makes: list
   * (list-type=2, with a delimiter), get (with a range), head, put (with `x-goog-if-generation-match`),
   * copy (`x-goog-copy-source`), delete, and multipart uploads.
   */
  function xmlApi(
    bucketName: string,
    name: string | undefined,
    req: IncomingMessage,
    body: Buffer,
    q: URLSearchParams,
    res: ServerResponse,
  ) {
    const objects = buckets.get(bucketName)!;
    const missing = () => xmlError(res, 404, "NoSuchKey", "The specified key does not exist.");
    const precondition = () =>
      xmlError(
        res,
        412,
        "PreconditionFailed",
        "At least one of the pre-conditions you specified did not hold.",
      );
    const holds = (header: string | string[] | undefined) =>
      header === undefined || String(objects.get(name!)?.generation ?? 0) === String(header);
    const headersOf = (o: StoredObject) => ({
      etag: `"${createHash("md5").update(o.data).digest("hex")}"`,
      "last-modified": new Date(o.updated).toUTCString(),
      "x-goog-generation": String(o.generation),
    });
    if (name === undefined) {
      if (req.method !== "GET" || q.get("list-type") !== "2") {
        return xmlError(res, 501, "NotImplemented", `${req.method} on the bucket`);
      }
      const prefix = q.get("prefix") ?? "";
      const delimiter = q.get("delimiter");
      const after = q.get("continuation-token") ?? q.get("start-after") ?? "";
      const max = Math.min(Number(q.get("max-keys") ?? 1000), 1000);
      const keys: string[] = [];
      const prefixes = new Set<string>();
      for (const n of [...objects.keys()].sort()) {
        if (!n.startsWith(prefix) || n <= after) continue;
        const rest = n.slice(prefix.length);
        const cut = delimiter ? rest.indexOf(delimiter) : -1;
        if (cut >= 0) prefixes.add(prefix + rest.slice(0, cut + delimiter!.length));
        else keys.push(n);
      }
      const page = keys.slice(0, max);
      const esc = (t: string) => t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
      const text = [
        '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult>',
        `<Name>${esc(bucketName)}</Name><Prefix>${esc(prefix)}</Prefix><KeyCount>${page.length}</KeyCount>`,
        `<MaxKeys>${max}</MaxKeys><IsTruncated>${keys.length > max}</IsTruncated>`,
        ...page.map((n) => {
          const o = objects.get(n)!;
          return `<Contents><Key>${esc(n)}</Key><Size>${o.data.length}</Size><LastModified>${o.updated}</LastModified><ETag>${headersOf(o).etag}</ETag></Contents>`;
        }),
        ...[...prefixes].sort().map((p) => `<CommonPrefixes><Prefix>${esc(p)}</Prefix></CommonPrefixes>`),
        keys.length > max ? `<NextContinuationToken>${esc(page.at(-1)!)}</NextContinuationToken>` : "",
        "</ListBucketResult>",
      ].join("");
      res.writeHead(200, { "content-type": "application/xml" }).end(text);
      return;
    }
    const object = objects.get(name);
    const uploadId = q.get("uploadId");
    switch (req.method) {
      case "HEAD":
      case "GET": {
        if (!object) return missing();
        const range = /^bytes=(\d+)-(\d*)$/.exec(String(req.headers.range ?? ""));
        const start = range ? Number(range[1]) : 0;
        const end =
          range && range[2] !== ""
            ? Math.min(Number(range[2]), object.data.length - 1)
            : object.data.length - 1;
        const data = object.data.subarray(start, end + 1);
        res.writeHead(range ? 206 : 200, {
          ...headersOf(object),
          "content-type": object.contentType,
          "content-length": data.length,
          ...(range ? { "content-range": `bytes ${start}-${end}/${object.data.length}` } : {}),
        });
        res.end(req.method === "HEAD" ? undefined : data);
        return;
      }
      case "DELETE":
        if (uploadId !== null) {
          uploads.delete(uploadId);
          res.writeHead(204).end();
          return;
        }
        objects.delete(name);
        res.writeHead(204).end();
        return;
      case "PUT": {
        if (uploadId !== null) {
          const upload = uploads.get(uploadId);
          if (!upload) return xmlError(res, 404, "NoSuchUpload", `No upload ${uploadId}`);
          upload.parts.set(Number(q.get("partNumber")), body);
          res.writeHead(200, { etag: `"${createHash("md5").update(body).digest("hex")}"` }).end();
          return;
        }
        if (!holds(req.headers["x-goog-if-generation-match"])) return precondition();
        const source = req.headers["x-goog-copy-source"];
        let data = body;
        if (source !== undefined) {
          const from = decodeURIComponent(String(source)).replace(/^\//, "");
          const copied = objects.get(from.slice(from.indexOf("/") + 1));
          if (!copied) return missing();
          data = copied.data;
        }
        const stored = {
          data,
          generation: ++generation,
          updated: new Date().toISOString(),
          contentType: "application/octet-stream",
        };
        objects.set(name, stored);
        res.writeHead(200, headersOf(stored)).end();
        return;
      }
      case "POST": {
        if (q.has("uploads")) {
          const id = randomUUID();
          uploads.set(id, { name, parts: new Map() });
          res
            .writeHead(200, { "content-type": "application/xml" })
            .end(
              `<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult><Bucket>${bucketName}</Bucket><Key>${name}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`,
            );
          return;
        }
        if (uploadId !== null) {
          const upload = uploads.get(uploadId);
          if (!upload) return xmlError(res, 404, "NoSuchUpload", `No upload ${uploadId}`);
          if (!holds(req.headers["x-goog-if-generation-match"])) return precondition();
          const numbers = [...body.toString().matchAll(/<PartNumber>(\d+)<\/PartNumber>/g)].map((m) =>
            Number(m[1]),
          );
          const data = Buffer.concat(numbers.map((n) => upload.parts.get(n) ?? Buffer.alloc(0)));
          const stored = {
            data,
            generation: ++generation,
            updated: new Date().toISOString(),
            contentType: "application/octet-stream",
          };
          objects.set(name, stored);
          uploads.delete(uploadId);
          res
            .writeHead(200, { ...headersOf(stored), "content-type": "application/xml" })
            .end(
              `<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUploadResult><Bucket>${bucketName}</Bucket><Key>${name}</Key><ETag>${headersOf(stored).etag}</ETag></CompleteMultipartUploadResult>`,
            );
          return;
        }
      }
    }
    xmlError(res, 501, "NotImplemented", `${req.method} ${name} is not served by the GCS fake's XML API`);
  }

  function bucketOf(name: string, res: ServerResponse): Map<string, StoredObject> | undefined {
    const objects = buckets.get(name);
    if (!objects) error(res, 404, "notFound", "The specified bucket does not exist.");
    return objects;
  }

  /** Write an object if `ifGenerationMatch` holds; false (after answering 412) when it does not. */
  function write(
    objects: Map<string, StoredObject>,
    name: string,
    ifGenerationMatch: string | null,
    data: Buffer,
    contentType: string,
    res: ServerResponse,
  ): StoredObject | undefined {
    if (ifGenerationMatch !== null && String(objects.get(name)?.generation ?? 0) !== ifGenerationMatch) {
      error(res, 412, "conditionNotMet", "At least one of the pre-conditions you specified did not hold.");
      return undefined;
    }
    const object = { data, generation: ++generation, updated: new Date().toISOString(), contentType };
    objects.set(name, object);
    return object;
  }

  function checkHashes(
    data: Buffer,
    sent: { crc32c?: string; md5Hash?: string },
    res: ServerResponse,
  ): boolean {
    if ((sent.crc32c && sent.crc32c !== crc32c(data)) || (sent.md5Hash && sent.md5Hash !== md5(data))) {
      error(res, 400, "invalid", "Provided checksum does not match the data received.");
      return false;
    }
    return true;
  }

  function multipartInsert(
    bucketName: string,
    objects: Map<string, StoredObject>,
    req: IncomingMessage,
    body: Buffer,
    q: URLSearchParams,
    res: ServerResponse,
  ) {
    const boundary = /boundary="?([^";]+)"?/.exec(req.headers["content-type"] ?? "")?.[1];
    if (!boundary) return error(res, 400, "invalid", "multipart upload without a boundary");
    const parts = splitMultipart(body, boundary);
    if (parts.length !== 2) return error(res, 400, "invalid", `multipart upload with ${parts.length} parts`);
    const metadata = JSON.parse(parts[0]!.body.toString()) as {
      name?: string;
      contentType?: string;
      crc32c?: string;
      md5Hash?: string;
    };
    const name = q.get("name") ?? metadata.name;
    if (!name) return error(res, 400, "required", "object name is missing");
    const data = parts[1]!.body;
    if (!checkHashes(data, metadata, res)) return;
    const contentType = metadata.contentType ?? parts[1]!.contentType ?? "application/octet-stream";
    const object = write(objects, name, q.get("ifGenerationMatch"), data, contentType, res);
    if (object) json(res, 200, resource(bucketName, name, object));
  }

  function openSession(
    bucketName: string,
    objects: Map<string, StoredObject>,
    req: IncomingMessage,
    body: Buffer,
    q: URLSearchParams,
    res: ServerResponse,
  ) {
    const metadata = (body.length ? JSON.parse(body.toString()) : {}) as {
      name?: string;
      contentType?: string;
    };
    const name = q.get("name") ?? metadata.name;
    if (!name) return error(res, 400, "required", "object name is missing");
    const ifGenerationMatch = q.get("ifGenerationMatch");
    if (ifGenerationMatch !== null && String(objects.get(name)?.generation ?? 0) !== ifGenerationMatch) {
      return error(
        res,
        412,
        "conditionNotMet",
        "At least one of the pre-conditions you specified did not hold.",
      );
    }
    const id = randomUUID();
    const contentType =
      (req.headers["x-upload-content-type"] as string | undefined) ??
      metadata.contentType ??
      "application/octet-stream";
    sessions.set(id, { bucket: bucketName, name, ifGenerationMatch, contentType, chunks: [], received: 0 });
    const location = `${origin}/upload/storage/v1/b/${encodeURIComponent(bucketName)}/o?uploadType=resumable&upload_id=${id}`;
    res.writeHead(200, { location }).end();
  }

  function putChunk(id: string, req: IncomingMessage, body: Buffer, res: ServerResponse) {
    const session = sessions.get(id);
    if (!session) return error(res, 404, "notFound", `No upload session ${id}`);
    const objects = buckets.get(session.bucket)!;
    const range = String(req.headers["content-range"] ?? "");
    const incomplete = () => {
      const headers = session.received > 0 ? { range: `bytes=0-${session.received - 1}` } : undefined;
      res.writeHead(308, headers).end();
    };
    if (session.done) return json(res, 200, resource(session.bucket, session.name, session.done));
    // "bytes */N": no data, N bytes in all (a query, or the end of an upload whose last chunk was sent).
    // "bytes A-B/N" or "bytes A-*/N": a chunk; N is "*" while the total is not known.
    let total: number | undefined;
    const query = /^bytes \*\/(\d+|\*)$/.exec(range);
    const chunk = /^bytes (\d+)-(\d+|\*)\/(\d+|\*)$/.exec(range);
    if (query) {
      total = query[1] === "*" ? undefined : Number(query[1]);
    } else if (chunk) {
      if (Number(chunk[1]) !== session.received) {
        return error(res, 400, "invalid", `chunk starts at ${chunk[1]}, ${session.received} bytes received`);
      }
      session.chunks.push(body);
      session.received += body.length;
      // A chunk of unknown end and total ("bytes A-*/*") carries the rest of the object.
      total = chunk[3] !== "*" ? Number(chunk[3]) : chunk[2] === "*" ? session.received : undefined;
    } else {
      return error(res, 400, "invalid", `Content-Range ${JSON.stringify(range)}`);
    }
    if (total === undefined || session.received < total) return incomplete();
    const data = Buffer.concat(session.chunks);
    const sent = parseGoogHash(req.headers["x-goog-hash"]);
    if (!checkHashes(data, sent, res)) return;
    const object = write(objects, session.name, session.ifGenerationMatch, data, session.contentType, res);
    if (!object) return;
    session.done = object;
    json(res, 200, resource(session.bucket, session.name, object));
  }

  function list(
    bucketName: string,
    objects: Map<string, StoredObject>,
    q: URLSearchParams,
    res: ServerResponse,
  ) {
    for (const unsupported of ["delimiter", "startOffset", "endOffset", "versions", "matchGlob"]) {
      if (q.has(unsupported)) return error(res, 501, "notImplemented", `list with ${unsupported}`);
    }
    const prefix = q.get("prefix") ?? "";
    const max = Math.min(Number(q.get("maxResults") ?? 1000), 1000);
    const after = q.has("pageToken") ? Buffer.from(q.get("pageToken")!, "base64url").toString() : undefined;
    const names = [...objects.keys()]
      .filter((n) => n.startsWith(prefix) && (after === undefined || n > after))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const page = names.slice(0, max);
    json(res, 200, {
      kind: "storage#objects",
      items: page.map((n) => resource(bucketName, n, objects.get(n)!)),
      ...(names.length > max ? { nextPageToken: Buffer.from(page.at(-1)!).toString("base64url") } : {}),
    });
  }

  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  origin = `http://127.0.0.1:${port}`;
  return {
    host: origin,
    bucket,
    log,
    env: { STORAGE_EMULATOR_HOST: origin, GOOGLE_CLOUD_PROJECT: "tributary-test" },
    stop: () =>
      new Promise<void>((done, fail) => {
        server.closeAllConnections();
        server.close((e) => (e ? fail(e) : done()));
      }),
  };
}

function resource(bucket: string, name: string, o: StoredObject) {
  return {
    kind: "storage#object",
    id: `${bucket}/${name}/${o.generation}`,
    name,
    bucket,
    generation: String(o.generation),
    metageneration: "1",
    contentType: o.contentType,
    size: String(o.data.length),
    crc32c: crc32c(o.data),
    md5Hash: md5(o.data),
    timeCreated: o.updated,
    updated: o.updated,
  };
}

function json(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json; charset=UTF-8" }).end(body);
}

function xmlError(res: ServerResponse, status: number, code: string, message: string): void {
  res
    .writeHead(status, { "content-type": "application/xml" })
    .end(
      `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`,
    );
}

function error(res: ServerResponse, status: number, reason: string, message: string): void {
  json(res, status, { error: { code: status, message, errors: [{ domain: "global", reason, message }] } });
}

function splitMultipart(body: Buffer, boundary: string): { contentType?: string; body: Buffer }[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: { contentType?: string; body: Buffer }[] = [];
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    const start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString() === "--") break;
    const next = body.indexOf(delimiter, start);
    if (next < 0) break;
    const part = body.subarray(start, next);
    const headerEnd = part.indexOf("\r\n\r\n");
    const headers = part.subarray(0, headerEnd).toString();
    const content = part.subarray(headerEnd + 4, part.length - 2); // the CRLF before the next delimiter
    const contentType = /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1];
    parts.push({ ...(contentType ? { contentType } : {}), body: content });
    at = next;
  }
  return parts;
}

function parseGoogHash(header: string | string[] | undefined): { crc32c?: string; md5Hash?: string } {
  const out: { crc32c?: string; md5Hash?: string } = {};
  for (const pair of String(header ?? "").split(",")) {
    const eq = pair.indexOf("=");
    const [k, v] = [pair.slice(0, eq).trim(), pair.slice(eq + 1).trim()];
    if (k === "crc32c") out.crc32c = v;
    if (k === "md5") out.md5Hash = v;
  }
  return out;
}

function md5(data: Buffer): string {
  return createHash("md5").update(data).digest("base64");
}

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC32C (Castagnoli), big-endian and base64, as GCS reports it. */
export function crc32c(data: Buffer): string {
  let c = 0xffffffff;
  for (const byte of data) c = CRC32C_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  const out = Buffer.alloc(4);
  out.writeUInt32BE((c ^ 0xffffffff) >>> 0);
  return out.toString("base64");
}

import { fileURLToPath } from "node:url";
import { StorageError } from "../../contract/storage-layout.ts";
import { checkStorePrefix } from "./cloud.ts";
import { LocalStore } from "./local.ts";
import { checkAzureAccount, checkAzureContainer, checkGcsBucket, checkS3Bucket } from "./names.ts";
import type { ObjectStore } from "./port.ts";

/** Where a store URI points, before any client is made. */
export type StoreLocation =
  | { readonly kind: "local"; readonly path: string }
  | { readonly kind: "s3"; readonly bucket: string; readonly prefix: string }
  | { readonly kind: "gcs"; readonly bucket: string; readonly prefix: string }
  | {
      readonly kind: "azure";
      readonly serviceUrl: string;
      readonly account: string;
      readonly container: string;
      readonly prefix: string;
    };

export const ACCEPTED_STORE_URIS =
  "file:///absolute/path or a plain path, s3://bucket[/prefix], gs://bucket[/prefix], " +
  "https://<account>.blob.core.windows.net/<container>[/prefix], " +
  "or Azurite's http://127.0.0.1:<port>/<account>/<container>[/prefix]";

const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]+):/;
const AZURE_HOST = /^([a-z0-9]+)\.blob\.core\.windows\.net$/;
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** How to open each kind of cloud store; a function bundles only its own cloud's. */
export type StoreOpeners = {
  readonly [K in Exclude<StoreLocation["kind"], "local">]?: (
    at: Extract<StoreLocation, { kind: K }>,
  ) => ObjectStore;
};

/**
 * Open store URIs with the given adapters (and local folders always). A URI of a kind not given is
 * refused, naming the kinds this opener has: a Lambda opens s3:// stores, not gs:// ones.
 */
export function storeOpener(openers: StoreOpeners): (uri: string) => ObjectStore {
  return (uri) => {
    const at = parseStoreUri(uri);
    if (at.kind === "local") return new LocalStore(at.path);
    const open = openers[at.kind] as ((at: StoreLocation) => ObjectStore) | undefined;
    if (!open) {
      const kinds = ["local", ...Object.keys(openers)].join(", ");
      throw new StorageError(
        `storage: cannot open store ${JSON.stringify(uri)} here: this program opens ${kinds} stores only.`,
      );
    }
    return open(at);
  };
}

/** Parse a store URI (see openStoreUri), checking bucket, container and prefix names. */
export function parseStoreUri(uri: string): StoreLocation {
  const fail = (why: string): never => {
    throw new StorageError(
      `storage: cannot open store ${JSON.stringify(uri)}: ${why}. Accepted: ${ACCEPTED_STORE_URIS}.`,
    );
  };
  // Name errors (a bad bucket or prefix) keep their own message, with the URI in front.
  const check = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
      return fail(e.message.replace(/^storage: /, "").replace(/\.$/, ""));
    }
  };
  if (uri.trim() === "") return fail("it is empty");
  const scheme = SCHEME.exec(uri)?.[1]?.toLowerCase();
  if (scheme === undefined) return { kind: "local", path: uri };
  if (/[?#]/.test(uri)) return fail("a store URI has no query or fragment");

  if (scheme === "file") {
    if (!uri.startsWith("file:///")) return fail("a file URI must be file:///absolute/path");
    try {
      return { kind: "local", path: fileURLToPath(uri) };
    } catch (e) {
      return fail((e as Error).message.replace(/\.$/, ""));
    }
  }
  if (scheme === "s3" || scheme === "gs") {
    const m = /^[a-zA-Z0-9]+:\/\/([^/]*)(?:\/(.*))?$/.exec(uri);
    if (!m || m[1] === "") return fail(`the bucket is missing: write ${scheme}://bucket[/prefix]`);
    const bucket = m[1]!;
    const prefix = check(() => checkStorePrefix(m[2] ?? "", `${scheme}://${bucket}`));
    return scheme === "s3"
      ? { kind: "s3", bucket: check(() => checkS3Bucket(bucket)), prefix }
      : { kind: "gcs", bucket: check(() => checkGcsBucket(bucket)), prefix };
  }
  if (scheme === "https" || scheme === "http") {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      return fail("it is not a valid URL");
    }
    const segments = url.pathname.split("/").slice(1);
    let account: string;
    let serviceUrl: string;
    if (scheme === "https") {
      const host = AZURE_HOST.exec(url.host);
      if (!host)
        return fail("an https store must be an Azure blob endpoint, <account>.blob.core.windows.net");
      account = host[1]!;
      serviceUrl = `https://${url.host}`;
    } else {
      if (!LOOPBACK.has(url.hostname))
        return fail("an http store must be Azurite on this machine (127.0.0.1)");
      account = segments.shift() ?? "";
      if (account === "")
        return fail("the Azurite account is missing (http://127.0.0.1:<port>/<account>/<container>)");
      serviceUrl = `http://${url.host}/${account}`;
    }
    const container = segments.shift() ?? "";
    if (container === "") return fail("the container is missing");
    return {
      kind: "azure",
      serviceUrl,
      account: check(() => checkAzureAccount(account)),
      container: check(() => checkAzureContainer(container)),
      prefix: check(() => checkStorePrefix(decodePath(segments.join("/")), `${serviceUrl}/${container}`)),
    };
  }
  return fail(`the scheme "${scheme}:" is not a store`);
}

/** URL paths arrive percent-encoded ("|" as %7C); a broken escape is left as it is, for the key check to refuse. */
function decodePath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/**
 * The engine's side of keyed tokenisation: the key of each asset that declares a tokenisation secret
 * (read once per run), and the DuckDB function `pii_token(tenant, value)` its SQL calls.
 *
 * One DuckDB database serves a whole run, and its functions are the database's, not a query's: the
 * function is registered once and tokenises under the key of the asset being materialised (`use`), and
 * refuses to run for an asset that declares no tokenisation secret (the graph refuses such SQL at load).
 */
import { DuckDBScalarFunction, VARCHAR } from "@duckdb/node-api";
import type { AssetGraph } from "../../kit/graph.ts";
import type { SecretDef } from "../../kit/secret.ts";
import type { SecretSource } from "../secrets/source.ts";
import { type TokenKey, tokenKey } from "../secrets/token.ts";
import type { Duck } from "./duckdb.ts";

/** The SQL function a tokenising asset calls. */
export const TOKEN_FUNCTION = "pii_token";

/** The tokenisation keys of a run, each read once from the run's secret source. */
export class TokenKeys {
  readonly #graph: AssetGraph;
  readonly #source: SecretSource;
  readonly #keys = new Map<string, Promise<TokenKey>>();

  constructor(graph: AssetGraph, source: SecretSource) {
    this.#graph = graph;
    this.#source = source;
  }

  get source(): SecretSource {
    return this.#source;
  }

  /** The key of the tokenisation secret `asset` declares, or undefined when it declares none. */
  async of(asset: string): Promise<{ secret: SecretDef; key: TokenKey } | undefined> {
    const secret = this.#graph.tokenSecret(asset);
    if (secret === undefined) return undefined;
    let key = this.#keys.get(secret.name);
    if (key === undefined) {
      key = this.#source.read(secret).then((value) => tokenKey(secret.name, value));
      this.#keys.set(secret.name, key);
    }
    return { secret, key: await key };
  }
}

/** What `pii_token` tokenises with right now: the key of the asset being materialised. */
export interface TokenScope {
  asset?: string;
  key?: TokenKey;
}

/** Register `pii_token(tenant VARCHAR, value VARCHAR) → VARCHAR` (null in, null out) on a run's database. */
export function registerTokenFunction(duck: Duck, scope: TokenScope): void {
  duck.connection.registerScalarFunction(
    DuckDBScalarFunction.create({
      name: TOKEN_FUNCTION,
      returnType: VARCHAR,
      parameterTypes: [VARCHAR, VARCHAR],
      mainFunction: (info, input, output) => {
        const key = scope.key;
        if (key === undefined) {
          info.setError(
            `${TOKEN_FUNCTION}: ${scope.asset === undefined ? "no asset" : `asset "${scope.asset}"`} declares no tokenisation secret.`,
          );
          return;
        }
        const tenants = input.getColumnVector(0);
        const values = input.getColumnVector(1);
        for (let row = 0; row < input.rowCount; row++) {
          const tenant = tenants.getItem(row);
          const value = values.getItem(row);
          output.setItem(
            row,
            tenant === null || value === null ? null : key.token(String(tenant), String(value)),
          );
        }
        output.flush();
      },
    }),
  );
}

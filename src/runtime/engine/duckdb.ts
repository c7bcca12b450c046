import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { literal } from "./types.ts";

/** One embedded DuckDB database for a run: in memory, reading and writing files directly. */
export class Duck {
  readonly instance: DuckDBInstance;
  readonly connection: DuckDBConnection;
  private constructor(instance: DuckDBInstance, connection: DuckDBConnection) {
    this.instance = instance;
    this.connection = connection;
  }

  static async open(opts: { threads?: number; memoryLimit?: string } = {}): Promise<Duck> {
    const config: Record<string, string> = {};
    if (opts.threads) config.threads = String(opts.threads);
    if (opts.memoryLimit) config.memory_limit = opts.memoryLimit;
    const instance = await DuckDBInstance.create(":memory:", config);
    return new Duck(instance, await instance.connect());
  }

  /**
   * A database for SQL Tributary does not control (`tributary query`, the page's parse of asset SQL):
   * it may read exactly the files `readable` names and no other file, URL or database; it writes no
   * file (nor attaches, installs or loads anything); and its configuration is locked, so no statement
   * can undo that. Extensions are neither autoloaded nor autoinstalled: Parquet and JSON are built in.
   */
  static async sandboxed(readable: readonly string[], opts: { threads?: number } = {}): Promise<Duck> {
    const instance = await DuckDBInstance.create(":memory:", {
      autoload_known_extensions: "false",
      autoinstall_known_extensions: "false",
      ...(opts.threads ? { threads: String(opts.threads) } : {}),
    });
    const connection = await instance.connect();
    try {
      // allowed_paths is a list, which DuckDB's C configuration API cannot set: it is set here, before
      // external access is switched off and the configuration locked (neither can be switched back).
      await connection.run(`SET allowed_paths = [${readable.map(literal).join(", ")}]`);
      await connection.run("SET enable_external_access = false");
      await connection.run("SET lock_configuration = true");
    } catch (e) {
      connection.closeSync();
      instance.closeSync();
      throw e;
    }
    return new Duck(instance, connection);
  }

  async run(sql: string): Promise<void> {
    await this.connection.run(sql);
  }

  /** Rows as plain JS values (BIGINT as bigint, timestamps as Date). */
  async rows(sql: string): Promise<Record<string, unknown>[]> {
    const reader = await this.connection.runAndReadAll(sql);
    return reader.getRowObjectsJS() as Record<string, unknown>[];
  }

  /** Rows as JSON-safe values (BIGINT as string, timestamps as text). */
  async jsonRows(sql: string): Promise<Record<string, unknown>[]> {
    const reader = await this.connection.runAndReadAll(sql);
    return reader.getRowObjectsJson() as Record<string, unknown>[];
  }

  /** Column names and DuckDB types of a query, without running it. */
  async describe(sql: string): Promise<{ name: string; type: string }[]> {
    const rows = await this.rows(`DESCRIBE ${sql}`);
    return rows.map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
  }

  async version(): Promise<string> {
    const [row] = await this.rows("SELECT version() AS v");
    return String(row!.v);
  }

  close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
  }
}

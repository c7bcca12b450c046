/**
 * Tributary's declaration kit: `import { source, asset, defineGraph, Type } from "tributary"`.
 */

export type { Static, TObject, TSchema } from "@sinclair/typebox";
export { Type } from "@sinclair/typebox";
export {
  type AnyAsset,
  type AssetDef,
  type AssetOptions,
  asset,
  type CdcSourceOptions,
  type ColumnOf,
  type ComputeContext,
  type ComputeFn,
  columnsOf,
  type DataDiffSpec,
  DEFAULT_HORIZON_MINUTES,
  type Dependency,
  type DepLike,
  type DepRef,
  dep,
  type Inputs,
  type Metadata,
  type Resources,
  type Row,
  type SourceDef,
  type SourceOptions,
  source,
} from "./asset.ts";
export type { CdcConnector, CdcFormat, CdcSpec, CdcTenant } from "./cdc.ts";
export {
  acceptedValues,
  type CheckOptions,
  type CheckSpec,
  checkColumns,
  freshness,
  notNull,
  references,
  rowCount,
  sqlCheck,
  unique,
} from "./checks.ts";
export { defineConfig, type ProjectConfig, type SampleData } from "./config.ts";
export {
  type DebeziumCdc,
  type DebeziumEnvelope,
  type DebeziumOptions,
  debezium,
  debeziumEnvelope,
  type MysqlSource,
  type PostgresSource,
} from "./debezium.ts";
export { type EmbeddingOptions, type EmbeddingSpec, embedding } from "./embedding.ts";
export * from "./errors.ts";
export { AssetGraph, defineGraph, type Edge, findCycle, type GraphInput } from "./graph.ts";
export { KEY_PATTERN } from "./keys.ts";
export { LATEST_TENANT_COLUMN, type LatestOptions, latest } from "./latest.ts";
export {
  columnType,
  type GraphNode,
  type LineageDocument,
  type LineageEdge,
  type LineageNode,
  toDot,
  toLineage,
  toMermaid,
} from "./lineage.ts";
export {
  daily,
  describeMapping,
  describePartitions,
  hourly,
  isPartitionKey,
  lastCompleteKey,
  MULTI_SEPARATOR,
  type MultiPartitions,
  mapping,
  multiPartitions,
  type PartitionMapping,
  type Partitions,
  partitionKeys,
  type StaticPartitions,
  shiftTimeKey,
  staticPartitions,
  type TimePartitions,
  timeKeyAt,
  timeKeys,
  upstreamKeys,
} from "./partitions.ts";
export { cron, type EventTrigger, onUpstream, type Schedule } from "./schedule.ts";
export {
  type SecretDef,
  type SecretLike,
  type SecretOptions,
  type SecretUse,
  secret,
} from "./secret.ts";
export { select } from "./selection.ts";

/**
 * The messages on the buses, the same on every cloud. An asset function announces each commit with
 * type `assetMaterialised` from `producer`, body `{ asset, partition, dataVersion }`; producers outside
 * send source events with type `sourceEvents`, body `{ source, records }`. Consumers filter on the
 * body's `asset` or `source` key (and, where the bus filters on attributes or properties rather than
 * bodies, on `type`, `asset`, `source` set beside the body). A schedule that publishes (GCP's Cloud
 * Scheduler) marks its ticks `assetScheduled`.
 */
export const MESSAGES = {
  producer: "tributary",
  assetMaterialised: "tributary.asset.materialised",
  sourceEvents: "tributary.source.events",
  assetScheduled: "tributary.asset.scheduled",
} as const;

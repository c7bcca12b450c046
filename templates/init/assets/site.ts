/**
 * A starter pipeline: page views of a website, counted per page and day.
 *
 *   page_views ──> page_stats ──┬──> top_pages      (the last 7 days)
 *                               └──> daily_summary
 *
 * Replace it with your own: a source is data that arrives (events, change streams, files), an asset is
 * a table computed from its upstream assets, in DuckDB SQL or in TypeScript.
 */
import {
  asset,
  cron,
  daily,
  dep,
  mapping,
  notNull,
  onUpstream,
  rowCount,
  source,
  sqlCheck,
  Type,
  unique,
} from "tributary";

/** The first day of data: one partition per day from here up to yesterday. */
export const FIRST_DAY = "{{firstDay}}";

const days = daily({ start: FIRST_DAY });
const meta = { group: "site", owners: ["team:web-analytics"] } as const;

/** One page view as the website sends it. */
export const PageView = Type.Object(
  {
    event_id: Type.String({ format: "uuid" }),
    event_time: Type.String({ format: "date-time" }),
    visitor_id: Type.String({ minLength: 1 }),
    path: Type.String({ pattern: "^/" }),
    country: Type.String({ pattern: "^[A-Z]{2}$" }),
    duration_ms: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);

export const pageViews = source("page_views", {
  ...meta,
  description: "Page views sent by the website, one event each; landed per day.",
  schema: PageView,
  eventId: "event_id",
  eventTime: "event_time",
  partitions: days,
});

export const pageStats = asset("page_stats", {
  ...meta,
  description: "Views, visitors and time on page per page and day.",
  deps: [pageViews],
  schema: Type.Object({
    day: Type.String({ format: "date" }),
    path: Type.String(),
    views: Type.Integer(),
    visitors: Type.Integer(),
    median_duration_ms: Type.Integer(),
  }),
  partitions: days,
  sql: `
    SELECT
      CAST(p.time_key AS DATE) AS day,
      path,
      CAST(count(*) AS BIGINT) AS views,
      CAST(count(DISTINCT visitor_id) AS BIGINT) AS visitors,
      CAST(median(duration_ms) AS BIGINT) AS median_duration_ms
    FROM page_views, this_partition p
    GROUP BY ALL
    ORDER BY path`,
  checks: [
    notNull(["day", "path", "views", "visitors"]),
    unique(["path"]),
    sqlCheck("visitors_at_most_views", "SELECT * FROM page_stats WHERE visitors > views"),
  ],
  trigger: onUpstream(),
});

export const topPages = asset("top_pages", {
  ...meta,
  description: "The ten most viewed pages of the seven days up to each day, ranked.",
  deps: [dep(pageStats, { partitions: mapping.window(7), columns: ["path", "views"] })],
  schema: Type.Object({
    day: Type.String({ format: "date" }),
    rank: Type.Integer(),
    path: Type.String(),
    views: Type.Integer(),
  }),
  partitions: days,
  sql: `
    SELECT
      CAST(p.time_key AS DATE) AS day,
      CAST(row_number() OVER (ORDER BY sum(s.views) DESC, s.path) AS BIGINT) AS rank,
      s.path,
      CAST(sum(s.views) AS BIGINT) AS views
    FROM page_stats s, this_partition p
    GROUP BY p.time_key, s.path
    ORDER BY rank
    LIMIT 10`,
  checks: [unique(["rank"]), unique(["path"]), rowCount({ max: 10 })],
  schedule: cron("0 6 * * *"),
});

export const dailySummary = asset("daily_summary", {
  ...meta,
  description: "One row per day: total views, pages viewed and the busiest page (computed in TypeScript).",
  deps: [pageStats],
  schema: Type.Object({
    day: Type.String({ format: "date" }),
    views: Type.Integer(),
    pages: Type.Integer(),
    busiest_page: Type.Union([Type.String(), Type.Null()]),
  }),
  partitions: days,
  // A compute asset's version is yours to bump whenever summarise() changes.
  codeVersion: "1",
  compute: ({ page_stats }, { partition }) => [summarise(partition, page_stats)],
  checks: [notNull(["day", "views", "pages"]), rowCount({ min: 1, max: 1 })],
  trigger: onUpstream(),
});

/** The day's row of daily_summary: plain TypeScript, tested on its own in test/pipeline.test.ts. */
export function summarise(day: string, pages: readonly { path: string; views: number }[]) {
  let busiest: { path: string; views: number } | undefined;
  for (const page of pages) if (busiest === undefined || page.views > busiest.views) busiest = page;
  return {
    day,
    views: pages.reduce((sum, page) => sum + page.views, 0),
    pages: pages.length,
    busiest_page: busiest?.path ?? null,
  };
}

/** The pipeline, in declaration order. */
export const site = [pageViews, pageStats, topPages, dailySummary] as const;

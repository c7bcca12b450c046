/**
 * `tributary:aws:AssetFunction`: the Lambda function that materialises one asset (or ingests one source),
 * with everything that is its alone: its role and exact policy, its log group, its dead-letter queue,
 * what triggers it (a queue fed by a bus rule, a schedule, or a CDC source's Kinesis stream) and its
 * alarms.
 *
 * A CDC source's function reads its stream (stream.ts) through an event source mapping: batches from the
 * oldest record kept (TRIM_HORIZON), partial batch responses (the handler names the first record it
 * could not land; Lambda checkpoints before it and retries from it), the batch bisected when the function
 * fails as a whole, bounded retries and record age, and what still fails reported to its dead-letter
 * queue (the on-failure destination: the shard and sequence numbers, not the records), encrypted with the
 * stack's key.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { MESSAGES } from "../../contract/bus-messages.ts";
import { catalogVariable } from "../adapter.ts";
import { toEventBridge } from "../plan/cron.ts";
import type { AlarmPlan, FunctionParts, StoreId } from "../plan/types.ts";
import { secretReferences } from "../secrets.ts";
import { assumeRole, document, functionPolicy, queueAccess, type TableArns } from "./grants.ts";

export interface Named {
  readonly name: pulumi.Input<string>;
  readonly arn: pulumi.Input<string>;
}

export interface AssetFunctionArgs extends FunctionParts {
  /** The log group's name, e.g. "/tributary/trib-dev/orders". */
  readonly logGroup: string;
  readonly logRetentionDays: number;
  readonly buckets: Readonly<Record<StoreId, Named>>;
  readonly keyArn: pulumi.Input<string>;
  readonly assetBus: Named;
  readonly sourceBus: Named;
  /** The Kinesis data stream it reads, when it is a CDC source's function (`stream` of its parts). */
  readonly streamArn?: pulumi.Input<string>;
  readonly alertTopicArn: pulumi.Input<string>;
  /** The deployment package: the bundle folder of the function's architecture (infra/bundle.ts). */
  readonly code: pulumi.asset.Archive;
  readonly environment: string;
  /** The secrets its asset declares, by name: each one's ARN and the reference its environment names. */
  readonly secrets?: Readonly<
    Record<string, { readonly arn: pulumi.Input<string>; readonly reference: pulumi.Input<string> }>
  >;
  /** An embedding asset's: the ARN of the one foundation model it may invoke. */
  readonly modelArn?: string;
  /** The Glue entries of the tables it commits (their pointers are its to move), when it commits any. */
  readonly tables?: pulumi.Input<TableArns>;
  /** Its environment's catalog reference (contract/table-names.ts `CatalogRef`, as JSON), with `tables`. */
  readonly catalog?: string;
}

/** The single ARNs a function's policy names ("" for none). */
type FunctionArnRefs = Record<
  "raw" | "curated" | "quarantine" | "key" | "assetBus" | "logGroup" | "queue" | "deadLetters" | "stream",
  string
>;

const LAMBDA_RUNTIME = { nodejs24: "nodejs24.x" } as const;
/** AWS recommends a queue's visibility timeout of six times the function's timeout. */
const VISIBILITY_FACTOR = 6;
/** Two weeks, SQS's longest: time to look at a dead letter before it is gone. */
const DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600;
const ALARM_PERIOD_SECONDS = 300;
/** Records of one invocation from a stream: Debezium Server's sink puts 500 at a time; a tenth of that keeps a retry small. */
export const STREAM_BATCH_SIZE = 100;
/** How long the mapping gathers records before it invokes the function with fewer than a batch. */
const STREAM_BATCHING_WINDOW_SECONDS = 1;

export class AssetFunction extends pulumi.ComponentResource {
  readonly functionName: pulumi.Output<string>;
  readonly functionArn: pulumi.Output<string>;
  readonly roleArn: pulumi.Output<string>;

  constructor(name: string, args: AssetFunctionArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("tributary:aws:AssetFunction", name, {}, opts);
    const { fn, trigger } = args;
    const parent = { parent: this };
    const tags = fn.tags;

    const role = new aws.iam.Role(
      `${name}-role`,
      {
        description: `Tributary function of ${fn.id}`,
        assumeRolePolicy: JSON.stringify(assumeRole("lambda.amazonaws.com")),
        tags,
      },
      parent,
    );
    const logs = new aws.cloudwatch.LogGroup(
      `${name}-logs`,
      { name: args.logGroup, retentionInDays: args.logRetentionDays, tags },
      parent,
    );
    const streamed = trigger?.kind === "stream";
    const deadLetters = trigger
      ? new aws.sqs.Queue(
          `${name}-dlq`,
          {
            messageRetentionSeconds: DEAD_LETTER_RETENTION_SECONDS,
            // A stream's failures name its records' positions: under the stack's key, as the stream.
            ...(streamed
              ? { kmsMasterKeyId: args.keyArn, kmsDataKeyReusePeriodSeconds: 300 }
              : { sqsManagedSseEnabled: true }),
            tags: { ...tags, "tributary:role": "dead-letter" },
          },
          parent,
        )
      : undefined;
    const queue =
      trigger && (trigger.kind === "asset-materialised" || trigger.kind === "source-event")
        ? new aws.sqs.Queue(
            `${name}-queue`,
            {
              visibilityTimeoutSeconds: Math.min(fn.timeoutSeconds * VISIBILITY_FACTOR, 43200),
              messageRetentionSeconds: 4 * 24 * 3600,
              sqsManagedSseEnabled: true,
              redrivePolicy: deadLetters!.arn.apply((arn) =>
                JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount: fn.maxReceiveCount }),
              ),
              tags: { ...tags, "tributary:role": "consumer" },
            },
            parent,
          )
        : undefined;

    const scheduled = trigger?.kind === "schedule";
    const secretArns = (fn.secrets ?? []).map((n) => args.secrets![n]!.arn);
    const refs: Record<keyof FunctionArnRefs, pulumi.Input<string>> = {
      raw: args.buckets.raw.arn,
      curated: args.buckets.curated.arn,
      quarantine: args.buckets.quarantine.arn,
      key: args.keyArn,
      assetBus: args.assetBus.arn,
      logGroup: logs.arn,
      queue: queue?.arn ?? "",
      deadLetters: ((scheduled || streamed) && deadLetters?.arn) || "",
      stream: (streamed && args.streamArn) || "",
    };
    const policy = new aws.iam.RolePolicy(
      `${name}-policy`,
      {
        role: role.id,
        policy: pulumi
          .all([pulumi.output(refs), pulumi.all(secretArns), pulumi.output(args.tables)])
          .apply(([a, secrets, tables]) =>
            JSON.stringify(
              functionPolicy(args.grants, {
                buckets: { raw: a.raw, curated: a.curated, quarantine: a.quarantine },
                key: a.key,
                assetBus: a.assetBus,
                logGroup: a.logGroup,
                queue: a.queue || undefined,
                deadLetters: a.deadLetters || undefined,
                stream: a.stream || undefined,
                secrets,
                ...(tables ? { tables } : {}),
                ...(args.modelArn ? { models: [args.modelArn] } : {}),
              }),
            ),
          ),
      },
      parent,
    );

    const variables = pulumi.all(
      Object.fromEntries(
        Object.entries(fn.environment).map(([k, v]) => [
          k,
          typeof v === "string"
            ? v
            : "store" in v
              ? pulumi.interpolate`s3://${args.buckets[v.store].name}`
              : "secrets" in v
                ? secretReferences(
                    v.secrets,
                    Object.fromEntries(v.secrets.map((n) => [n, args.secrets![n]!.reference])),
                  )
                : "vectors" in v
                  ? JSON.stringify(v.vectors)
                  : "catalog" in v
                    ? catalogVariable(args.catalog, fn.id)
                    : (v.bus === "asset-events" ? args.assetBus : args.sourceBus).name,
        ]),
      ),
    );
    const lambda = new aws.lambda.Function(
      name,
      {
        description: fn.description.slice(0, 256),
        role: role.arn,
        runtime: LAMBDA_RUNTIME[fn.runtime],
        architectures: [fn.architecture],
        handler: "index.handler",
        code: args.code,
        memorySize: fn.memoryMb,
        timeout: fn.timeoutSeconds,
        environment: { variables },
        loggingConfig: { logFormat: "JSON", logGroup: logs.name },
        // Asynchronous invocations (schedules) that fail every retry land in the dead-letter queue.
        deadLetterConfig: scheduled ? { targetArn: deadLetters!.arn } : undefined,
        tags,
      },
      { ...parent, dependsOn: [policy] },
    );

    if (trigger?.kind === "stream") {
      if (!args.streamArn)
        throw new pulumi.RunError(`"${fn.id}" reads a stream, but its stream was not given`);
      new aws.lambda.EventSourceMapping(
        `${name}-stream`,
        {
          eventSourceArn: args.streamArn,
          functionName: lambda.arn,
          startingPosition: "TRIM_HORIZON",
          batchSize: STREAM_BATCH_SIZE,
          maximumBatchingWindowInSeconds: STREAM_BATCHING_WINDOW_SECONDS,
          functionResponseTypes: ["ReportBatchItemFailures"],
          bisectBatchOnFunctionError: true,
          maximumRetryAttempts: trigger.retry.attempts,
          maximumRecordAgeInSeconds: trigger.retry.maxEventAgeSeconds,
          destinationConfig: { onFailure: { destinationArn: deadLetters!.arn } },
          tags,
        },
        { ...parent, dependsOn: [policy] },
      );
    }

    if (trigger && (trigger.kind === "asset-materialised" || trigger.kind === "source-event")) {
      const bus = trigger.kind === "asset-materialised" ? args.assetBus : args.sourceBus;
      const pattern =
        trigger.kind === "asset-materialised"
          ? {
              source: [MESSAGES.producer],
              "detail-type": [MESSAGES.assetMaterialised],
              detail: { asset: [...trigger.upstream] },
            }
          : { "detail-type": [MESSAGES.sourceEvents], detail: { source: [trigger.source] } };
      const rule = new aws.cloudwatch.EventRule(
        `${name}-rule`,
        {
          eventBusName: bus.name,
          description:
            trigger.kind === "asset-materialised"
              ? `${fn.id} runs when ${trigger.upstream.join(", ")} materialise`
              : `${fn.id} ingests events of source ${trigger.source}`,
          eventPattern: JSON.stringify(pattern),
          tags,
        },
        parent,
      );
      // The bus delivers into the queue; what it cannot deliver goes to the same dead-letter queue.
      for (const [suffix, q] of [
        ["queue", queue!],
        ["dlq", deadLetters!],
      ] as const) {
        new aws.sqs.QueuePolicy(
          `${name}-${suffix}-policy`,
          {
            queueUrl: q.url,
            policy: pulumi
              .all([q.arn, rule.arn])
              .apply(([queueArn, ruleArn]) =>
                JSON.stringify(queueAccess(queueArn, "events.amazonaws.com", [ruleArn])),
              ),
          },
          parent,
        );
      }
      new aws.cloudwatch.EventTarget(
        `${name}-target`,
        {
          rule: rule.name,
          eventBusName: bus.name,
          arn: queue!.arn,
          deadLetterConfig: { arn: deadLetters!.arn },
          retryPolicy: {
            maximumRetryAttempts: trigger.retry.attempts,
            maximumEventAgeInSeconds: trigger.retry.maxEventAgeSeconds,
          },
        },
        parent,
      );
      new aws.lambda.EventSourceMapping(
        `${name}-events`,
        {
          eventSourceArn: queue!.arn,
          functionName: lambda.arn,
          batchSize: 10,
          functionResponseTypes: ["ReportBatchItemFailures"],
          tags,
        },
        { ...parent, dependsOn: [policy] },
      );
    }

    if (trigger?.kind === "schedule") {
      const schedulerRole = new aws.iam.Role(
        `${name}-scheduler`,
        {
          description: `EventBridge Scheduler for ${fn.id}`,
          assumeRolePolicy: JSON.stringify(assumeRole("scheduler.amazonaws.com")),
          tags,
        },
        parent,
      );
      const schedulerPolicy = new aws.iam.RolePolicy(
        `${name}-scheduler-policy`,
        {
          role: schedulerRole.id,
          policy: pulumi.all([lambda.arn, deadLetters!.arn]).apply(([f, q]) =>
            JSON.stringify(
              document([
                { Sid: "InvokeFunction", Effect: "Allow", Action: "lambda:InvokeFunction", Resource: f },
                { Sid: "DeadLetter", Effect: "Allow", Action: "sqs:SendMessage", Resource: q },
              ]),
            ),
          ),
        },
        parent,
      );
      new aws.scheduler.Schedule(
        `${name}-schedule`,
        {
          description: `${fn.id}: ${trigger.cron} (${trigger.timezone})`,
          scheduleExpression: toEventBridge(trigger.cron),
          scheduleExpressionTimezone: trigger.timezone,
          flexibleTimeWindow: { mode: "OFF" },
          state: "ENABLED",
          target: {
            arn: lambda.arn,
            roleArn: schedulerRole.arn,
            input: JSON.stringify({ asset: fn.id, scheduledTime: "<aws.scheduler.scheduled-time>" }),
            retryPolicy: {
              maximumRetryAttempts: trigger.retry.attempts,
              maximumEventAgeInSeconds: trigger.retry.maxEventAgeSeconds,
            },
            deadLetterConfig: { arn: deadLetters!.arn },
          },
        },
        { ...parent, dependsOn: [schedulerPolicy] },
      );
    }

    for (const alarm of args.alarms) {
      new aws.cloudwatch.MetricAlarm(
        `${name}-${alarm.kind}`,
        {
          alarmDescription: alarm.description,
          ...metricOf(alarm, {
            functionName: lambda.name,
            deadLetters: deadLetters?.name,
            environment: args.environment,
          }),
          alarmActions: [args.alertTopicArn],
          okActions: [args.alertTopicArn],
          tags,
        },
        parent,
      );
    }

    this.functionName = lambda.name;
    this.functionArn = lambda.arn;
    this.roleArn = role.arn;
    this.registerOutputs({
      functionName: this.functionName,
      functionArn: this.functionArn,
      roleArn: this.roleArn,
    });
  }
}

/** Longest look-back of one CloudWatch alarm: seven days (with periods of an hour or more). */
export const MAX_FRESHNESS_MINUTES = 7 * 24 * 60;

/** The metric each outbox sweep sets (runtime/handlers/aws.ts `OUTBOX_METRIC`), by environment. */
export const OUTBOX_METRIC = { namespace: "Tributary", name: "OutboxOldestSeconds" } as const;

/**
 * What an alarm watches. Freshness reads the `Tributary/AssetMaterialized` metric the handler emits;
 * outbox age the `Tributary/OutboxOldestSeconds` each sweep sets.
 */
function metricOf(
  alarm: AlarmPlan,
  refs: { functionName: pulumi.Input<string>; deadLetters?: pulumi.Input<string>; environment: string },
): Omit<aws.cloudwatch.MetricAlarmArgs, "alarmActions" | "okActions" | "tags" | "alarmDescription"> {
  const above = { comparisonOperator: "GreaterThanThreshold", threshold: 0, evaluationPeriods: 1 } as const;
  switch (alarm.kind) {
    case "dead-letters":
      return {
        ...above,
        namespace: "AWS/SQS",
        metricName: "ApproximateNumberOfMessagesVisible",
        dimensions: { QueueName: refs.deadLetters! },
        statistic: "Maximum",
        period: ALARM_PERIOD_SECONDS,
        treatMissingData: "notBreaching",
      };
    case "errors":
      return {
        ...above,
        namespace: "AWS/Lambda",
        metricName: "Errors",
        dimensions: { FunctionName: refs.functionName },
        statistic: "Sum",
        period: ALARM_PERIOD_SECONDS,
        treatMissingData: "notBreaching",
      };
    case "freshness": {
      // No materialisation in `minutes`: one period under an hour, else hourly periods that all miss.
      const minutes = alarm.minutes!;
      const hourly = minutes > 60;
      const periods = hourly ? Math.ceil(minutes / 60) : 1;
      return {
        namespace: "Tributary",
        metricName: "AssetMaterialized",
        dimensions: { Environment: refs.environment, Asset: alarm.function },
        statistic: "Sum",
        comparisonOperator: "LessThanThreshold",
        threshold: 1,
        period: hourly ? 3600 : minutes * 60,
        evaluationPeriods: periods,
        datapointsToAlarm: periods,
        treatMissingData: "breaching",
      };
    }
    case "outbox-age":
      // Between two sweeps there is no data point: the alarm keeps its state.
      return {
        namespace: OUTBOX_METRIC.namespace,
        metricName: OUTBOX_METRIC.name,
        dimensions: { Environment: refs.environment },
        statistic: "Maximum",
        comparisonOperator: "GreaterThanThreshold",
        threshold: alarm.minutes! * 60,
        period: ALARM_PERIOD_SECONDS,
        evaluationPeriods: 1,
        treatMissingData: "ignore",
      };
  }
}

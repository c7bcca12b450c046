/**
 * IAM policy documents, built from the plan's grants. Pure: ARNs in, JSON-ready documents out, so the
 * exact documents are unit-tested and property-tested without Pulumi.
 *
 * No Allow statement has a wildcard action or a `*` resource. Object grants end in `/<prefix>/*`: the one
 * way S3 names "every object under this prefix". Deny statements (TLS only) may use wildcards: they
 * only take rights away.
 */
import { MESSAGES } from "../../contract/bus-messages.ts";
import type { Access, GrantPlan, StoreId } from "../plan/types.ts";

export interface Statement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Principal?: unknown;
  Action: string | string[];
  /** Absent only in trust policies, which name a principal instead. */
  Resource?: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
  Version: "2012-10-17";
  Statement: Statement[];
}

export function document(statements: Statement[]): PolicyDocument {
  return { Version: "2012-10-17", Statement: statements };
}

/** Who may assume a role: one AWS service. */
export function assumeRole(service: string): PolicyDocument {
  return document([{ Effect: "Allow", Principal: { Service: service }, Action: "sts:AssumeRole" }]);
}

/** The ARNs a function's policy refers to, resolved. */
export interface FunctionArns {
  readonly buckets: Readonly<Record<StoreId, string>>;
  readonly key: string;
  readonly assetBus: string;
  readonly logGroup: string;
  /** The queue the function consumes, when a bus triggers it. */
  readonly queue?: string;
  /**
   * The dead-letter queue asynchronous invocations fail into, when a schedule triggers it; the on-failure
   * destination of its stream's event source mapping, when a stream does.
   */
  readonly deadLetters?: string;
  /** The Kinesis data stream it reads, when it is a CDC source's function. */
  readonly stream?: string;
  /** The Secrets Manager secrets its asset declares. */
  readonly secrets?: readonly string[];
  /** The Glue catalog entries of the tables it commits: their pointers are its to move (catalog.ts). */
  readonly tables?: TableArns;
  /** The Bedrock foundation models an embedding asset's function invokes (foundationModelArn). */
  readonly models?: readonly string[];
}

/** The ARN of a Bedrock foundation model: `arn:aws:bedrock:<region>::foundation-model/<model id>`. */
export function foundationModelArn(region: string, model: string, partition = "aws"): string {
  return `arn:${partition}:bedrock:${region}::foundation-model/${model}`;
}

/**
 * The Glue ARNs a table commit needs: Glue checks the catalog, the database and the table of each call.
 * `tables` are the tables' ARNs; the stack's table maintenance, which commits every table, has the
 * database's `table/<database>/*` instead, one size whatever the graph's.
 */
export interface TableArns {
  readonly catalog: string;
  readonly database: string;
  readonly tables: readonly string[];
}

/** What committing a table asks of Glue: read its entry, move its pointer, create it again if it was deleted. */
export const TABLE_COMMIT_ACTIONS = ["glue:CreateTable", "glue:GetTable", "glue:UpdateTable"];

const OBJECT_ACTIONS: Record<Exclude<Access, "list">, string> = {
  read: "s3:GetObject",
  write: "s3:PutObject",
  delete: "s3:DeleteObject",
};

/**
 * The one inline policy of a function's role: its grants on object prefixes (one statement per kind of
 * access), list rights limited by `s3:prefix`, the data key, publishing asset events, its queue, its logs.
 */
export function functionPolicy(grants: readonly GrantPlan[], arns: FunctionArns): PolicyDocument {
  const statements: Statement[] = [];
  for (const access of ["read", "write", "delete"] as const) {
    const resources = grants
      .filter((g) => g.access.includes(access))
      .map((g) => `${arns.buckets[g.store]}/${g.prefix}*`);
    if (resources.length > 0) {
      const sid = { read: "ReadObjects", write: "WriteObjects", delete: "DeleteObjects" }[access];
      statements.push({
        Sid: sid,
        Effect: "Allow",
        Action: OBJECT_ACTIONS[access],
        Resource: unique(resources),
      });
    }
  }
  for (const store of ["raw", "curated", "quarantine"] as const) {
    const prefixes = grants
      .filter((g) => g.store === store && g.access.includes("list"))
      .map((g) => `${g.prefix}*`);
    if (prefixes.length > 0) {
      statements.push({
        Sid: `List${store[0]!.toUpperCase()}${store.slice(1)}`,
        Effect: "Allow",
        Action: "s3:ListBucket",
        Resource: arns.buckets[store],
        Condition: { StringLike: { "s3:prefix": unique(prefixes) } },
      });
    }
  }
  statements.push({
    Sid: "UseDataKey",
    Effect: "Allow",
    Action: ["kms:Decrypt", "kms:GenerateDataKey"],
    Resource: arns.key,
  });
  statements.push({
    Sid: "PublishAssetEvents",
    Effect: "Allow",
    Action: "events:PutEvents",
    Resource: arns.assetBus,
    // Only "asset materialised" events from Tributary: a function cannot forge source events.
    Condition: {
      StringEquals: { "events:source": MESSAGES.producer, "events:detail-type": MESSAGES.assetMaterialised },
    },
  });
  if (arns.queue) {
    statements.push({
      Sid: "ConsumeQueue",
      Effect: "Allow",
      Action: [
        "sqs:ChangeMessageVisibility",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ReceiveMessage",
      ],
      Resource: arns.queue,
    });
  }
  if (arns.stream) {
    statements.push({
      Sid: "ReadStream",
      Effect: "Allow",
      Action: [...STREAM_READ_ACTIONS],
      Resource: arns.stream,
    });
  }
  if (arns.deadLetters) {
    statements.push({
      Sid: "DeadLetter",
      Effect: "Allow",
      Action: "sqs:SendMessage",
      Resource: arns.deadLetters,
    });
  }
  if (arns.tables) {
    statements.push({
      Sid: "CommitTables",
      Effect: "Allow",
      Action: TABLE_COMMIT_ACTIONS,
      Resource: [arns.tables.catalog, arns.tables.database, ...arns.tables.tables],
    });
  }
  if (arns.secrets && arns.secrets.length > 0) {
    statements.push({
      Sid: "ReadSecrets",
      Effect: "Allow",
      Action: "secretsmanager:GetSecretValue",
      Resource: unique([...arns.secrets]),
    });
  }
  if (arns.models && arns.models.length > 0) {
    statements.push({
      Sid: "InvokeEmbeddingModel",
      Effect: "Allow",
      Action: "bedrock:InvokeModel",
      Resource: unique([...arns.models]),
    });
  }
  statements.push({
    Sid: "WriteLogs",
    Effect: "Allow",
    Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
    Resource: `${arns.logGroup}:log-stream:*`,
  });
  return document(statements);
}

/**
 * What Lambda's event source mapping reads a Kinesis data stream with, through the function's role
 * (AWS Lambda developer guide, "Process Amazon Kinesis Data Streams records with Lambda"), without
 * SubscribeToShard: the mapping polls with the standard iterator, no enhanced fan-out consumer.
 */
export const STREAM_READ_ACTIONS = [
  "kinesis:DescribeStream",
  "kinesis:DescribeStreamSummary",
  "kinesis:GetRecords",
  "kinesis:GetShardIterator",
  "kinesis:ListShards",
] as const;

/** What Debezium Server's Kinesis sink writes with: PutRecords (and PutRecord, its single form). */
export const STREAM_SEND_ACTIONS = ["kinesis:PutRecord", "kinesis:PutRecords"] as const;

/**
 * The one inline policy of a stream's producer role (Debezium Server's): send to that stream and
 * nothing else, and make data keys with the stack's key only as Kinesis encrypts that stream with it.
 */
export function producerPolicy(streamArn: string, keyArn: string, region: string): PolicyDocument {
  return document([
    { Sid: "SendToStream", Effect: "Allow", Action: [...STREAM_SEND_ACTIONS], Resource: streamArn },
    {
      Sid: "EncryptRecords",
      Effect: "Allow",
      Action: "kms:GenerateDataKey",
      Resource: keyArn,
      Condition: { StringEquals: { "kms:ViaService": `kinesis.${region}.amazonaws.com` } },
    },
  ]);
}

/** The ARNs the stack's read-only query role's policy refers to, resolved. */
export interface QueryArns {
  readonly workgroup: string;
  readonly catalog: string;
  readonly database: string;
  /** The curated store's bucket: the role reads its `curated/` zone, the tables, and nothing else. */
  readonly curated: string;
  /** The query results' bucket: Athena writes each query's results under `athena/` for the role. */
  readonly results: string;
  readonly key: string;
}

/** Where in the results bucket Athena writes query results (the workgroup's output location). */
export const RESULTS_PREFIX = "athena/";

/**
 * The one inline policy of the stack's read-only query role: run queries in the stack's Athena workgroup,
 * read the Glue catalog entries of the stack's database, read the curated zone of the curated store (never
 * raw, quarantine or Tributary's records), write and read its results, and use the stack's key for both.
 */
export function queryPolicy(arns: QueryArns): PolicyDocument {
  const tables = arns.database.replace(/:database\/([^/]+)$/, ":table/$1/*");
  return document([
    {
      Sid: "RunQueries",
      Effect: "Allow",
      Action: [
        "athena:GetQueryExecution",
        "athena:GetQueryResults",
        "athena:GetWorkGroup",
        "athena:StartQueryExecution",
        "athena:StopQueryExecution",
      ],
      Resource: arns.workgroup,
    },
    {
      Sid: "ReadCatalog",
      Effect: "Allow",
      Action: ["glue:GetDatabase", "glue:GetPartitions", "glue:GetTable", "glue:GetTables"],
      Resource: [arns.catalog, arns.database, tables],
    },
    { Sid: "ReadTables", Effect: "Allow", Action: "s3:GetObject", Resource: `${arns.curated}/curated/*` },
    {
      Sid: "ListTables",
      Effect: "Allow",
      Action: "s3:ListBucket",
      Resource: arns.curated,
      Condition: { StringLike: { "s3:prefix": ["curated/*"] } },
    },
    {
      Sid: "WriteResults",
      Effect: "Allow",
      Action: ["s3:AbortMultipartUpload", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:PutObject"],
      Resource: `${arns.results}/${RESULTS_PREFIX}*`,
    },
    {
      Sid: "ListResults",
      Effect: "Allow",
      Action: ["s3:ListBucket", "s3:ListBucketMultipartUploads"],
      Resource: arns.results,
      Condition: { StringLike: { "s3:prefix": [`${RESULTS_PREFIX}*`] } },
    },
    {
      Sid: "LocateBuckets",
      Effect: "Allow",
      Action: "s3:GetBucketLocation",
      Resource: [arns.curated, arns.results],
    },
    {
      Sid: "UseDataKey",
      Effect: "Allow",
      Action: ["kms:Decrypt", "kms:GenerateDataKey"],
      Resource: arns.key,
    },
  ]);
}

/**
 * Who may assume a role the stack makes for principals outside it (a stream's producer, the query role):
 * the stack's account, whose IAM policies then say which of its principals do.
 */
export function assumeFromAccount(account: string): PolicyDocument {
  return document([
    { Effect: "Allow", Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: "sts:AssumeRole" },
  ]);
}

/** Deny every request to a bucket that does not use TLS. */
export function denyInsecureTransport(bucketArn: string): Statement {
  return {
    Sid: "DenyInsecureTransport",
    Effect: "Deny",
    Principal: "*",
    Action: "s3:*",
    Resource: [bucketArn, `${bucketArn}/*`],
    Condition: { Bool: { "aws:SecureTransport": "false" } },
  };
}

/** Let one AWS service send to one queue, only on behalf of the named sources (rules, schedules). */
export function queueAccess(
  queueArn: string,
  service: string,
  sourceArns: readonly string[],
): PolicyDocument {
  return document([
    {
      Sid: "AllowDelivery",
      Effect: "Allow",
      Principal: { Service: service },
      Action: "sqs:SendMessage",
      Resource: queueArn,
      Condition: {
        ArnEquals: { "aws:SourceArn": sourceArns.length === 1 ? sourceArns[0]! : [...sourceArns] },
      },
    },
  ]);
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

/**
 * `tributary:aws:Alerts`: the SNS topic every alarm of the stack notifies, with the alert e-mail
 * subscribed (AWS sends it a confirmation mail first) and a topic policy that lets only CloudWatch
 * alarms of this account publish.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { document } from "./grants.ts";

export interface AlertsArgs {
  readonly email: string;
  readonly tags: Record<string, string>;
}

export class Alerts extends pulumi.ComponentResource {
  readonly topicArn: pulumi.Output<string>;

  constructor(name: string, args: AlertsArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("tributary:aws:Alerts", name, {}, opts);
    const parent = { parent: this };
    const topic = new aws.sns.Topic(name, { tags: args.tags }, parent);
    new aws.sns.TopicSubscription(
      `${name}-email`,
      { topic: topic.arn, protocol: "email", endpoint: args.email },
      parent,
    );
    new aws.sns.TopicPolicy(
      `${name}-policy`,
      {
        arn: topic.arn,
        policy: topic.arn.apply((arn) =>
          JSON.stringify(
            document([
              {
                Sid: "AllowCloudWatchAlarms",
                Effect: "Allow",
                Principal: { Service: "cloudwatch.amazonaws.com" },
                Action: "sns:Publish",
                Resource: arn,
                Condition: { StringEquals: { "aws:SourceAccount": arn.split(":")[4]! } },
              },
            ]),
          ),
        ),
      },
      parent,
    );
    this.topicArn = topic.arn;
    this.registerOutputs({ topicArn: this.topicArn });
  }
}

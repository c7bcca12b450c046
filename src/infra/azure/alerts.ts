/**
 * `tributary:azure:Alerts`: the action group every alert of the stack notifies (the alert e-mail, in the
 * common alert schema), and the Log Analytics workspace every function's Application Insights writes to,
 * with the stack's log retention.
 */
import * as monitor from "@pulumi/azure-native/monitor/index.js";
import * as operationalinsights from "@pulumi/azure-native/operationalinsights/index.js";
import * as pulumi from "@pulumi/pulumi";

export interface AlertsArgs {
  readonly resourceGroupName: pulumi.Input<string>;
  readonly email: string;
  /** At most 12 characters: what the e-mails and SMS call the group. */
  readonly shortName: string;
  readonly retentionInDays: number;
  readonly tags: Record<string, string>;
}

export class Alerts extends pulumi.ComponentResource {
  readonly actionGroupId: pulumi.Output<string>;
  readonly workspaceId: pulumi.Output<string>;

  constructor(name: string, args: AlertsArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("tributary:azure:Alerts", name, {}, opts);
    const parent = { parent: this };
    const group = new monitor.ActionGroup(
      name,
      {
        resourceGroupName: args.resourceGroupName,
        actionGroupName: name,
        groupShortName: args.shortName.slice(0, 12),
        enabled: true,
        location: "global",
        emailReceivers: [{ name: "alert-email", emailAddress: args.email, useCommonAlertSchema: true }],
        tags: args.tags,
      },
      parent,
    );
    const workspace = new operationalinsights.Workspace(
      `${name}-logs`,
      {
        resourceGroupName: args.resourceGroupName,
        workspaceName: `${name}-logs`,
        sku: { name: "PerGB2018" },
        retentionInDays: args.retentionInDays,
        tags: args.tags,
      },
      parent,
    );
    this.actionGroupId = group.id;
    this.workspaceId = workspace.id;
    this.registerOutputs({ actionGroupId: this.actionGroupId, workspaceId: this.workspaceId });
  }
}

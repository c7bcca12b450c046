/**
 * `tributary:azure:Group`: the stack's resource group, which every other resource of the stack lives in.
 * Protected: deleting it deletes the stores with it.
 */
import * as resources from "@pulumi/azure-native/resources/index.js";
import * as pulumi from "@pulumi/pulumi";

export interface GroupArgs {
  readonly location: string;
  readonly tags: Record<string, string>;
}

export class Group extends pulumi.ComponentResource {
  readonly name: pulumi.Output<string>;
  readonly id: pulumi.Output<string>;

  constructor(name: string, args: GroupArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("tributary:azure:Group", name, {}, opts);
    const group = new resources.ResourceGroup(
      name,
      { resourceGroupName: name, location: args.location, tags: args.tags },
      { parent: this, protect: true },
    );
    this.name = group.name;
    this.id = group.id;
    this.registerOutputs({ name: this.name, id: this.id });
  }
}

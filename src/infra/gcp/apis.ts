/**
 * `tributary:gcp:Apis`: the APIs the stack uses (services.ts), enabled in its project, one
 * `gcp.projects.Service` each. Every component's resources wait for the services of their own APIs
 * (`dependsOn: apis.of(...)`), so the first `pulumi up` on a new project enables what it needs first.
 *
 * A service stays enabled when it leaves the stack (`disableOnDestroy: false`): the project is not the
 * stack's alone, and disabling an API under other workloads, or before this stack's own resources are
 * gone, breaks them.
 */
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { APIS, type Api } from "./services.ts";

export interface ApisArgs {
  readonly project: string;
  readonly apis: readonly Api[];
}

export class Apis extends pulumi.ComponentResource {
  readonly #services: Partial<Record<Api, gcp.projects.Service>> = {};

  constructor(name: string, args: ApisArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("tributary:gcp:Apis", name, {}, opts);
    for (const api of args.apis) {
      this.#services[api] = new gcp.projects.Service(
        `${name}-${api}`,
        {
          project: args.project,
          service: APIS[api],
          disableOnDestroy: false,
          disableDependentServices: false,
        },
        { parent: this },
      );
    }
    this.registerOutputs({});
  }

  /** The services of `apis`, for a resource's `dependsOn`; every one of them must be enabled here. */
  of(...apis: Api[]): gcp.projects.Service[] {
    return apis.map((api) => {
      const service = this.#services[api];
      if (!service) throw new Error(`the stack does not enable ${APIS[api]}: add it to STACK_APIS`);
      return service;
    });
  }
}

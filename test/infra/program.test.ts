import * as pulumi from "@pulumi/pulumi";
import { toLineage } from "tributary";
import { describe, expect, it } from "vitest";
import graph from "../../assets/index.ts";

describe("the Pulumi program", () => {
  it("loads the graph and exports its keys and lineage without creating resources yet", async () => {
    const created: string[] = [];
    await pulumi.runtime.setMocks(
      {
        newResource: (args) => {
          created.push(args.type);
          return { id: `${args.name}-id`, state: args.inputs };
        },
        call: (args) => args.inputs,
      },
      "tributary",
      "dev",
    );
    // The program is imported after the mocks are set (a static import would run first).
    const program = await import("../../infra/index.ts");
    expect(program.assets).toEqual(graph.order);
    expect(program.lineage).toEqual(toLineage(graph));
    expect(program.stackName).toBe("dev");
    expect(created).toEqual([]);
  });
});

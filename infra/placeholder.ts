/**
 * PLACEHOLDER deployment package, deployed until the handler bundles exist (`tributary bundle`, built
 * by the cloud-runtime issue). Every function gets it, and it fails loudly when invoked, so a stack
 * deployed before its bundles are built can never look as if it works.
 */
import * as pulumi from "@pulumi/pulumi";

export const PLACEHOLDER_SOURCE = `// Tributary placeholder: no handler bundle was deployed.
export const handler = async () => {
  throw new Error("Tributary placeholder: this function has no handler bundle yet; build it with tributary bundle and deploy again.");
};
`;

export const PLACEHOLDER_CODE = new pulumi.asset.AssetArchive({
  "index.mjs": new pulumi.asset.StringAsset(PLACEHOLDER_SOURCE),
});

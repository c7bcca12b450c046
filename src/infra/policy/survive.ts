/**
 * The data-loss guard's reading of one resource, shared by every cloud's part of the
 * `stores-survive-changes` rule: a resource that holds data (a bucket, a storage account, a blob
 * container) or makes it readable (a key) must be protected (no stack change deletes or replaces it) and
 * retained on delete (removed from the stack, it stays in the cloud), and must not be deleted before its
 * replacement exists, unless it is marked disposable (the tag `tributary:disposable` = "true", which the
 * adapters set when every asset whose data it holds is declared `disposable: true`).
 *
 * What is known where: offline records (`tributary synth`) hold the options protect, retainOnDelete and
 * deleteBeforeReplace when true, and nothing else, so an absent option is not set. Under `pulumi preview`
 * the engine passes a policy `protect` and `deleteBeforeReplace` only: `index.ts` records retainOnDelete as
 * UNKNOWN there, and that part of the check is skipped. Neither records `replaceOnChanges`: a record that
 * carries it (a list of input names) is checked, one that does not is not.
 */
import type { ResourceRecord } from "../synth/record.ts";
import { at, UNKNOWN } from "./read.ts";

/** The marker's value: "true" marks a disposable resource. */
export const DISPOSABLE = "true";

/**
 * What is wrong with `r`, as the clauses of one message (empty when nothing is): `marker` is the value of
 * its disposable tag, label or metadata (UNKNOWN when not known yet), `label` how messages name it, `loss`
 * what its deletion loses and `remedy` how to let it go instead.
 */
export function survivalProblems(
  r: ResourceRecord,
  marker: unknown,
  label: string,
  loss: string,
  remedy: string,
): string[] {
  if (marker === UNKNOWN || marker === DISPOSABLE) return [];
  const options = r.options ?? {};
  const protect = options["protect"];
  const retain = options["retainOnDelete"];
  const problems: string[] = [];
  if (protect !== UNKNOWN && protect !== true) {
    problems.push(
      `${label} is not protected, so a stack change may delete or replace it and lose ${loss}; keep protect: true ` +
        `and retainOnDelete: true on it, or ${remedy}`,
    );
  } else if (retain !== UNKNOWN && retain !== true) {
    problems.push(
      `${label} is not retained on delete, so removing it from the stack deletes it and loses ${loss}; set ` +
        `retainOnDelete: true on it, or ${remedy}`,
    );
  }
  if (options["deleteBeforeReplace"] === true) {
    problems.push(
      `${label} sets deleteBeforeReplace, so a replacement deletes it, and ${loss}, before its successor ` +
        `exists; remove deleteBeforeReplace`,
    );
  }
  const replaceOn = options["replaceOnChanges"];
  if (Array.isArray(replaceOn) && replaceOn.length > 0) {
    problems.push(
      `${label} sets replaceOnChanges (${replaceOn.map((p) => JSON.stringify(p)).join(", ")}), so changing ` +
        `those inputs replaces it and loses ${loss}; remove replaceOnChanges`,
    );
  }
  return problems;
}

/** The value of a tag (or label, or metadata entry) `key` of the map input `input`; UNKNOWN when not known. */
export function marker(r: ResourceRecord, input: string, key: string): unknown {
  return at(r.inputs, input, key);
}

/** What messages say is lost when a store goes, and how to let it go. */
export const STORE_LOSS = "its data";
export const STORE_REMEDY =
  "declare the assets and sources whose data it holds disposable: true if that data can be rebuilt or thrown away";
/** What messages say is lost when a key goes, and how to let it go. */
export const KEY_LOSS = "every store's data it encrypts";
export const KEY_REMEDY =
  "declare every asset and source of the stack disposable: true if no store's data needs keeping";

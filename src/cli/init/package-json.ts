/**
 * The project's package.json as `tributary init` leaves it: a new one, or the folder's own with what the
 * project needs added (`npm init -y && npm install tributary` before `tributary init` is the usual way
 * in). Nothing the folder's package.json already says is changed, with two exceptions that would
 * otherwise break the project: `"type"` becomes `"module"` (the project's TypeScript is ESM), and npm's
 * placeholder test script (`echo "Error: no test specified" && exit 1`) gives way to the pipeline's tests.
 */

/** What the new project depends on, and how. */
export interface PackageNeeds {
  readonly name: string;
  /** The dependency spec of tributary, e.g. "^0.1.0", "file:../tributary-0.1.0.tgz", "npm:@acme/tributary@^0.1". */
  readonly tributary: string;
  /** True when the spec was asked for (`--tributary`): it replaces the folder's own. */
  readonly tributaryGiven: boolean;
  readonly dependencies: Readonly<Record<string, string>>;
  readonly devDependencies: Readonly<Record<string, string>>;
  readonly scripts: Readonly<Record<string, string>>;
  /** The Node.js versions the project runs on (tributary's own `engines.node`). */
  readonly node: string;
}

/** The result: the file's text, and one line per change to an existing package.json. */
export interface PackagePlan {
  readonly text: string;
  /** Whether the folder had a package.json. */
  readonly existed: boolean;
  /** What changed in it, e.g. `type "module" (was "commonjs")`; empty for a new file. */
  readonly changes: readonly string[];
  /** The scripts it already had under a name the project uses, kept as they were. */
  readonly kept: readonly string[];
}

/** npm's placeholder test script, written by `npm init`. */
export const NPM_PLACEHOLDER_TEST = 'echo "Error: no test specified" && exit 1';

type Json = Record<string, unknown>;

export function planPackageJson(existing: Json | undefined, needs: PackageNeeds): PackagePlan {
  if (existing === undefined) {
    const pkg = {
      name: needs.name,
      version: "0.1.0",
      private: true,
      type: "module",
      engines: { node: needs.node },
      scripts: { ...needs.scripts },
      dependencies: sorted({ ...needs.dependencies, tributary: needs.tributary }),
      devDependencies: sorted({ ...needs.devDependencies }),
    };
    return { text: `${JSON.stringify(pkg, null, 2)}\n`, existed: false, changes: [], kept: [] };
  }

  const pkg: Json = { ...existing };
  const changes: string[] = [];
  const kept: string[] = [];
  if (pkg.type !== "module") {
    changes.push(`type "module"${pkg.type === undefined ? "" : ` (was ${JSON.stringify(pkg.type)})`}`);
    pkg.type = "module";
  }
  if (pkg.engines === undefined) {
    pkg.engines = { node: needs.node };
    changes.push(`engines.node "${needs.node}"`);
  }

  const scripts = { ...objectField(existing, "scripts") };
  const added: string[] = [];
  for (const [name, command] of Object.entries(needs.scripts)) {
    const theirs = scripts[name];
    if (theirs === undefined || (name === "test" && theirs === NPM_PLACEHOLDER_TEST)) {
      scripts[name] = command;
      added.push(name);
    } else if (theirs !== command) {
      kept.push(name);
    }
  }
  pkg.scripts = scripts;
  if (added.length > 0) changes.push(`scripts ${added.join(", ")}`);

  const dependencies = { ...objectField(existing, "dependencies") };
  const devDependencies = { ...objectField(existing, "devDependencies") };
  const addDeps = (
    into: Record<string, unknown>,
    wanted: Readonly<Record<string, string>>,
    field: string,
  ) => {
    const names = Object.keys(wanted).filter(
      (n) => dependencies[n] === undefined && devDependencies[n] === undefined,
    );
    for (const n of names) into[n] = wanted[n];
    if (names.length > 0) changes.push(`${field} ${names.join(", ")}`);
  };
  // tributary: the folder's own spec (e.g. the tarball it was installed from) unless one was asked for.
  const theirs = dependencies.tributary ?? devDependencies.tributary;
  if (theirs === undefined || (needs.tributaryGiven && theirs !== needs.tributary)) {
    delete devDependencies.tributary;
    dependencies.tributary = needs.tributary;
    changes.push(
      `dependencies tributary "${needs.tributary}"${theirs === undefined ? "" : ` (was ${JSON.stringify(theirs)})`}`,
    );
  }
  addDeps(dependencies, needs.dependencies, "dependencies");
  addDeps(devDependencies, needs.devDependencies, "devDependencies");
  pkg.dependencies = sorted(dependencies);
  pkg.devDependencies = sorted(devDependencies);
  return { text: `${JSON.stringify(pkg, null, 2)}\n`, existed: true, changes, kept };
}

function objectField(pkg: Json, field: string): Record<string, unknown> {
  const value = pkg[field];
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/** An object with its keys in order, as npm writes dependencies. */
function sorted<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

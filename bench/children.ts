/**
 * What a benchmark's child processes use, which wall-clock time alone hides on a shared machine: their
 * CPU time and their peak memory.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** Clock ticks per second of /proc's CPU times. */
const TICKS = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * CPU seconds of this process's children that have been waited for (with their own children), from
 * /proc/self/stat (cutime + cstime); undefined off Linux. The delta across one child is that child's.
 */
export function childrenCpu(): number | undefined {
  try {
    const stat = readFileSync("/proc/self/stat", "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[0] is field 3 (state); cutime and cstime are fields 16 and 17.
    return (Number(fields[13]) + Number(fields[14])) / TICKS;
  } catch {
    return undefined;
  }
}

/** The running children of `pid`, and theirs (Linux). */
function descendants(pid: number): number[] {
  let children: number[];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .split(" ")
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
  return children.flatMap((c) => [c, ...descendants(c)]);
}

/**
 * Watches the peak resident memory (VmHWM) of this process's children until `stop`, which returns it in
 * MB: the largest of any one child, sampled every `everyMs` (NaN off Linux).
 */
export function watchChildrenPeakRss(everyMs = 200): { stop(): number } {
  let peak = Number.NaN;
  const sample = () => {
    for (const pid of descendants(process.pid)) {
      try {
        const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
        if (kb) peak = Math.max(Number.isNaN(peak) ? 0 : peak, Number(kb) / 1024);
      } catch {
        // The child exited between listing and reading.
      }
    }
  };
  const timer = setInterval(sample, everyMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}

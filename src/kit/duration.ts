import { DeclarationError } from "./errors.ts";

const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$/;

/** Minutes in a duration written like "26h", "90m", "2d", "1d12h". */
export function parseDuration(text: string, where: string): number {
  const m = DURATION.exec(text);
  const minutes = m ? Number(m[1] ?? 0) * 1440 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0) : 0;
  if (!m || text === "" || minutes <= 0) {
    throw new DeclarationError(
      `${where}: duration ${JSON.stringify(text)} is invalid: write days, hours and minutes like "26h", "90m" or "1d12h".`,
      [],
    );
  }
  return minutes;
}

export function formatDuration(minutes: number): string {
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  return `${d ? `${d}d` : ""}${h ? `${h}h` : ""}${m ? `${m}m` : ""}` || "0m";
}

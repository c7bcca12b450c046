/**
 * A plain-text table: a header row and data rows, columns left-aligned and separated by two spaces.
 * The last column is not padded, so no line ends in spaces.
 */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  for (const row of rows) {
    if (row.length !== header.length) {
      throw new Error(
        `table: a row has ${row.length} cells for ${header.length} columns (a bug in Tributary)`,
      );
    }
  }
  const widths = header.map((_, c) => Math.max(...all.map((row) => width(row[c]!))));
  const line = (row: readonly string[]) =>
    row
      .map((cell, c) => (c === row.length - 1 ? cell : cell + " ".repeat(widths[c]! - width(cell))))
      .join("  ");
  return `${all.map(line).join("\n")}\n`;
}

/** Display width in code points: enough for the keys, cron expressions and "×" the CLI prints. */
function width(text: string): number {
  return [...text].length;
}

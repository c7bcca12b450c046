/**
 * The lower-cased words of a SQL text outside comments and string literals: enough to tell whether
 * the SQL names a table, without parsing it. Quoted identifiers ("orders") count as words.
 */
export function sqlWords(sql: string): Set<string> {
  // Most SQL has no comment or string literal: skip the three passes that remove them.
  const code = !/['\-/]/.test(sql)
    ? sql
    : sql
        .replace(/--[^\n]*/g, " ")
        .replace(/\/\*[\s\S]*?\*\//g, " ")
        .replace(/'(?:[^']|'')*'/g, " ");
  return new Set(code.toLowerCase().match(/[a-z_][a-z0-9_]*/g));
}

/**
 * Whether SQL names a table, without parsing it: `sqlCode` is the lower-cased text outside comments and
 * string literals (quoted identifiers like "orders" stay), and `namesWord` finds a whole word in it.
 */
export function sqlCode(sql: string): string {
  // Most SQL has no comment or string literal: skip the three passes that remove them.
  const code = !/['\-/]/.test(sql)
    ? sql
    : sql
        .replace(/--[^\n]*/g, " ")
        .replace(/\/\*[\s\S]*?\*\//g, " ")
        .replace(/'(?:[^']|'')*'/g, " ");
  return code.toLowerCase();
}

const isWordChar = (c: number) => (c >= 97 && c <= 122) || c === 95 || (c >= 48 && c <= 57);

/** Whether lower-case `word` stands in `code` (from `sqlCode`) as a whole word, not inside a longer one. */
export function namesWord(code: string, word: string): boolean {
  for (let at = code.indexOf(word); at >= 0; at = code.indexOf(word, at + 1)) {
    const before = at === 0 ? -1 : code.charCodeAt(at - 1);
    const after = at + word.length >= code.length ? -1 : code.charCodeAt(at + word.length);
    if (!isWordChar(before) && !isWordChar(after)) return true;
  }
  return false;
}

/** Where a command writes: the process's streams, or a buffer in a test. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Whether standard error is a terminal (progress bars); false in tests. */
  readonly tty?: boolean;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  tty: process.stderr.isTTY === true,
};

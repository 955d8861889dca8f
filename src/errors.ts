/**
 * Errors that end a command, each with its exit code: 2 for bad input or usage (the
 * message names the place and the problem), 1 for a runtime failure. Anything else that
 * escapes is a bug and is reported as a runtime failure without a stack trace.
 */
export class UsageError extends Error {
  readonly exitCode = 2;
  override name = 'UsageError';
}

/** Bad input with one line per problem, already formatted as `FILE: PATH: message`. */
export class InputError extends Error {
  readonly exitCode = 2;
  override name = 'InputError';
  constructor(readonly lines: readonly string[]) {
    super(lines.join('\n'));
  }
}

export class RuntimeError extends Error {
  readonly exitCode = 1;
  override name = 'RuntimeError';
}

export function exitCodeOf(error: unknown): number {
  return error instanceof UsageError || error instanceof InputError ? 2 : 1;
}

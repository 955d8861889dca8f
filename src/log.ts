/** pino JSON on stderr; stdout stays for command output (plan, inventory). */
import { pino, destination, type Logger } from 'pino';

export type { Logger };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function createLogger(level: string): Logger {
  return pino({ name: 'dockward', level, base: { pid: process.pid } }, destination({ fd: 2, sync: true }));
}

import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';
import type { build } from 'pino-pretty';

/** pino-pretty only for a person at a terminal: loaded when asked for, not at every process's start. */
const prettyStream = (...args: Parameters<typeof build>): ReturnType<typeof build> =>
  (createRequire(import.meta.url)('pino-pretty') as { build: typeof build }).build(...args);

export type LogFormat = 'json' | 'pretty';

/** One pino logger per process; children add {component}, {reqId}, {instanceId}. Keys never reach the log. */
export function createLogger(level: string, destination?: NodeJS.WritableStream, format: LogFormat = 'json'): Logger {
  const out = destination ?? process.stderr;
  return pino(
    {
      level,
      base: { svc: 'gantry' },
      redact: {
        paths: ['req.headers.authorization', 'req.query.api_key', '*.api_key', '*.apiKey', '*.instance_api_key', 'key'],
        censor: '[redacted]',
      },
    },
    // Synchronous, in this thread: a line logged just before an exit is still printed.
    format === 'pretty' ? prettyStream({ destination: out, sync: true, singleLine: true, ignore: 'pid,hostname,svc', translateTime: 'SYS:HH:MM:ss.l' }) : out,
  );
}
export type { Logger };

import { pino, type Logger } from 'pino';
import { build as prettyStream } from 'pino-pretty';

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

import { pino, type Logger } from 'pino';

/** One pino logger per process; children add {component}, {reqId}, {instanceId}. Keys never reach the log. */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { svc: 'gantry' },
      redact: {
        paths: ['req.headers.authorization', 'req.query.api_key', '*.api_key', '*.apiKey', '*.instance_api_key', 'key'],
        censor: '[redacted]',
      },
    },
    destination ?? process.stderr,
  );
}
export type { Logger };

import { Worker } from 'node:worker_threads';
import type { ExecutableSpec } from '../../domain/catalog/records.js';
import { GantryError, isErrorCode } from '../../domain/errors.js';
import type { TemplateFile } from './template-files.js';

type Answer =
  | { readonly ok: true; readonly specs: ExecutableSpec[] }
  | { readonly ok: false; readonly error: { readonly code?: string; readonly message: string; readonly details?: Record<string, unknown> } };

/** Memory for one parse: far above what a template of MAX_TEMPLATE_BYTES takes. */
const LIMITS = { maxOldGenerationSizeMb: 256, maxYoungGenerationSizeMb: 32, stackSizeMb: 4 };

/**
 * `parseTemplateFiles` on a thread of its own, bounded in time (`timeoutMs`) and memory. Reading YAML
 * can take time that grows much faster than the text (the parser's duplicate-key check: a 128 KiB file
 * of one crafted shape took 100 s), and the thread that serves every request must not wait for it.
 * A parse past its bound is stopped and answered TEMPLATE_INVALID, as a file that does not parse.
 */
export function parseTemplateFilesOffThread(files: readonly TemplateFile[], otherKinds: 'fail' | 'skip', timeoutMs: number): Promise<ExecutableSpec[]> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./template-parse-worker.js', import.meta.url), { workerData: { files, otherKinds }, resourceLimits: LIMITS });
    const tooLong = (why: string): GantryError =>
      new GantryError('TEMPLATE_INVALID', `The template files could not be read ${why}; make them smaller and simpler.`, { field: 'files' });
    const timer = setTimeout(() => {
      reject(tooLong(`within ${timeoutMs} ms (templateParseTimeoutMs)`));
      void worker.terminate();
    }, timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      void worker.terminate();
    };
    worker.once('message', (a: Answer) => {
      done();
      if (a.ok) return resolve(a.specs);
      const { code, message, details } = a.error;
      reject(code !== undefined && isErrorCode(code) ? new GantryError(code, message, details ?? {}) : new Error(message));
    });
    worker.once('error', (err: Error & { code?: string }) => {
      done();
      reject(err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? tooLong('within the memory a parse may take') : err);
    });
    worker.once('exit', () => {
      clearTimeout(timer);
      reject(tooLong('(the parse ended without an answer)'));
    });
  });
}

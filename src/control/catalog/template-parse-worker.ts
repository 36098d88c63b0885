import { parentPort, workerData } from 'node:worker_threads';
import { isGantryError } from '../../domain/errors.js';
import { parseTemplateFiles, type TemplateFile } from './template-files.js';

/** The thread that reads template files for `parseTemplateFilesOffThread`: one parse, one answer. */
const { files, otherKinds } = workerData as { files: TemplateFile[]; otherKinds: 'fail' | 'skip' };
try {
  parentPort?.postMessage({ ok: true, specs: parseTemplateFiles(files, otherKinds) });
} catch (err) {
  parentPort?.postMessage({
    ok: false,
    error: isGantryError(err) ? { code: err.code, message: err.message, details: err.details } : { message: err instanceof Error ? err.message : String(err) },
  });
}

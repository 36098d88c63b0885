import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * A module of the console (`web/src/...`), bundled as the console bundles it and imported here, so a
 * unit test runs the code the browser runs. Bundled whole, it imports nothing: a data URL holds it.
 */
export async function importWebModule<T>(...path: string[]): Promise<T> {
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const out = await build({ entryPoints: [join(root, 'web', 'src', ...path)], bundle: true, format: 'esm', platform: 'neutral', write: false });
  return (await import(`data:text/javascript;base64,${Buffer.from(out.outputFiles[0]!.text).toString('base64')}`)) as T;
}

import type { LogFormat } from '../log/logger.js';

/**
 * `--log-format`: pretty (pino-pretty, one readable line per event) for a person at a terminal, JSON
 * lines for anything that collects logs. Without the flag the log's own stream decides: a TTY is a person.
 */
export function chooseLogFormat(flag: string | undefined, isTty: boolean): LogFormat {
  if (flag === undefined) return isTty ? 'pretty' : 'json';
  if (flag === 'json' || flag === 'pretty') return flag;
  throw new Error(`--log-format must be json or pretty, not '${flag}'.`);
}

export interface BannerFacts {
  readonly url: string;
  /** The admin key when this start created it (the first start), else null: it is never shown again. */
  readonly createdKey: string | null;
  readonly adminKeyFile: string;
  /** Where the admin key is when it was not created now: the key file, the adminKey setting, or neither (the database's admin was made with another data dir). */
  readonly keySource?: 'created' | 'file' | 'revoked' | 'preset' | 'none';
  readonly dataDir: string;
  readonly database: string;
  readonly hostLine: string;
  /** `gantry up` (a host too) or `gantry server` (hosts join with a host token). */
  readonly localHost: boolean;
  /** Whether the CLI finds this data dir by itself (it is the default, or GANTRY_DATA_DIR names it); else the Try line names it. */
  readonly cliFindsDataDir?: boolean;
}

/** What `gantry up` / `gantry server` print once they listen; ends with the `Try:` line tests wait for. */
export function banner(f: BannerFacts): string {
  // The CLI's verbs find a server through its data dir: another one than theirs must be named.
  const dirEnv = f.cliFindsDataDir === false ? `GANTRY_DATA_DIR=${f.dataDir} ` : '';
  return [
    'Gantry is up.',
    `  URL:       ${f.url}`,
    ...adminKeyLines(f),
    `  Data dir:  ${f.dataDir}`,
    `  Database:  ${f.database}`,
    `  Host:      ${f.hostLine}`,
    '',
    f.localHost ? `Try:  ${dirEnv}npx gantry search offers` : `Try:  ${dirEnv}npx gantry create host-token   (then run \`gantry agent\` on each GPU machine)`,
    `Stop: Ctrl-C, or \`npx gantry down --data-dir ${f.dataDir}\``,
    '',
  ].join('\n');
}

/** The admin key's lines: the key itself only when created now; never a key file that was not written. */
function adminKeyLines(f: BannerFacts): string[] {
  const file = `  Key file:  ${f.adminKeyFile} (mode 0600; the CLI reads it when GANTRY_API_KEY is not set)`;
  if (f.createdKey !== null) return [`  Admin key: ${f.createdKey}  (created now; shown only this once)`, file];
  if (f.keySource === 'preset') return ['  Admin key: the preset one (setting adminKey, GANTRY_ADMIN_KEY); not written to this data dir'];
  if (f.keySource === 'revoked') {
    return [
      `  Admin key: the key in ${f.adminKeyFile} opens this database no more (it was revoked); start with GANTRY_ADMIN_KEY=<a new key> to add one (give the CLI --api-key until then)`,
    ];
  }
  if (f.keySource === 'none') {
    return [`  Admin key: not in this data dir (this database's admin was made with another one); give the CLI --api-key or GANTRY_API_KEY`];
  }
  return [`  Admin key: in ${f.adminKeyFile} (\`cat ${f.adminKeyFile}\`)`, file];
}

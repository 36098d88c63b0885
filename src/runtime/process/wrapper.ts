import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { WorkloadSpec } from '../runtime.js';
import { STAMP_NODE, STAMP_PERL } from './stamper.js';

/**
 * The fixed wrapper every process workload runs under (the process-group leader). It runs the
 * user's onstart with bash, then the main command given as argv (never through a shell string),
 * and records exit codes in files, so the truth survives a restart of Gantry itself.
 *
 * Output goes through the stamper (`stamper.ts`), a process of the workload's group, not of Gantry: a
 * workload that outlives Gantry keeps logging. The workload still writes to its own stdout and stderr.
 */
export const WRAPPER_SCRIPT = `#!/usr/bin/env bash
# Gantry process runtime wrapper. $GANTRY_META holds Gantry's files for the instance (read-only in a sandbox);
# $GANTRY_OUT is where the wrapper writes exit codes and output (the same folder for workloads started before it existed).
meta="$GANTRY_META"
out="\${GANTRY_OUT:-$meta}"
record() { printf '%s\\n' "$2" > "$out/$1.tmp" && mv -f "$out/$1.tmp" "$out/$1"; }
# Output goes through the stamper (stamp.pl or stamp.cjs): opening the FIFOs for writing waits until it
# has opened them for reading, so it is ready before the workload writes a line. The stamper ignores SIGTERM
# only once it has opened them (then it writes the last lines and ends at their end): a stop that comes
# before would leave it waiting in its open for ever. The workload starts only once it ignores SIGTERM: the
# wrapper's open of the third FIFO waits for the stamper's, which comes after. (A stop's SIGTERM in between
# ended the stamper, and the workload with SIGPIPE at its next line: no graceful stop, no last lines.)
ofifo="$out/stdout.fifo"
efifo="$out/stderr.fifo"
rfifo="$out/ready.fifo"
# Each program run here is a few milliseconds on every start's way: rm only when something is there.
for f in "$ofifo" "$efifo" "$rfifo"; do if [ -e "$f" ] || [ -L "$f" ]; then rm -f "$f"; fi; done
stamper=""
# A stamper that fails before it opened the FIFOs (no perl, a module missing: perl stops before it opens them)
# would leave the wrapper waiting: the next one takes over while the FIFOs are still there, plain copies last.
# perl is not checked by a run of its own first: that run was on every start's way (one more perl start).
# The stampers keep only PATH and the labels of the environment: the workload's PERL5OPT or NODE_OPTIONS are
# not theirs, and the labels find them as the workload's (builtins only: no program more on the way).
bare() { local v; for v in $(compgen -e); do case $v in PATH | GANTRY_RUNTIME_ID | GANTRY_INSTANCE_ID) ;; *) unset "$v" 2> /dev/null ;; esac; done; exec "$@"; }
by_node() { [ -p "$ofifo" ] && [ -x "$GANTRY_NODE" ] && (bare "$GANTRY_NODE" "$meta/stamp.cjs" "$ofifo" "$efifo" "$rfifo"); }
rescue() { [ -p "$ofifo" ] || return; { cat "$ofifo" >> "$out/output.log" & cat "$efifo" >> "$out/output.log"; wait; } 3<> "$rfifo"; }
if mkfifo "$ofifo" "$efifo" "$rfifo"; then
  if [ "$GANTRY_LOG_STAMPER" != node ] && command -v perl > /dev/null; then
    ({ (bare perl "$meta/stamp.pl" "$ofifo" "$efifo" "$rfifo") || by_node; } >> "$out/output.log" || rescue) &
    stamper=$!
  elif [ -x "$GANTRY_NODE" ]; then
    (by_node >> "$out/output.log" || rescue) &
    stamper=$!
  fi
fi
if [ -n "$stamper" ]; then
  exec > "$ofifo" 2> "$efifo"
  : > "$rfifo"
else
  exec >> "$out/output.log" 2>&1 # no stamper: plain lines, read back as stdout
fi
# The names only: the stamper holds the FIFOs open, and the workload need not wait for this. (A stamper that
# ended in the moment between its open and this rm would let the next one open them: it joins the same pipes
# while the workload writes; should every writer be gone already, it waits in its open until the group ends.)
rm -f "$ofifo" "$efifo" "$rfifo" &
unnamed=$!
# Before the wrapper itself ends: close its ends of the FIFOs and let the stamper write the last lines.
drain() { exec >&- 2>&-; [ -z "$stamper" ] || wait "$stamper"; }
if [ -s "$meta/onstart.sh" ]; then
  bash "$meta/onstart.sh"
  record onstart_exit_code "$?"
fi
if [ "$#" -gt 0 ]; then
  "$@"
  code=$?
  record exit_code "$code"
  drain
  exit "$code"
fi
if [ "$GANTRY_RUNTYPE" = "args" ]; then
  record exit_code "$(cat "$out/onstart_exit_code" 2>/dev/null || echo 0)"
  drain
  exit 0
fi
# ssh/jupyter launch modes: the instance stays up after onstart, as a container with sshd would.
wait "$unnamed" # reaped here: sleep would leave it a zombie
exec sleep infinity
`;

/** A start's files in the meta folder: the wrapper, the onstart, the stampers and the start time (the last run's exit codes are gone by then: clearExitCodes). */
export async function writeRunFiles(meta: string, onstart: string | null): Promise<void> {
  await writeFile(join(meta, 'run.sh'), WRAPPER_SCRIPT, { mode: 0o755 });
  await writeFile(join(meta, 'onstart.sh'), onstart ?? '', { mode: 0o644 });
  await writeFile(join(meta, 'stamp.pl'), STAMP_PERL, { mode: 0o644 });
  await writeFile(join(meta, 'stamp.cjs'), STAMP_NODE, { mode: 0o644 });
  await writeFile(join(meta, 'started'), String(Date.now()));
}

/** The last run's exit codes and group, gone: a start's first step. */
export async function clearExitCodes(meta: string, out: string): Promise<void> {
  await Promise.all([
    ...['exit_code', 'onstart_exit_code', 'pgid', 'leader-start'].map((f) => rm(join(meta, f), { force: true })),
    ...['exit_code', 'onstart_exit_code'].map((f) => rm(join(out, f), { force: true })),
  ]);
}

/** The wrapper's environment: the workload's, with its home on the disk, and what the wrapper itself reads (GANTRY_*, the labels among them). */
export function wrapperEnv(
  base: NodeJS.ProcessEnv,
  spec: WorkloadSpec,
  o: { disk: string; meta: string; out: string; runtimeId: string; logStamper: 'auto' | 'node' },
): NodeJS.ProcessEnv {
  return {
    ...base,
    HOME: o.disk,
    ...spec.env,
    GANTRY_META: o.meta,
    GANTRY_OUT: o.out,
    GANTRY_RUNTYPE: spec.runtype,
    GANTRY_RUNTIME_ID: o.runtimeId,
    GANTRY_INSTANCE_ID: String(spec.instanceId),
    GANTRY_LOG_STAMPER: o.logStamper,
    GANTRY_NODE: process.execPath,
  };
}

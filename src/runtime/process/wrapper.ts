/**
 * The fixed wrapper every process workload runs under (the process-group leader). It runs the
 * user's onstart with bash, then the main command given as argv (never through a shell string),
 * and records exit codes in files, so the truth survives a restart of Gantry itself.
 *
 * Output goes through the stamper (`stamper.ts`), a process of the workload's group, not of Gantry: a
 * workload that outlives Gantry keeps logging. The workload still writes to its own stdout and stderr.
 */
export const WRAPPER_SCRIPT = `#!/usr/bin/env bash
# Gantry process runtime wrapper. $GANTRY_META is the instance's runtime directory.
meta="$GANTRY_META"
record() { printf '%s\\n' "$2" > "$meta/$1.tmp" && mv -f "$meta/$1.tmp" "$meta/$1"; }
# Output goes through the stamper (stamp.pl or stamp.cjs): opening the FIFOs for writing waits until it
# has opened them for reading, so it is ready before the workload writes a line.
ofifo="$meta/stdout.fifo"
efifo="$meta/stderr.fifo"
rm -f "$ofifo" "$efifo"
stamper=""
# A stamper that fails before it opened the FIFOs would leave the wrapper waiting: plain copies take over.
rescue() { [ -p "$ofifo" ] || return; cat "$ofifo" >> "$meta/output.log" & cat "$efifo" >> "$meta/output.log"; wait; }
if mkfifo "$ofifo" "$efifo"; then
  if [ "$GANTRY_LOG_STAMPER" != node ] && perl -MTime::HiRes -MIO::Select -e 1 2>/dev/null; then
    (trap '' TERM INT; perl "$meta/stamp.pl" "$ofifo" "$efifo" >> "$meta/output.log" || rescue) &
    stamper=$!
  elif [ -x "$GANTRY_NODE" ]; then
    (trap '' TERM INT; "$GANTRY_NODE" "$meta/stamp.cjs" "$ofifo" "$efifo" >> "$meta/output.log" || rescue) &
    stamper=$!
  fi
fi
if [ -n "$stamper" ]; then
  exec > "$ofifo" 2> "$efifo"
else
  exec >> "$meta/output.log" 2>&1 # no stamper: plain lines, read back as stdout
fi
rm -f "$ofifo" "$efifo"
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
  record exit_code "$(cat "$meta/onstart_exit_code" 2>/dev/null || echo 0)"
  drain
  exit 0
fi
# ssh/jupyter launch modes: the instance stays up after onstart, as a container with sshd would.
exec sleep infinity
`;

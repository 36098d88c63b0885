/**
 * The fixed wrapper every process workload runs under (the process-group leader). It runs the
 * user's onstart with bash, then the main command given as argv (never through a shell string),
 * and records exit codes in files, so the truth survives a restart of Gantry itself.
 */
export const WRAPPER_SCRIPT = `#!/usr/bin/env bash
# Gantry process runtime wrapper. $GANTRY_META is the instance's runtime directory.
meta="$GANTRY_META"
record() { printf '%s\\n' "$2" > "$meta/$1.tmp" && mv -f "$meta/$1.tmp" "$meta/$1"; }
if [ -s "$meta/onstart.sh" ]; then
  bash "$meta/onstart.sh"
  record onstart_exit_code "$?"
fi
if [ "$#" -gt 0 ]; then
  "$@"
  code=$?
  record exit_code "$code"
  exit "$code"
fi
if [ "$GANTRY_RUNTYPE" = "args" ]; then
  record exit_code "$(cat "$meta/onstart_exit_code" 2>/dev/null || echo 0)"
  exit 0
fi
# ssh/jupyter launch modes: the instance stays up after onstart, as a container with sshd would.
exec sleep infinity
`;

/**
 * The entrypoint of every container that has an onstart or a command: POSIX sh (images may lack
 * bash). It runs onstart, then the main command as argv, records exit codes in /.gantry (a bind
 * mount of the instance's meta directory on the host), and forwards SIGTERM to its child, since a
 * shell as PID 1 would otherwise ignore it and every stop would wait for the kill.
 */
export const CONTAINER_WRAPPER = `meta=/.gantry
record() { printf '%s\\n' "$2" > "$meta/$1.tmp" && mv -f "$meta/$1.tmp" "$meta/$1"; }
child=0
stopping=0
term() { stopping=1; if [ "$child" -gt 0 ]; then kill -TERM "$child" 2>/dev/null; fi; }
trap term TERM INT
# wait returns early when a trapped signal arrives; keep waiting until the child is really gone.
waitchild() { while :; do wait "$child"; c=$?; kill -0 "$child" 2>/dev/null || return "$c"; done; }
if [ -s "$meta/onstart.sh" ]; then
  sh "$meta/onstart.sh" & child=$!
  waitchild
  record onstart_exit_code "$?"
fi
[ "$stopping" = 1 ] && exit 143
if [ "$#" -gt 0 ]; then
  "$@" & child=$!
  waitchild
  code=$?
  record exit_code "$code"
  exit "$code"
fi
if [ "$GANTRY_RUNTYPE" = "args" ]; then
  record exit_code "$(cat "$meta/onstart_exit_code" 2>/dev/null || echo 0)"
  exit 0
fi
# ssh/jupyter launch modes: the instance stays up after onstart.
while [ "$stopping" = 0 ]; do
  sleep 3600 & child=$!
  waitchild
done
exit 143
`;

# Sourced by the scripts here (needs $runs): step NAME OUT_FILE COMMAND... runs COMMAND unless
# OUT_FILE exists, its output in $runs/NAME.log, so that rerunning a script resumes it.
step() {
  local name=$1 out=$2
  shift 2
  if [ -f "$out" ]; then echo "$name: $out exists, skipped"; return; fi
  echo "$name: $(date -u +%H:%M) $*"
  "$@" >"$runs/$name.log" 2>&1
}

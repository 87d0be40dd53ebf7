#!/usr/bin/env bash
# A complete kmaint agent client (curl + jq) for an app whose work is one step: it follows the desired
# state and reports draining -> maintenance on a window and resuming -> running after it. A real app puts
# "stop fetching, finish in-flight work, commit, leave the group" where it reports draining, and
# "join the group again" where it reports resuming. KMAINT_AGENT_URL defaults to the agent's port.
set -euo pipefail
agent=${KMAINT_AGENT_URL:-http://127.0.0.1:8089}
report() { curl -fsS -o /dev/null -X POST "$agent/v1/state" -d "{\"state\":\"$1\",\"inFlight\":0,\"generation\":$2}"; }
generation=""
while true; do
  if ! desired=$(curl -fsS "$agent/v1/desired?after=$generation&wait=20s"); then sleep 1; continue; fi
  next=$(jq -r .generation <<<"$desired")
  [[ $next == "$generation" ]] && { report "$state" "$generation"; continue; }
  generation=$next
  if [[ $(jq -r .maintenance <<<"$desired") == true ]]; then
    report draining "$generation"; state=maintenance
  else
    report resuming "$generation"; state=running
  fi
  report "$state" "$generation"
done

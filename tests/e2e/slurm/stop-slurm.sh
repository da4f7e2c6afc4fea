#!/usr/bin/env bash
# Stop the one-node SLURM cluster of start-slurm.sh (slurmd, slurmctld, munged), by their pid files.
# Idempotent. PURGE=1 also removes the state folder (job ids start at 1 again).
set -uo pipefail
STATE=${SLURM_STATE_DIR:-/tmp/seenn-slurm}

stop() {  # name pidfile
  local pid
  [ -f "$2" ] || return 0
  pid=$(cat "$2")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    echo "stop-slurm: $1 stopped (pid $pid)"
  fi
  rm -f "$2"
}

stop slurmd "$STATE/slurmd.pid"
stop slurmctld "$STATE/slurmctld.pid"
stop munged /run/munge/munged.pid
if [ "${PURGE:-0}" = 1 ]; then rm -rf "$STATE"; fi

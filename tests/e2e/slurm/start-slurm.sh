#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for tests/e2e/test_submit_slurm.py: Debian's slurm-wlm
# (22.05 on Debian 12) without systemd. Needs root (apt-get, /etc/slurm, daemons that drop to the munge
# and slurm users). Idempotent: installs what is missing, writes the config, starts munged, slurmctld and
# slurmd unless they run, and waits until the node is idle. Exit status 3: SLURM cannot be had here (not
# root, no apt-get, install failed); anything else non-zero: it was installed but did not come up.
#
#   SLURM_STATE_DIR  state, spool and logs  (default /tmp/seenn-slurm)
#   SLURM_CPUS       CPUs of the node       (default: nproc)
#   SLURM_MEM_MB     memory of the node, MB (default 4096)
#   SLURM_WAIT_S     seconds to wait for the node to be idle (default 60)
set -euo pipefail

STATE=${SLURM_STATE_DIR:-/tmp/seenn-slurm}
CPUS=${SLURM_CPUS:-$(nproc)}
MEM=${SLURM_MEM_MB:-4096}
WAIT=${SLURM_WAIT_S:-60}
HOST=$(hostname -s)
CONF=/etc/slurm/slurm.conf
unavailable() { echo "start-slurm: $*" >&2; exit 3; }

[ "$(id -u)" = 0 ] || unavailable "needs root"

# 1. packages: the minimal set (8 packages, about 10 s with the package lists at hand)
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null \
   || ! command -v munged >/dev/null; then
  command -v apt-get >/dev/null || unavailable "SLURM is not installed and there is no apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null 2>&1 || true
  apt-get install -y -q --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null 2>&1 \
    || unavailable "apt-get install slurmctld slurmd slurm-client munge failed"
fi

# 2. slurmd and slurmctld look the node up by its short host name
getent hosts "$HOST" >/dev/null || echo "127.0.0.1 $HOST" >> /etc/hosts

# 3. munge (authentication): the package makes a key; without systemd, /run/munge is ours to create
install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
install -d -o munge -g munge -m 0755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
  chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key
fi
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  rm -f /run/munge/munged.pid
  runuser -u munge -- /usr/sbin/munged   # munged refuses to run as root
  for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
fi
munge -n | unmunge >/dev/null || { echo "start-slurm: munge does not work" >&2; exit 1; }

# 4. folders: slurmctld runs as the slurm user, slurmd as root
install -d -o slurm -g slurm -m 0755 "$STATE" "$STATE/ctld" "$STATE/log"
install -d -o root -g root -m 0755 "$STATE/d"
touch "$STATE/log/jobcomp.txt"; chown slurm:slurm "$STATE/log/jobcomp.txt"

# 5. the config. No slurmdbd: finished jobs go to a job-completion file, and stay known to scontrol and
# squeue for a day (MinJobAge). kill_invalid_depend cancels a job whose parent failed (else it would
# wait forever). CR_Core: cores are what is scheduled.
NEWCONF=$(cat <<EOF
# written by tests/e2e/slurm/start-slurm.sh
ClusterName=seenn
SlurmctldHost=$HOST
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE/log/jobcomp.txt
SchedulerType=sched/backfill
DependencyParameters=kill_invalid_depend
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=86400
KillWait=5
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
)
mkdir -p /etc/slurm
CHANGED=0
if [ ! -f "$CONF" ] || [ "$(cat "$CONF")" != "$NEWCONF" ]; then
  printf '%s\n' "$NEWCONF" > "$CONF"; CHANGED=1
fi

# 6. sacct without slurmdbd: plain `sacct` fails ("accounting storage is disabled"), and submitit reads
# job states with `sacct -o JobID,State,NodeList --parsable2 -j ID ...`. This stand-in, ahead of
# /usr/bin/sacct on PATH, passes through when the real one works and otherwise answers from
# `squeue -t all` (pending, running, recently finished) and the job-completion file.
cat > /usr/local/bin/sacct.new <<'SHIM'
#!/usr/bin/env bash
# sacct stand-in written by tests/e2e/slurm/start-slurm.sh (one-node SLURM without slurmdbd)
REAL=/usr/bin/sacct
err=$(mktemp); out=$("$REAL" "$@" 2>"$err"); rc=$?; msg=$(cat "$err"); rm -f "$err"
if [ $rc -eq 0 ] || ! grep -q "accounting storage is disabled" <<<"$msg"; then
  [ -n "$out" ] && printf '%s\n' "$out"; [ -n "$msg" ] && printf '%s\n' "$msg" >&2; exit $rc
fi
fields="JobID,JobName,Partition,State,ExitCode,NodeList"; ids=(); header=1
while [ $# -gt 0 ]; do
  case "$1" in
    -o|--format) fields=$2; shift ;;
    --format=*) fields=${1#*=} ;;
    -j|--jobs) IFS=, read -ra more <<<"$2"; ids+=("${more[@]}"); shift ;;
    --jobs=*) IFS=, read -ra more <<<"${1#*=}"; ids+=("${more[@]}") ;;
    -n|--noheader) header=0 ;;
  esac
  shift
done
IFS=, read -ra wanted <<<"$fields"
emit() {  # id name partition state exitcode nodelist
  local -A v=([jobid]=$1 [jobname]=$2 [partition]=$3 [state]=$4 [exitcode]=$5 [nodelist]=$6)
  local f line="" sep=""
  for f in "${wanted[@]}"; do f=${f%%%*}; f=${f,,}; line+="$sep${v[$f]:-}"; sep="|"; done
  printf '%s\n' "$line"
}
want() { [ ${#ids[@]} -eq 0 ] && return 0; local i; for i in "${ids[@]}"; do [ "$i" = "$1" ] && return 0; done; return 1; }
if [ $header = 1 ]; then (IFS='|'; echo "${wanted[*]%%%*}"); fi
declare -A seen
while IFS='|' read -r id name part st nodes; do
  [ -z "$id" ] && continue; want "$id" || continue
  seen[$id]=1; emit "$id" "$name" "$part" "$st" "" "$nodes"
done < <(squeue -h -t all -o '%i|%j|%P|%T|%N' 2>/dev/null)
while IFS='|' read -r id name part st ec nodes; do
  [ -z "$id" ] && continue; want "$id" || continue; [ -n "${seen[$id]:-}" ] && continue
  emit "$id" "$name" "$part" "$st" "$ec" "$nodes"
done < <("$REAL" -c -n -P -o JobID,JobName,Partition,State,ExitCode,NodeList 2>/dev/null)
exit 0
SHIM
chmod 0755 /usr/local/bin/sacct.new
mv -f /usr/local/bin/sacct.new /usr/local/bin/sacct

# 7. the daemons (they daemonize themselves); a changed config restarts them
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
if [ $CHANGED = 1 ]; then
  for pf in "$STATE/slurmd.pid" "$STATE/slurmctld.pid"; do
    if alive "$pf"; then
      pid=$(cat "$pf"); kill -TERM "$pid"
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
  done
fi
alive "$STATE/slurmctld.pid" || /usr/sbin/slurmctld
for _ in $(seq 50); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.2; done
alive "$STATE/slurmd.pid" || /usr/sbin/slurmd

# 8. wait for the node (resume it if an earlier run left it down)
deadline=$((SECONDS + WAIT))
while :; do
  st=$(sinfo -h -n "$HOST" -o '%T' 2>/dev/null | head -1 || true)
  case "$st" in
    idle|mixed|allocated) break ;;
    down*|drain*) scontrol update NodeName="$HOST" State=RESUME 2>/dev/null || true ;;
  esac
  if [ $SECONDS -ge $deadline ]; then
    echo "start-slurm: node $HOST is '$st' after ${WAIT}s; logs in $STATE/log" >&2
    exit 1
  fi
  sleep 0.5
done
echo "start-slurm: node $HOST up ($CPUS CPUs), partition debug"

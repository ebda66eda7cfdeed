#!/usr/bin/env bash
# A real one-node SLURM cluster for CI and the tests (tests/runner/test_slurm*.py): munge, MariaDB,
# slurmdbd (so sacct works), slurmctld and slurmd from Debian's packages, on this machine.
#
#   scripts/slurm-ci.sh          install what is missing, configure, start what is not running,
#                                wait until the node takes jobs (idempotent: safe to run again)
#   scripts/slurm-ci.sh status   say whether the cluster is up (exit 0) or not (exit 1)
#   scripts/slurm-ci.sh stop     stop the daemons this script started
#
# Needs root and apt-get (the Debian packages slurm-wlm, slurmdbd, munge, mariadb-server).
# It writes /etc/slurm/slurm.conf and slurmdbd.conf only when they are absent or were written by
# this script (they carry the marker below): a machine with a real SLURM is never reconfigured.
# The node declares 8 CPUs whatever the hardware (SlurmdParameters=config_overrides), so short
# test jobs can run side by side on a small CI machine.
set -euo pipefail

MARK="# written by xcost-tui scripts/slurm-ci.sh"
CLUSTER=xcost-ci
CONF=/etc/slurm/slurm.conf
DBDCONF=/etc/slurm/slurmdbd.conf
LOGDIR=/var/log/xcost-slurm-ci
DBPASS=xcost-ci-only
NODE=$(hostname -s)
CPUS=${XCOST_SLURM_CPUS:-8}

say() { echo "slurm-ci: $*" >&2; }
die() { say "$*"; exit 1; }

up() {  # the controller answers and the node is idle or busy
  command -v sinfo >/dev/null 2>&1 || return 1
  local state
  state=$(timeout 10 sinfo -h -n "$NODE" -o %t 2>/dev/null | head -1) || return 1
  [[ "$state" =~ ^(idle|mix|alloc|comp)\*?$ ]] && [[ "$state" != *"*" ]] || return 1
  # and accounting answers (sacct needs slurmdbd and its MariaDB: the tests read job states from it)
  timeout 10 sacct -n -X -S now-1minute -o JobID >/dev/null 2>&1
}

running() { pgrep -x "$1" >/dev/null 2>&1; }

case "${1:-start}" in
  status)
    if up; then say "up ($(sinfo -h -n "$NODE" -o '%P %t %c CPUs'))"; exit 0; fi
    say "not up"; exit 1 ;;
  stop)
    for d in slurmd slurmctld slurmdbd; do
      if [ -f "/run/xcost-slurm-ci-$d.pid" ]; then kill "$(cat "/run/xcost-slurm-ci-$d.pid")" 2>/dev/null || true; rm -f "/run/xcost-slurm-ci-$d.pid"; fi
    done
    exit 0 ;;
  start) ;;
  *) die "usage: $0 [start|status|stop]" ;;
esac

[ "$(id -u)" = 0 ] || die "needs root (it installs packages and starts daemons)"
if up; then say "already up"; exit 0; fi

# 1. packages
need=()
for cmd in slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client munged:munge slurmdbd:slurmdbd mariadbd:mariadb-server; do
  command -v "${cmd%%:*}" >/dev/null 2>&1 || need+=("${cmd#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || die "missing ${need[*]} and no apt-get to install them"
  say "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
mkdir -p "$LOGDIR" /etc/slurm /var/spool/slurmctld /var/spool/slurmd /run/munge /var/lib/munge /var/log/munge

# 2. configuration (ours only)
write_conf() {  # path, content
  if [ -f "$1" ] && ! grep -qF "$MARK" "$1"; then
    die "$1 exists and was not written by this script: not touching a real SLURM configuration"
  fi
  printf '%s\n%s\n' "$MARK" "$2" > "$1.new" && mv "$1.new" "$1"
}
MEM=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
write_conf "$CONF" "ClusterName=$CLUSTER
SlurmctldHost=$NODE
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/xcost-slurm-ci-slurmctld.pid
SlurmdPidFile=/run/xcost-slurm-ci-slurmd.pid
SlurmctldLogFile=$LOGDIR/slurmctld.log
SlurmdLogFile=$LOGDIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=600
KillWait=5
InactiveLimit=0
MessageTimeout=20
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=5
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobCompType=jobcomp/none
NodeName=$NODE CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
write_conf "$DBDCONF" "DbdHost=localhost
SlurmUser=root
PidFile=/run/xcost-slurm-ci-slurmdbd.pid
LogFile=$LOGDIR/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=$DBPASS
StorageLoc=slurm_acct_db"
chmod 600 "$DBDCONF"

# 3. daemons, each started only when it is not running
if ! running munged; then
  [ -s /etc/munge/munge.key ] || { dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null; }
  chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
  chmod 400 /etc/munge/munge.key
  say "starting munged"
  if id munge >/dev/null 2>&1; then runuser -u munge -- munged; else munged --force; fi
fi
if ! running mariadbd && ! running mysqld; then
  say "starting MariaDB"
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  [ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql >/dev/null 2>&1 || true
  (mysqld_safe --user=mysql >"$LOGDIR/mariadb.log" 2>&1 &)
  for _ in $(seq 60); do mariadb -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 1; done
fi
mariadb -e 'SELECT 1' >/dev/null 2>&1 || die "MariaDB did not start ($LOGDIR/mariadb.log)"
mariadb -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db; CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DBPASS'; GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
if ! running slurmdbd; then
  say "starting slurmdbd"
  slurmdbd
  for _ in $(seq 30); do sacctmgr -n list cluster >/dev/null 2>&1 && break; sleep 1; done
fi
sacctmgr -n list cluster format=cluster 2>/dev/null | grep -qw "$CLUSTER" || sacctmgr -i add cluster "$CLUSTER" >/dev/null
if ! running slurmctld; then
  say "starting slurmctld"
  slurmctld
fi
if ! running slurmd; then
  say "starting slurmd"
  slurmd
fi

# 4. wait for the node
for _ in $(seq 60); do
  if up; then say "up ($(sinfo -h -n "$NODE" -o '%P %t %c CPUs'))"; exit 0; fi
  state=$(sinfo -h -n "$NODE" -o %t 2>/dev/null | head -1 || true)
  if [[ "$state" == drain* || "$state" == down* ]]; then scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true; fi
  sleep 1
done
die "the node did not come up: $(sinfo 2>&1 | tail -3 | tr '\n' ' '); see $LOGDIR/"

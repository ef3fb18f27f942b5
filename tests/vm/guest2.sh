#!/bin/bash
# Guest 2 (vmlane.service, as root once the system is up): Debian 12 on its
# 6.1 kernel with cgroup v2 only and systemd as init; the user sbx lingers,
# so its user manager runs. sbx logs in (su -l: a logind session, as over
# ssh) and runs the release binary with cgroup limits through both paths:
#   delegated  systemd-run --user --scope -p Delegate=yes sandbox …
#   scope      sandbox … from the login session, which cannot delegate, so
#              the sandbox asks the user manager for a scope (busctl)
# Each limit is read back from the sandbox's cgroup while it runs, with the
# kernel's own figures (memory.events, pids.events, cpu.stat) in the log,
# and the cgroup is gone afterwards, also after kill -9 of the monitor.
set -u
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
. /usr/local/lib/vmlane/assert.sh
trap 'finish guest2' EXIT
W=/home/sbx/work
install -d -o sbx -g sbx "$W"
declare -A PRE=([delegated]="systemd-run --user --scope --quiet -p Delegate=yes" [scope]="")

echo "== guest 2: $(uname -srm), $(systemctl --version | head -1)"
same "cgroup v2 only" "$(stat -fc %T /sys/fs/cgroup)" cgroup2fs
same "systemd is PID 1" "$(cat /proc/1/comm)" systemd
for _ in $(seq 240); do
	systemctl -q is-active user@1000.service && [ -S /run/user/1000/bus ] && break
	sleep 0.5
done
check "sbx lingers: its user manager runs" systemctl -q is-active user@1000.service
echo "user@1000.service delegates: $(cat /sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/cgroup.controllers)"

# session COMMAND: a shell command line run as sbx in a login session of
# its own, in $W, with a time-out; sets CODE, OUT, ERR.
session() {
	timeout -k 5 "${LIMIT:-120}" su -l sbx -c "cd $W && $1" >"$SCRATCH/out" 2>"$SCRATCH/err" </dev/null
	CODE=$?
	OUT=$(cat "$SCRATCH/out")
	ERR=$(cat "$SCRATCH/err")
}

# script NAME LINES...: a script in the shared directory, for `sh NAME`.
script() {
	local name=$1
	shift
	printf '%s\n' "$@" >"$W/$name"
	chown sbx:sbx "$W/$name"
}
script hog.sh 'tail /dev/zero' 'echo "hog: exit $?" > hog.out' 'exec sleep 300'
script forks.sh "sh -c 'while :; do sleep 300 & done' 2>/dev/null" 'echo "fork loop: exit $?" > forks.out' \
	'set -- /proc/[0-9]*' 'echo "processes inside: $#" >> forks.out' 'exec sleep 300'
script busy.sh "timeout 4 sh -c 'while :; do :; done'" 'echo "busy: exit $?" > busy.out' 'exec sleep 300'
script idle.sh 'echo idle > idle.out' 'exec sleep 300'

# start PATH ARGS: `sandbox --status-fd 3 ARGS` through PATH in the
# background; once the status line is there sets INIT, MONITOR and CG (the
# sandbox's cgroup directory).
start() {
	rm -f "$W"/*.out "$W/status"
	timeout -k 5 200 su -l sbx -c "cd $W && exec ${PRE[$1]} sandbox --status-fd 3 $2 3>status" \
		>"$SCRATCH/bg.out" 2>"$SCRATCH/bg.err" </dev/null &
	BG=$!
	INIT= MONITOR= CG=
	for _ in $(seq 300); do
		INIT=$(sed -n 's/.*"child-pid": *\([0-9]*\).*/\1/p' "$W/status" 2>/dev/null)
		[ -n "$INIT" ] && break
		sleep 0.2
	done
	[ -n "$INIT" ] || return 1
	MONITOR=$(awk '/^PPid:/ {print $2}' "/proc/$INIT/status")
	CG=/sys/fs/cgroup$(sed -n 's/^0:://p' "/proc/$INIT/cgroup")
	echo "sandbox: monitor $MONITOR, init $INIT, cgroup $CG"
}

# ready FILE: waits up to 90 s for the command's FILE in $W.
ready() {
	for _ in $(seq 450); do
		[ -s "$W/$1" ] && return 0
		sleep 0.2
	done
	return 1
}

# ended_or_ready FILE: the same, or until the sandbox has ended.
ended_or_ready() {
	for _ in $(seq 450); do
		[ -s "$W/$1" ] || ! kill -0 "$BG" 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}

# gone DIR: DIR disappears within 10 s.
gone() {
	for _ in $(seq 50); do
		[ -d "$1" ] || return 0
		sleep 0.2
	done
	return 1
}

# oom_kills DIR: memory.events oom_kill of a cgroup (its subtree's, too).
oom_kills() {
	local n
	n=$(awk '$1 == "oom_kill" {print $2}' "$1/memory.events" 2>/dev/null)
	echo "${n:-0}"
}
APP=/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice

# stop NAME SIGNAL: signals the monitor, waits for its exit status (143 for
# TERM, 137 for KILL), then checks that the sandbox's cgroup is gone.
stop() {
	local name=$1 sig=$2 want=143
	[ "$sig" = KILL ] && want=137
	kill -s "$sig" "$MONITOR"
	wait "$BG"
	CODE=$? OUT=$(cat "$SCRATCH/bg.out") ERR=$(cat "$SCRATCH/bg.err")
	expect "$name: exit status after SIG$sig to the monitor" $want
	check "$name: the cgroup $CG is gone" gone "$CG"
	check "$name: nothing left of init $INIT" test ! -e "/proc/$INIT"
}

figure() { echo "FIGURE $*"; }

limits() {
	local p=$1
	echo "== $p: sandbox check (guest 2, as sbx)"
	session "${PRE[$p]} sandbox check"
	echo "$OUT"

	echo "== $p: --memory 64M stops a memory hog"
	local before after
	before=$(oom_kills "$APP")
	if start "$p" "--memory 64M -- sh hog.sh" && ended_or_ready hog.out; then
		if [ -s "$W/hog.out" ]; then
			# The kernel's OOM killer took the hog; the rest of the sandbox lives on.
			same "$p: memory.max" "$(cat "$CG/memory.max")" 67108864
			same "$p: the hog was killed inside" "$(cat "$W/hog.out")" "hog: exit 137"
			figure "$p memory.events: $(tr '\n' ' ' <"$CG/memory.events")"
			check "$p: memory.events oom_kill >= 1" test "$(oom_kills "$CG")" -ge 1
			stop "$p --memory" TERM
		else
			# systemd 252 (Debian 12) stops a scope at its first OOM kill
			# (scopes get OOMPolicy= in 253): SIGTERM to everything in it,
			# which ends the sandbox as a SIGTERM to sandbox would.
			wait "$BG"
			CODE=$? OUT=$(cat "$SCRATCH/bg.out") ERR=$(cat "$SCRATCH/bg.err")
			expect "$p: the sandbox was stopped by systemd after the OOM kill" 143
			same "$p: the status fd says SIGTERM" "$(tail -1 "$W/status" | tr -d ' ')" '{"exit-code":143,"signal":15}'
			after=$(oom_kills "$APP")
			figure "$p memory.events of $APP: oom_kill $before -> $after; kernel: $(dmesg | grep -o 'Memory cgroup out of memory: Killed process [0-9]* ([a-z]*)' | tail -1)"
			check "$p: memory.events oom_kill counted it" test "$after" -gt "$before"
			check "$p: the cgroup $CG is gone" gone "$CG"
		fi
	else
		failed "$p: --memory" "did not start or the hog never ended: $(cat "$SCRATCH/bg.err")"
	fi

	echo "== $p: a memory hog as the command: killed, and said so"
	session "${PRE[$p]} sandbox --memory 64M -- tail /dev/zero"
	expect "$p: the hog ends with SIGKILL" 137
	echo "sandbox said: $ERR"
	if [ "$p" = delegated ]; then
		same "$p: sandbox names the OOM kill" "$ERR" \
			"sandbox: note: the sandbox reached --memory 64M: the kernel's OOM killer killed 1 process in it"
	fi

	echo "== $p: --pids 32 stops a fork loop"
	if start "$p" "--pids 32 -- sh forks.sh" && ready forks.out; then
		same "$p: pids.max" "$(cat "$CG/pids.max")" 32
		echo "inside: $(tr '\n' ' ' <"$W/forks.out")"
		same "$p: the fork loop failed" "$(head -1 "$W/forks.out")" "fork loop: exit 2"
		local max cur
		max=$(awk '$1 == "max" {print $2}' "$CG/pids.events")
		cur=$(cat "$CG/pids.current")
		figure "$p pids.events: $(tr '\n' ' ' <"$CG/pids.events")pids.current $cur"
		check "$p: pids.events max >= 1" test "${max:-0}" -ge 1
		check "$p: pids.current <= 32" test "$cur" -le 32
		stop "$p --pids" TERM
	else
		failed "$p: --pids" "did not start or the loop never ended: $(cat "$SCRATCH/bg.err")"
	fi

	echo "== $p: --cpus 0.2 throttles a busy loop"
	if start "$p" "--cpus 0.2 -- sh busy.sh" && ready busy.out; then
		same "$p: cpu.max" "$(cat "$CG/cpu.max")" "20000 100000"
		local thr usage periods
		thr=$(awk '$1 == "nr_throttled" {print $2}' "$CG/cpu.stat")
		usage=$(awk '$1 == "usage_usec" {print $2}' "$CG/cpu.stat")
		periods=$(awk '$1 == "nr_periods" {print $2}' "$CG/cpu.stat")
		figure "$p cpu.stat: $(tr '\n' ' ' <"$CG/cpu.stat")"
		check "$p: cpu.stat nr_throttled > 0" test "${thr:-0}" -gt 0
		# The rate, not a total: the sandbox's own setup runs under the
		# quota too, and takes seconds of it under TCG on a busy host.
		check "$p: the busy loop ran 40+ periods of 100 ms" test "${periods:-0}" -ge 40
		check "$p: at most 0.2 CPU (+10%) over them: usage_usec <= nr_periods x 22000" \
			test "${usage:-9999999}" -le $((${periods:-0} * 22000))
		stop "$p --cpus" TERM
	else
		failed "$p: --cpus" "did not start or the loop never ended: $(cat "$SCRATCH/bg.err")"
	fi

	echo "== $p: kill -9 of the monitor leaves no cgroup behind"
	if start "$p" "--memory 64M --pids 32 -- sh idle.sh" && ready idle.out; then
		stop "$p kill -9" KILL
	else
		failed "$p: kill -9" "did not start: $(cat "$SCRATCH/bg.err")"
	fi
	paused "$p"
}

# paused PATH: tests/robustness.rs's cgroup stage, which the CI host cannot
# reach: the debug build (SANDBOX_TEST_PAUSE_AT is read by debug builds
# only) stops its monitor right after putting init under the limits, before
# releasing it; kill -9 of the monitor there leaves no cgroup and no init.
paused() {
	local p=$1
	echo "== $p: kill -9 of the monitor paused at the cgroup stage (debug build)"
	timeout -k 5 200 su -l sbx -c \
		"cd $W && SANDBOX_TEST_PAUSE_AT=cgroup exec ${PRE[$p]} sandbox-debug --memory 64M --pids 32 -- sleep 300" \
		>"$SCRATCH/bg.out" 2>"$SCRATCH/bg.err" </dev/null &
	BG=$!
	MONITOR= INIT= CG=
	for _ in $(seq 300); do
		MONITOR=$(pgrep -u sbx -x sbx-paused | head -1)
		[ -n "$MONITOR" ] && break
		sleep 0.2
	done
	INIT=$(pgrep -P "${MONITOR:-1}" -u sbx | head -1)
	if [ -z "$MONITOR" ] || [ -z "$INIT" ]; then
		failed "$p: paused at the cgroup stage" "never reached it: $(cat "$SCRATCH/bg.err")"
		kill "$BG" 2>/dev/null
		wait "$BG"
		return
	fi
	CG=/sys/fs/cgroup$(sed -n 's/^0:://p' "/proc/$INIT/cgroup")
	echo "paused: monitor $MONITOR, init $INIT (not released), cgroup $CG"
	same "$p: init is under the limits at the pause" "$(cat "$CG/memory.max" "$CG/pids.max" | tr '\n' ' ')" \
		"67108864 32 "
	stop "$p kill -9 at the cgroup stage" KILL
}

# io_weight PATH: --io-weight lands in io.weight where io is delegated.
io_weight() {
	local p=$1
	echo "== $p: --io-weight 300 lands in io.weight"
	if start "$p" "--io-weight 300 -- sh idle.sh" && ready idle.out; then
		same "$p: io.weight" "$(cat "$CG/io.weight")" "default 300"
		figure "$p io.weight: $(cat "$CG/io.weight")"
		stop "$p --io-weight" TERM
	else
		failed "$p: --io-weight" "did not start: $(cat "$SCRATCH/bg.err")"
	fi
}

limits delegated
limits scope

echo "== --io-weight where io is not delegated (Debian's user@.service: pids memory cpu)"
for p in delegated scope; do
	session "${PRE[$p]} sandbox --io-weight 300 -- echo ran"
	expect "$p: --io-weight refused without io" 125
	echo "refusal ($p): $ERR"
	check "$p: the reason names io" grep -q "the systemd user manager cannot limit io (it has: cpu memory pids)" <<<"$ERR"
	check "$p: nothing ran" test -z "$OUT"
done

echo "== delegating io too (Delegate=yes for user@.service), as rootless container guides do"
mkdir -p /etc/systemd/system/user@.service.d
printf '[Service]\nDelegate=yes\n' >/etc/systemd/system/user@.service.d/delegate.conf
systemctl daemon-reload
systemctl restart user@1000.service
echo "user@1000.service delegates: $(cat /sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/cgroup.controllers)"
io_weight delegated
io_weight scope

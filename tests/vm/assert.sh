# Sourced by guest1.sh and guest2.sh: run the sandbox as an unprivileged
# user with a time-out, and count checks. Every check prints one line,
# `PASS name` or `FAIL name: why`, and the guest's last line is
# `VMLANE-END <guest> ok|FAILED (P passed, F failed)`, which tests/vm/run reads.

PASSED=0
FAILED=0
SCRATCH=$(mktemp -d /tmp/vmlane.XXXXXX)
chmod 0755 "$SCRATCH"

pass() {
	PASSED=$((PASSED + 1))
	echo "PASS $1"
}

failed() {
	FAILED=$((FAILED + 1))
	echo "FAIL $1: $2"
}

# check NAME CONDITION-COMMAND... [-- WHY]: PASS when the command succeeds.
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else failed "$name" "$*"; fi
}

# as USER ENV... -- CMD...: runs CMD as USER (no supplementary groups) with
# only ENV and a time-out of $LIMIT seconds (default 60); sets CODE, OUT, ERR.
as() {
	local user=$1 env=()
	shift
	while [ "$1" != -- ]; do
		env+=("$1")
		shift
	done
	shift
	timeout -k 5 "${LIMIT:-60}" setpriv --reuid="$user" --regid="$user" --clear-groups \
		env -i PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 "${env[@]}" "$@" \
		>"$SCRATCH/out" 2>"$SCRATCH/err" </dev/null
	CODE=$?
	OUT=$(cat "$SCRATCH/out")
	ERR=$(cat "$SCRATCH/err")
}

# expect NAME CODE: the last run exited with CODE (else its output is shown).
expect() {
	if [ "$CODE" = "$2" ]; then
		pass "$1"
	else
		failed "$1" "exit $CODE, not $2; stdout: ${OUT:0:400}; stderr: ${ERR:0:600}"
	fi
}

# same NAME GOT WANT: two strings are equal.
same() {
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		failed "$1" "got '$2', wanted '$3'"
	fi
}

# finish GUEST: the summary line, then power off.
finish() {
	local verdict=ok
	[ "$FAILED" = 0 ] && [ "$PASSED" -gt 0 ] || verdict=FAILED
	echo "VMLANE-END $1 $verdict ($PASSED passed, $FAILED failed)"
	# Wait for the power-off on a fifo with bash's own read: nothing may be
	# loaded from the root (9p in guest 1) while it goes away.
	mkfifo "$SCRATCH/hold"
	sync
	echo o >/proc/sysrq-trigger
	read -r -t 30 <>"$SCRATCH/hold"
}

#!/bin/bash
# Guest 1 (PID 1): Debian 12's 6.1 kernel (landlock ABI 2) under the host's
# own userland, shared read-only over 9p. Runs the release binary as the
# unprivileged sandbox-test: the default profile works; every option that
# needs landlock ABI 3-7 is refused naming the ABI (exit 125) and runs under
# --best-effort with exactly that drop in the warning; overlays work in a
# user namespace; then the focused integration tests (listed in $1, written
# by tests/vm/run) run as they do on the host, with CI=true.
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t cgroup2 cgroup2 /sys/fs/cgroup
# shellcheck source=/dev/null
. "$1"
. "$REPO/tests/vm/assert.sh"
trap 'finish guest1' EXIT

U=sandbox-test
install -m 0755 "$SANDBOX" "$SCRATCH/sandbox"
S=$SCRATCH/sandbox
W=$SCRATCH/work
H=$SCRATCH/home
install -d -o $U -g $U "$W" "$H"
cd "$W" || exit 1
sbx() { as $U HOME="$H" -- "$S" "$@"; }

echo "== guest 1: $(uname -srm), $(nproc) cpus"
sbx check
echo "== sandbox check (guest 1, as $U):"
echo "$OUT"
same "landlock ABI 2 on 6.1" "$(grep -o 'landlock: ABI [0-9]*' <<<"$OUT")" "landlock: ABI 2"
same "check: overlays limited (tmpfs has no user xattrs before 6.6)" \
	"$(grep -o '^[a-z]* *overlayfs in user namespaces' <<<"$OUT" | cut -d' ' -f1)" limited

echo "== the default profile"
sbx -v -- sh -c 'echo "ran on $(uname -r) as $(id -u)"; echo x > "$PWD/written"; grep ^Seccomp: /proc/self/status'
expect "default profile runs" 0
same "default profile output" "$OUT" "ran on $(uname -r) as $(id -u $U)
Seccomp:	2"
check "the current directory is shared read-write" test -s "$W/written"
same "landlock enforced at ABI 2" "$(grep -o 'landlock: enforced at ABI [^ ]*' <<<"$ERR")" \
	"landlock: enforced at ABI 2"

echo "== options that need landlock ABI 3-7: refused, or dropped with --best-effort"
# refused NAME WHAT ABI ARGS...: refused naming WHAT and ABI, and under
# --best-effort runs with exactly the drops in $DROPS (default: WHAT) in
# its one warning line.
refused() {
	local name=$1 what=$2 abi=$3 drops
	shift 3
	drops=${DROPS:-"$what (ABI $abi)"}
	sbx "$@" -- echo ran
	expect "$name: refused" 125
	same "$name: the reason" "$(head -1 <<<"$ERR")" \
		"sandbox: landlock: $what needs landlock ABI $abi, this kernel has landlock ABI 2"
	check "$name: one hint line" test "$(sed -n '2p' <<<"$ERR" | cut -c1-6)" = "hint: "
	check "$name: nothing ran" test -z "$OUT"
	echo "refusal ($name): $(head -1 <<<"$ERR")"
	sbx --best-effort "$@" -- echo ran
	expect "$name --best-effort: runs" 0
	same "$name --best-effort: the command ran" "$OUT" ran
	local want="sandbox: warning: this kernel has landlock ABI 2; dropped (--best-effort): $drops" got=$ERR
	# PREFIX=1: more follows the drops in the same warning line ("; …").
	if [ -n "${PREFIX:-}" ]; then
		want="$want; "
		got=${ERR:0:${#want}}
		check "$name --best-effort: one warning line" test "$(wc -l <<<"$ERR")" = 1
	fi
	same "$name --best-effort: exactly the listed drops" "$got" "$want"
}
DROPS="--allow-read /usr (ABI 3), --allow-read /etc (ABI 3)" \
	refused "ABI 3 truncate (--allow-read)" "--allow-read /usr" 3 \
	--allow-read /usr --allow-read /etc --allow-write "$W"
# Landlock-only mode: the landlock drops come first in the one warning,
# then the mode's own differences from the namespaces (direct.rs), whose
# network line must not claim what ABI 2 cannot do.
DROPS="landlock-only mode (its read-only rules need truncate control) (ABI 3), landlock-only mode without network (TCP denied) (ABI 4), scoping abstract unix sockets (landlock-only mode) (ABI 6), scoping signals (landlock-only mode) (ABI 6)" \
	PREFIX=1 refused "ABI 3 truncate (--mode landlock)" \
	"landlock-only mode (its read-only rules need truncate control)" 3 --mode landlock
check "--mode landlock --best-effort: the network line says TCP is open" \
	grep -qF "; no network namespace: the host's network, TCP included (landlock denies TCP from ABI 4)" <<<"$ERR"
check "--mode landlock --best-effort: no claim that landlock denies TCP" \
	test "$(grep -c 'TCP connect and bind denied' <<<"$ERR")" = 0
refused "ABI 4 TCP connect" "--allow-connect 443" 4 --allow-connect 443
refused "ABI 4 TCP bind" "--allow-bind 8080" 4 --allow-bind 8080
refused "ABI 6 signal scope (--share pid)" "scoping signals (the pid namespace is shared)" 6 --share pid
refused "ABI 6 abstract unix scope (--net host)" \
	"scoping abstract unix sockets (the network namespace is shared)" 6 --net host
refused "ABI 7 audit log flags" "--log-denials" 7 --log-denials
# ABI 5 (ioctl on devices) is never required: the mounts are nodev except
# /dev's few devices (see src/plan/landlock/compat.rs), so no option is
# refused for it; the default profile above ran without it.

echo "== overlays in a user namespace"
L=$SCRATCH/lower
install -d -o $U -g $U "$L"
echo lower >"$L/f"
chown $U:$U "$L/f"
sbx --overlay "$L:/data" -- sh -c 'cat /data/f; echo new > /data/g; rm /data/f; ls /data'
expect "--overlay runs" 0
same "--overlay: the writes inside" "$OUT" "lower
g"
same "--overlay: the host tree is unchanged" "$(ls "$L"):$(cat "$L/f")" "f:lower"

echo "== integration tests (the focused set, CI=true)"
while read -r exe names; do
	[ -n "$exe" ] || continue
	# shellcheck disable=SC2086
	LIMIT=600 as root CI=true HOME="$SCRATCH" -- "$exe" --exact --test-threads=2 $names
	echo "$OUT" | grep -E '^test |^test result' | sed "s|^|$(basename "$exe"): |"
	[ "$CODE" = 0 ] || sed -n '/^failures:$/,$p' <<<"$OUT" | head -80
	same "integration tests $(basename "$exe")" "$(grep '^test result:' <<<"$OUT" | cut -d. -f1)" "test result: ok"
done <<<"$INTEGRATION"

# Shared by the bench/ scripts (sourced, not run). See bench/README.md.
#
# After `bench_setup NAME`: $repo, $tmp (a fresh directory under /tmp,
# removed on exit, 755), $tmp/bin/sandbox (the release binary, or
# $SANDBOX_BIN), $tmp/bin/runner (bench/lib/runner.c), $home (an empty
# $HOME), $work (the working directory), $user and $path; as_user runs a
# command as the benchmark user in $work with a clean environment.
#
# The commands run as an unprivileged user, user namespaces being the
# point: as yourself, or, as root, as the system user `sandbox-test`
# (created when missing) through setpriv. As root, missing Debian packages
# are installed with apt-get.

bench_name=bench
user=sandbox-test
path=/usr/local/bin:/usr/bin:/bin

die() {
    echo "$bench_name: $*" >&2
    exit 1
}

note() {
    echo "$bench_name: $*" >&2
}

# The load of the machine, to print beside every figure.
load() {
    cut -d' ' -f1-3 /proc/loadavg
}

# need CMD PACKAGE...: installs PACKAGE... (as root) when CMD is missing.
need() {
    local cmd=$1
    shift
    command -v "$cmd" >/dev/null && return 0
    [[ $(id -u) -eq 0 ]] || die "missing $cmd: install it (apt-get install $*) or run as root"
    note "installing $*"
    apt-get install -y -qq "$@" >/dev/null ||
        { apt-get update -qq >/dev/null && apt-get install -y -qq "$@" >/dev/null; } ||
        die "apt-get install $* failed"
}

# A positive number, or die naming the option.
number() {
    [[ $2 =~ ^[0-9]+$ ]] || die "$1: expected a number, got '$2'"
}

# gcc SOURCE OUT [FLAGS...]: a helper of bench/lib, built into $tmp/bin.
build_c() {
    gcc -O2 -Wall -o "$tmp/bin/$2" "$repo/bench/$1" "${@:3}" || die "gcc $1 failed"
    chmod 755 "$tmp/bin/$2"
}

bench_setup() {
    bench_name=$1
    repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    need gcc gcc libc6-dev
    need python3 python3
    [[ $(id -u) -eq 0 ]] && need setpriv util-linux
    local built=${SANDBOX_BIN:-}
    if [[ -z $built ]]; then
        note "cargo build --release"
        (cd "$repo" && cargo build --release --quiet) || die "cargo build --release failed"
        built=$repo/target/release/sandbox
    fi
    [[ -x $built ]] || die "no binary at $built"
    tmp=$(mktemp -d /tmp/sandbox-bench.XXXXXX)
    trap 'bench_cleanup' EXIT
    chmod 755 "$tmp"
    mkdir "$tmp/bin" "$tmp/home" "$tmp/work" "$tmp/out" "$tmp/runtime"
    # $XDG_RUNTIME_DIR, as a login session has it (pam_systemd): sandbox
    # keeps what /etc's links point at there.
    chmod 700 "$tmp/runtime"
    cp "$built" "$tmp/bin/sandbox"
    chmod 755 "$tmp/bin" "$tmp/bin/sandbox"
    build_c lib/runner.c runner -lm
    run_as=()
    if [[ $(id -u) -eq 0 ]]; then
        if ! id -u "$user" >/dev/null 2>&1; then
            note "creating the system user $user"
            useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
        fi
        chown "$(id -u "$user"):$(id -g "$user")" "$tmp/home" "$tmp/work" "$tmp/out" "$tmp/runtime"
        run_as=(setpriv --reuid="$(id -u "$user")" --regid="$(id -g "$user")" --clear-groups)
    else
        user=$(id -un)
    fi
    home=$tmp/home
    work=$tmp/work
    cleanup_pids=()
}

bench_cleanup() {
    local pid
    for pid in "${cleanup_pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    rm -rf -- "$tmp"
}

as_user() {
    (cd "$work" && "${run_as[@]}" env -i HOME="$home" PATH="$path" LANG=C.UTF-8 USER="$user" \
        TERM="${TERM:-dumb}" XDG_RUNTIME_DIR="$tmp/runtime" "$@")
}

quote() {
    local out
    printf -v out '%q ' "$@"
    printf '%s' "${out% }"
}

# check NAME CMD...: one run as the user first, so that a failure shows
# its own error message.
check() {
    local name=$1 err
    shift
    if ! err=$(as_user "$@" 2>&1 >/dev/null); then
        die "$name: as $user in $work, this fails: $(quote "$@")${err:+
$err}"
    fi
}

# bwrap_argv [CONVERTER OPTIONS] [SANDBOX OPTIONS] -- COMMAND...: fills
# the array `bwrap_argv` with bwrap's arguments for the sandbox `sandbox
# explain --json` plans for COMMAND on the default profile with SANDBOX
# OPTIONS, as the benchmark user in $work (see bench/lib/bwrap_args.py).
bwrap_argv() {
    local conv=()
    while [[ ${1:-} == --share-net ]]; do conv+=("$1"); shift; done
    mkdir -p "$tmp/files"
    chmod 755 "$tmp/files"
    as_user "$tmp/bin/sandbox" explain --json "$@" >"$tmp/out/plan.json" ||
        die "sandbox explain --json failed"
    mapfile -d '' bwrap_argv < <(python3 "$repo/bench/lib/bwrap_args.py" "$tmp/out/plan.json" \
        --files "$tmp/files" "${conv[@]}") || die "bench/lib/bwrap_args.py failed"
    [[ ${#bwrap_argv[@]} -gt 2 ]] || die "no bwrap arguments from the plan"
}

# time_commands OUT.json RUNS WARMUP NAME ARRAY [NAME ARRAY...]: times the
# commands in the named arrays, interleaved, as the user (see runner.c).
time_commands() {
    local json=$1 runs=$2 warmup=$3 args=()
    shift 3
    while [[ $# -gt 0 ]]; do
        local -n argv=$2
        args+=(::: "$1" "${argv[@]}")
        unset -n argv
        shift 2
    done
    note "timing ${runs} runs of each (load $(load))"
    as_user "$tmp/bin/runner" "$runs" "$warmup" "$json" "${args[@]}" || die "runner failed"
}

# Passes a table through, except its `SUMMARY<TAB>KEY<TAB>TEXT` lines,
# which go to $BENCH_SUMMARY (bench/all's table) when set.
summarize() {
    local line
    while IFS= read -r line; do
        if [[ $line == SUMMARY$'\t'* ]]; then
            if [[ -n ${BENCH_SUMMARY:-} ]]; then
                printf '%s\n' "${line#SUMMARY$'\t'}" >>"$BENCH_SUMMARY"
            fi
        else
            printf '%s\n' "$line"
        fi
    done
}

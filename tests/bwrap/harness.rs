//! Runs one argument vector through Debian's /usr/bin/bwrap and through
//! sandbox installed as `bwrap` (a symlink to the binary), as the same
//! unprivileged user, with the same fixtures, descriptors and environment,
//! and compares what a probe inside prints.
//!
//! Descriptors are set up by /bin/sh (`exec BIN ARGS 3<file 5>file`), so
//! the tests need no unsafe code.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::{as_caller, bin, out, skip, test_ids};

/// Where Debian's bubblewrap lives.
pub const REFERENCE: &str = "/usr/bin/bwrap";

/// The common prefix of most vectors: /usr and the merged-usr links.
pub const MIN: &str = "--ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib \
                       --symlink usr/lib64 /lib64 --symlink usr/sbin /sbin";

/// MIN plus a /proc and a /dev: what the probe needs to see everything.
pub const STD: &str = "--ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib \
                       --symlink usr/lib64 /lib64 --symlink usr/sbin /sbin --proc /proc --dev /dev";

/// What the sandboxed probe prints: one `== section` per property. Each
/// command degrades to a fixed word when the sandbox lacks what it needs,
/// so both runs print the same shape.
pub const PROBE: &str = r#"
echo "== id"; id
echo "== uname"; uname -n
echo "== cwd"; pwd; echo "PWD=$PWD"
echo "== umask"; umask
echo "== env"; env | grep -v -e '^_=' -e '^SHLVL=' -e '^OLDPWD='
echo "== uid_map"; cat /proc/self/uid_map /proc/self/gid_map 2>/dev/null || echo none
echo "== mounts"; if [ -r /proc/self/mountinfo ]; then findmnt -rno TARGET,OPTIONS; else echo none; fi
echo "== pids"; if [ $$ -lt 10 ]; then echo "own: $$"; for p in /proc/[0-9]*; do [ "${p#/proc/}" -le $$ ] && echo "${p#/proc/}"; done | sort -n | tr '\n' ' '; echo; else echo host; fi
echo "== session"; if [ -r /proc/$$/stat ]; then set -- $(cat /proc/$$/stat); [ "$1" = "$6" ] && echo leader || echo member; else echo none; fi
echo "== caps"; grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status 2>/dev/null || echo none
echo "== fds"; ls /proc/self/fd 2>/dev/null | tr '\n' ' '; echo
echo "== root"; ls -A / | tr '\n' ' '; echo
echo "== modes"; for f in / /tmp /dev /dev/shm /dev/pts /dev/null /etc /run /var /home /data $PROBE_PATHS; do [ -e "$f" ] || [ -L "$f" ] && stat -c '%n %a %u %g %F %N' "$f"; done
echo "== writes"; for d in / /tmp /usr /dev /dev/shm /etc /data "$HOME" .; do if touch "$d/.probe" 2>/dev/null; then echo "$d ok"; rm -f "$d/.probe"; else echo "$d no"; fi; done
echo "== dev"; ls /dev 2>/dev/null | tr '\n' ' '; echo
echo "== net"; if [ -r /proc/net/dev ]; then tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ' '; echo; else echo none; fi
echo "== extra"; eval "${PROBE_EXTRA:-true}"
exit "${PROBE_EXIT:-0}"
"#;

/// One argument vector and what it needs around it.
pub struct Vector {
    pub name: &'static str,
    /// bwrap's options; `{F}` is the vector's fixture directory.
    pub args: Vec<String>,
    /// The command; the probe (`sh -c PROBE`) when `None`.
    pub cmd: Option<Vec<String>>,
    /// Descriptors given to bwrap, read from a file with this content.
    pub inputs: Vec<(i32, Vec<u8>)>,
    /// Descriptors given to bwrap as files to write, compared afterwards.
    pub outputs: Vec<i32>,
    /// A descriptor opened on a fixture path (`--bind-fd`, lock files).
    pub open: Vec<(i32, &'static str)>,
    pub env: Vec<(&'static str, String)>,
    /// Shell commands run before bwrap (e.g. `umask 027;`).
    pub pre: &'static str,
    /// The exit status both must have (the probe must have run when 0).
    pub expect: i32,
    /// When set, only these mount points are compared (with why).
    pub mounts: Option<(Vec<&'static str>, &'static str)>,
}

/// A vector: `args` split on white space.
pub fn v(name: &'static str, args: &str) -> Vector {
    Vector {
        name,
        args: args.split_whitespace().map(String::from).collect(),
        cmd: None,
        inputs: Vec::new(),
        outputs: Vec::new(),
        open: Vec::new(),
        env: Vec::new(),
        pre: "",
        expect: 0,
        mounts: None,
    }
}

impl Vector {
    pub fn cmd(mut self, words: &[&str]) -> Self {
        self.cmd = Some(words.iter().map(|w| w.to_string()).collect());
        self
    }
    pub fn input(mut self, fd: i32, data: &[u8]) -> Self {
        self.inputs.push((fd, data.to_vec()));
        self
    }
    pub fn output(mut self, fd: i32) -> Self {
        self.outputs.push(fd);
        self
    }
    pub fn open(mut self, fd: i32, rel: &'static str) -> Self {
        self.open.push((fd, rel));
        self
    }
    pub fn env(mut self, k: &'static str, val: &str) -> Self {
        self.env.push((k, val.to_string()));
        self
    }
    /// Extra shell commands for the probe's `== extra` section.
    pub fn extra(self, sh: &str) -> Self {
        self.env("PROBE_EXTRA", sh)
    }
    pub fn pre(mut self, sh: &'static str) -> Self {
        self.pre = sh;
        self
    }
    /// Compares only the mount lines of `targets` (the ones the vector's
    /// own options make); `why` says why the others may differ.
    pub fn only_mounts(mut self, targets: &[&'static str], why: &'static str) -> Self {
        self.mounts = Some((targets.to_vec(), why));
        self
    }
    pub fn expect(mut self, code: i32) -> Self {
        self.expect = code;
        self
    }
}

/// What one run produced, normalised for comparison.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    pub code: i32,
    pub text: String,
}

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(format!("/tmp/sbx-bwrap-diff-{}-{name}", std::process::id()))
}

/// The fixture directory of a vector: the same path for both runs, made
/// afresh before each, owned by the test user.
pub fn fixture(name: &str) -> PathBuf {
    let f = fixture_path(name);
    let _ = std::fs::remove_dir_all(&f);
    for sub in ["", "data", "data/sub", "home", "cwd", "empty", "upper", "work", "app", "out"] {
        std::fs::create_dir_all(f.join(sub)).unwrap();
    }
    std::fs::write(f.join("data/file"), "host data\n").unwrap();
    std::fs::write(f.join("data/sub/deep"), "deep\n").unwrap();
    std::fs::write(f.join("lockfile"), "").unwrap();
    std::fs::write(f.join("app/.ref"), "").unwrap();
    std::fs::write(f.join("input.png"), "not really a png\n").unwrap();
    for p in walk(&f) {
        let _ = std::fs::set_permissions(
            &p,
            std::fs::Permissions::from_mode(if p.is_dir() { 0o755 } else { 0o644 }),
        );
        if let Some((uid, gid)) = test_ids() {
            let _ = std::os::unix::fs::lchown(&p, Some(uid), Some(gid));
        }
    }
    f
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

/// sandbox installed as `bwrap`: a symlink next to the copied binary.
pub fn compat_bwrap() -> PathBuf {
    let link = bin().parent().unwrap().join("bwrap");
    if !link.exists() {
        let _ = std::os::unix::fs::symlink(bin(), &link);
    }
    link
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Runs `v` through the bwrap at `bwrap`, in a fresh fixture.
pub fn run(bwrap: &Path, v: &Vector) -> Outcome {
    let f = fixture(v.name);
    let fs = f.to_str().unwrap();
    let mut script = format!("{} exec {}", v.pre, quote(bwrap.to_str().unwrap()));
    for a in &v.args {
        script += &format!(" {}", quote(&a.replace("{F}", fs)));
    }
    let probe = ["sh".to_string(), "-c".to_string(), PROBE.to_string()];
    for a in v.cmd.as_deref().unwrap_or(&probe) {
        script += &format!(" {}", quote(&a.replace("{F}", fs)));
    }
    for (fd, data) in &v.inputs {
        let p = f.join(format!("in-{fd}"));
        // Text (an --args list) may name the fixture; binary data is kept as is.
        let data = match std::str::from_utf8(data) {
            Ok(t) => t.replace("{F}", fs).into_bytes(),
            Err(_) => data.clone(),
        };
        std::fs::write(&p, data).unwrap();
        script += &format!(" {fd}<{}", quote(p.to_str().unwrap()));
    }
    for (fd, rel) in &v.open {
        script += &format!(" {fd}<{}", quote(f.join(rel).to_str().unwrap()));
    }
    for fd in &v.outputs {
        script += &format!(" {fd}>{}", quote(f.join(format!("out-{fd}")).to_str().unwrap()));
    }
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(&script)
        .current_dir(f.join("cwd"))
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", f.join("home"))
        .env("LANG", "C.UTF-8")
        .stdin(Stdio::null());
    for (k, val) in &v.env {
        cmd.env(k, val.replace("{F}", fs));
    }
    as_caller(&mut cmd);
    let out = out(&mut cmd);
    let mut text = format!("--- stdout\n{}--- stderr\n{}", out.stdout(), stderr(&out.0.stderr));
    for fd in &v.outputs {
        let data = std::fs::read_to_string(f.join(format!("out-{fd}"))).unwrap_or_default();
        text += &format!("--- fd {fd}\n{}", numbers(&data));
    }
    // What the run left on the host.
    for dir in ["data", "out"] {
        text += &format!("--- host {dir}\n");
        for p in walk(&f.join(dir)) {
            let rel = p.strip_prefix(&f).unwrap().display().to_string();
            let content = std::fs::read_to_string(&p).unwrap_or_default();
            text += &format!("{rel}: {content:?}\n");
        }
    }
    let text = text.replace(bwrap.to_str().unwrap(), "BWRAP");
    Outcome { code: out.code(), text }
}

/// The usage text is bubblewrap's own prose: only its first line is
/// compared (the options are listed in `--help`, which is tested directly).
fn stderr(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw).into_owned();
    if text.starts_with("usage: ") {
        return text.lines().next().unwrap_or("").to_string() + "\n(usage)\n";
    }
    text
}

/// Status JSON with every number replaced (pids and namespace inodes differ
/// from run to run); key order, spacing and line structure are kept.
pub fn numbers(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_num = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            if !in_num {
                out.push('N');
            }
            in_num = true;
        } else {
            in_num = false;
            out.push(c);
        }
    }
    out
}

/// Whether Debian's bwrap can run here as the test user.
pub fn reference_works() -> Result<(), String> {
    if !Path::new(REFERENCE).exists() {
        return Err(format!("{REFERENCE} is not installed (apt-get install bubblewrap)"));
    }
    let mut cmd = Command::new(REFERENCE);
    cmd.args(["--ro-bind", "/", "/", "true"]);
    let o = out(as_caller(&mut cmd));
    match o.code() {
        0 => Ok(()),
        _ => Err(format!("{REFERENCE} cannot run here: {}", o.stderr().trim())),
    }
}

/// Whether the reference can run; a skip (a failure under CI=true) when not.
pub fn need_reference() -> bool {
    match reference_works() {
        Ok(()) => true,
        Err(why) => {
            skip(&why);
            false
        }
    }
}

/// Runs each vector through both and returns the mismatches, described.
pub fn compare(vectors: &[Vector]) -> Vec<String> {
    let ours = compat_bwrap();
    let mut bad = Vec::new();
    for vec in vectors {
        let want = run(Path::new(REFERENCE), vec);
        let got = run(&ours, vec);
        let _ = std::fs::remove_dir_all(fixture_path(vec.name));
        if std::env::var("BWRAP_DIFF_SHOW").is_ok_and(|n| n == vec.name) {
            eprintln!(
                "=== bubblewrap (exit {})\n{}\n=== sandbox (exit {})\n{}",
                want.code, want.text, got.code, got.text
            );
        }
        let mut problems = Vec::new();
        if want.code != vec.expect {
            problems.push(format!("bubblewrap itself exited {} (vector expects {})", want.code, vec.expect));
        }
        if vec.expect == 0 && vec.cmd.is_none() && !want.text.contains("== extra") {
            problems.push("the probe did not run under bubblewrap".to_string());
        }
        let (want, got) = (normalise(&want, vec), normalise(&got, vec));
        if want != got {
            problems.push(format!(
                "exit {} and {}; differs:\n{}",
                want.code,
                got.code,
                diff(&want.text, &got.text)
            ));
        }
        if !problems.is_empty() {
            bad.push(format!("vector {}: {}\n", vec.name, problems.join("\n")));
        }
    }
    bad
}

/// Removes the lines a vector declares as legitimately different (with
/// its reason, see [`Vector::only_mounts`]).
fn normalise(o: &Outcome, v: &Vector) -> Outcome {
    let mut section = "";
    let mut kept = Vec::new();
    for l in o.text.lines() {
        if l.starts_with("== ") || l.starts_with("--- ") {
            section = l;
        }
        if let (Some((targets, _)), "== mounts") = (&v.mounts, section) {
            let target = l.split(' ').next().unwrap_or("");
            if l != section && !targets.contains(&target) {
                continue;
            }
        }
        kept.push(l);
    }
    Outcome { code: o.code, text: kept.join("\n") }
}

/// A line diff: `-` bubblewrap, `+` sandbox.
fn diff(want: &str, got: &str) -> String {
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    let mut out = String::new();
    let n = w.len().max(g.len());
    for i in 0..n {
        match (w.get(i), g.get(i)) {
            (Some(a), Some(b)) if a == b => {}
            (a, b) => {
                if let Some(a) = a {
                    out += &format!("  -{i}: {a}\n");
                }
                if let Some(b) = b {
                    out += &format!("  +{i}: {b}\n");
                }
            }
        }
    }
    out
}

//! Integration tests of profiles (issue 4): every built-in runs a real
//! program, and what it hides and allows is checked inside and on the host.

mod common;
mod netutil;

use common::*;

/// A home with secrets and tool caches, and a project directory.
struct World {
    home: Dir,
    proj: Dir,
}

fn world() -> World {
    let home = Dir::new();
    home.file(".ssh/id_x", "PRIVATE KEY");
    home.file(".aws/credentials", "AWS SECRET");
    home.file(".cargo/registry/cache/crate.txt", "cached crate\n");
    home.file(".config/sandbox/profiles/.keep", "");
    let proj = Dir::new();
    proj.file("src/main.c", "int main(){}");
    World { home, proj }
}

fn run(w: &World, args: &[&str]) -> Out {
    sbx(w.proj.path(), w.home.path(), args)
        .env("XDG_CONFIG_HOME", w.home.path().join(".config").to_str().unwrap())
        .env("GITHUB_TOKEN", "ghp_secret")
        .env("SSH_AUTH_SOCK", "/run/user/1/agent")
        .output()
}

fn home_path(w: &World, rel: &str) -> String {
    w.home.path().join(rel).display().to_string()
}

#[test]
fn ci_hides_secrets_shares_caches_read_only_and_the_project_read_write() {
    let w = world();
    let script = format!(
        "cat {ssh} 2>/dev/null && echo SSH-VISIBLE; cat {cache}; echo x >> {cache} 2>/dev/null && echo CACHE-WRITABLE; \
         echo built > out.o && echo built; env | grep -c -E 'GITHUB_TOKEN|SSH_AUTH_SOCK'; \
         tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '",
        ssh = home_path(&w, ".ssh/id_x"),
        cache = home_path(&w, ".cargo/registry/cache/crate.txt"),
    );
    let out = run(&w, &["--profile", "ci", "--", "sh", "-c", &script]);
    assert_eq!(out.stdout(), "cached crate\nbuilt\n0\nlo\n", "stderr: {}", out.stderr());
    assert_eq!(std::fs::read_to_string(w.proj.path().join("out.o")).unwrap(), "built\n");
    assert_eq!(
        std::fs::read_to_string(w.home.path().join(".cargo/registry/cache/crate.txt")).unwrap(),
        "cached crate\n",
        "the host cache is unchanged"
    );
}

#[test]
fn build_makes_package_caches_writable() {
    let w = world();
    let new = home_path(&w, ".cargo/registry/cache/new.txt");
    run(&w, &["--profile", "build", "--", "sh", "-c", &format!("echo fetched > {new}")]).ok();
    assert_eq!(std::fs::read_to_string(&new).unwrap(), "fetched\n");
    let creds = home_path(&w, ".aws/credentials");
    let out = run(&w, &["--profile", "build", "--", "cat", &creds]);
    // cat ran and found nothing there: not a setup failure (125), not a read.
    assert_eq!(
        (out.code(), out.stdout().as_str()),
        (1, ""),
        "secrets stay hidden under build: {}",
        out.stderr()
    );
    assert_eq!(out.stderr(), format!("cat: {creds}: No such file or directory\n"));
}

#[test]
fn strict_shares_nothing_writable_but_tmp() {
    let w = world();
    let script = format!(
        "pwd; touch /tmp/ok && echo tmp-ok; ls {proj} 2>/dev/null | wc -l; touch {proj}/x 2>/dev/null || echo proj-refused",
        proj = w.proj.path().display()
    );
    let out = run(&w, &["--profile", "strict", "--", "sh", "-c", &script]);
    assert_eq!(out.stdout(), "/tmp\ntmp-ok\n0\nproj-refused\n", "stderr: {}", out.stderr());
    assert!(!w.proj.path().join("x").exists());
}

#[test]
fn agent_gets_the_project_but_not_the_rest_of_home() {
    let w = world();
    let script = format!(
        "echo edit > src/new.c && echo edited; ls -A {home} | tr '\\n' ' '; env | grep -c GITHUB_TOKEN",
        home = w.home.path().display()
    );
    let out = run(&w, &["--profile", "agent", "--", "sh", "-c", &script]);
    let stdout = out.stdout();
    assert!(stdout.starts_with("edited\n"), "{stdout} {}", out.stderr());
    assert!(!stdout.contains(".ssh") && !stdout.contains(".aws"), "{stdout}");
    assert!(stdout.ends_with("0\n"), "{stdout}");
    assert!(w.proj.path().join("src/new.c").exists());
}

/// The agent's network, on a small internet of the test's own
/// (tests/netutil/world.rs): the registries and forges by name, on their
/// ports; any other name refused by the resolver, any other address or
/// port refused at once.
#[test]
fn agent_reaches_registries_and_forges_by_name_only() {
    use netutil::zone::{greeter, Rr, Zone};
    if !netutil::available() {
        return;
    }
    netutil::world::world_island(&["198.51.100.7", "198.51.100.8"], |net| {
        let w = world();
        net.run(|| {
            for port in [22, 443, 8443] {
                greeter("198.51.100.7".parse().unwrap(), port, &format!("port {port}"));
            }
            greeter("198.51.100.8".parse().unwrap(), 443, "elsewhere");
        });
        let a = |s: &str| Rr::A(s.parse().unwrap());
        let _z = Zone::start(
            "127.0.0.1:53",
            vec![
                ("pypi.org", 60, a("198.51.100.7")),
                ("github.com", 60, a("198.51.100.7")),
                ("objects.githubusercontent.com", 60, a("198.51.100.7")),
                ("example.org", 60, a("198.51.100.8")),
            ],
        );
        let tcp = |host: &str, port: u16| {
            format!(
                "timeout 3 bash -c 'exec 3<>/dev/tcp/{host}/{port} && cat <&3' 2>/dev/null || echo refused"
            )
        };
        let script = [
            tcp("pypi.org", 443),
            tcp("github.com", 22),
            tcp("objects.githubusercontent.com", 443),
            tcp("pypi.org", 8443),
            "getent hosts example.org || echo \"example.org: $?\"".to_string(),
            tcp("198.51.100.8", 443),
        ]
        .join("; ");
        let out = run(&w, &["--profile", "agent", "--", "sh", "-c", &script]).ok();
        assert_eq!(out, "port 443\nport 22\nport 443\nrefused\nexample.org: 2\nrefused\n");
    });
}

#[test]
fn net_service_keeps_its_state_between_runs_and_nothing_else() {
    let w = world();
    let state = Dir::new();
    let script = "echo run >> /var/lib/service/runs; wc -l < /var/lib/service/runs; pwd; touch /etc/x 2>/dev/null || echo etc-ro";
    for expect in ["1", "2"] {
        let out = sbx(w.proj.path(), w.home.path(), ["--profile", "net-service", "--", "sh", "-c", script])
            .env("SANDBOX_STATE_DIR", state.path().to_str().unwrap())
            .output();
        assert_eq!(out.ok(), format!("{expect}\n/var/lib/service\netc-ro\n"));
    }
    assert_eq!(std::fs::read_to_string(state.path().join("runs")).unwrap(), "run\nrun\n");
}

#[test]
fn none_starts_from_an_empty_root() {
    let w = world();
    let out = run(&w, &["--profile", "none", "--ro", "/usr", "--merged-usr", "--", "/usr/bin/ls", "/"]);
    let names: Vec<String> = out.ok().lines().map(String::from).collect();
    assert!(names.contains(&"usr".to_string()) && !names.contains(&"etc".to_string()), "{names:?}");
    assert!(!names.contains(&"home".to_string()) && !names.contains(&"tmp".to_string()), "{names:?}");
}

#[test]
fn user_profiles_by_name_project_profiles_only_by_path() {
    let w = world();
    let mine = w.home.file(
        ".config/sandbox/profiles/mine.toml",
        "include = [\"default\"]\n[process]\nhostname = \"mine\"\n",
    );
    let _ = mine;
    let out = run(&w, &["--profile", "mine", "--", "cat", "/proc/sys/kernel/hostname"]).ok();
    assert_eq!(out, "mine\n");
    // A profile in the current directory never loads by itself.
    let project = "include = [\"default\"]\n[process]\nhostname = \"project\"\n";
    w.proj.file("sandbox.toml", project);
    w.proj.file(".sandbox.toml", project);
    assert_eq!(run(&w, &["--", "cat", "/proc/sys/kernel/hostname"]).ok(), "sandbox\n");
    let out = run(&w, &["--profile", "./sandbox.toml", "--", "cat", "/proc/sys/kernel/hostname"]);
    assert_eq!(out.ok(), "project\n");
}

#[test]
fn profiles_list_and_show() {
    let w = world();
    w.home.file(".config/sandbox/profiles/mine.toml", "description = \"my own\"\ninclude = [\"strict\"]\n");
    let list = run(&w, &["profiles", "list"]).ok();
    let first: Vec<&str> = list.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(first[0], "mine", "{list}");
    assert!(list.contains("my own"), "{list}");
    for name in ["default", "none", "strict", "ci", "build", "agent", "net-service"] {
        assert!(list.lines().any(|l| l.starts_with(name)), "{name} missing:\n{list}");
    }
    let shown = run(&w, &["profiles", "show", "mine"]).ok();
    assert!(shown.contains("description = \"my own\""), "{shown}");
    assert!(
        shown.contains(&format!("tmpfs = [\"/tmp\", \"{}\"]", w.home.path().display())),
        "expanded:\n{shown}"
    );
    assert!(shown.contains("bind-cwd = \"none\""), "{shown}");
}

#[test]
fn bad_profiles_fail_cleanly_and_change_nothing() {
    let w = world();
    let bad = w.proj.file("bad.toml", "[filesystem]\nro = [\"/usr\"]\nrwx = [\"/\"]\n");
    let out = run(&w, &["--profile", bad.to_str().unwrap(), "--", "true"]);
    out.fails(125, &format!("profile {}:3:1: unknown field `rwx`", bad.display()));
    assert!(out.stderr().contains("in [filesystem]"));
    w.proj.file("a.toml", "include = [\"./b.toml\"]\n");
    w.proj.file("b.toml", "include = [\"./a.toml\"]\n");
    run(&w, &["--profile", "./a.toml", "--", "true"]).fails(125, "include cycle");
    run(&w, &["--profile", "no-such-profile", "--", "true"]).fails(125, "profile no-such-profile: not found");
    let listing: Vec<_> =
        std::fs::read_dir(w.proj.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(listing.len(), 4, "nothing created next to the profiles: {listing:?}");
}

#[test]
fn explain_names_the_origin_of_each_entry() {
    let w = world();
    let out = run(&w, &["explain", "--profile", "ci", "--ro", "/opt:/opt", "--", "true"]).ok();
    assert!(out.contains("built-in default:5:7"), "{out}");
    assert!(out.contains("built-in ci:"), "{out}");
    assert!(out.lines().any(|l| l.trim_start().starts_with("/opt") && l.ends_with("command line")), "{out}");
}

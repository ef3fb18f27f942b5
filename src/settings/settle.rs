//! The root's source and the id map, settled once every setting is folded:
//! `--rootfs` with the overlay options that make it writable, and
//! `--userns auto` against the final `--uid` and `--gid`.

use std::path::{Path, PathBuf};

use super::{Provenance, Userns};
use crate::escape;
use crate::host::Host;
use crate::idmap::{self, Caller};
use crate::plan::{FsOp, IdMap, MapHelpers, Plan, Ranges, RootSource, RootWrites, Upper};

/// `--overlay /` or `--persist /:STATEDIR`: an overlay of the host's `/` at `/`.
fn is_root_overlay(op: &FsOp) -> bool {
    matches!(op, FsOp::Overlay { lowers, dest, .. } if dest == Path::new("/") && lowers == &[PathBuf::from("/")])
}

/// Makes `dir` the root. An overlay of `/` at `/` then makes that root
/// writable (the last one counts) instead of overlaying the host's root.
pub fn root_source(
    plan: &mut Plan,
    prov: &mut Provenance,
    dir: Option<PathBuf>,
    rw: bool,
) -> Result<(), String> {
    let Some(dir) = dir else {
        if rw {
            return Err("--rw-rootfs needs --rootfs DIR ([filesystem] rootfs)".into());
        }
        let state = plan.fs.iter().find_map(|op| match op {
            FsOp::Overlay { upper: Upper::State { dir }, .. } if is_root_overlay(op) => Some(dir),
            _ => None,
        });
        return match state {
            Some(state) => Err(format!(
                "--persist /:{}: the state directory and PATH may not contain each other (with --rootfs DIR, \
                 / is DIR)",
                escape::path(state)
            )),
            None => Ok(()),
        };
    };
    let mut writes = if rw { RootWrites::ReadWrite } else { RootWrites::ReadOnly };
    while let Some(i) = plan.fs.iter().position(is_root_overlay) {
        let FsOp::Overlay { upper, .. } = plan.fs.remove(i) else { unreachable!("an overlay") };
        prov.fs.remove(i);
        if rw {
            return Err(
                "--rw-rootfs and --overlay / (or --persist /:STATEDIR) both make the root writable: \
                        choose one"
                    .into(),
            );
        }
        if let Upper::State { dir: state } = &upper {
            if state.starts_with(&dir) || dir.starts_with(state) {
                return Err(format!(
                    "--persist /:{}: the state directory and the root {} may not contain each other",
                    escape::path(state),
                    escape::path(&dir)
                ));
            }
        }
        writes = RootWrites::Overlay { upper };
    }
    plan.root.source = RootSource::Dir { path: dir, writes };
    Ok(())
}

/// `--userns auto`: the maps for the command's final ids, from the host's
/// subordinate ids, and the helpers that write them (none for root, who
/// writes them itself).
pub fn id_map(plan: &mut Plan, host: &Host, userns: Userns) -> Result<(), String> {
    if userns == Userns::Own {
        plan.id_map = IdMap::Own;
        return Ok(());
    }
    let view = host.userns();
    let caller = Caller { name: view.name.clone(), uid: host.uid, gid: host.gid };
    let inside = (plan.ids.uid, plan.ids.gid);
    let (uid, gid) = idmap::auto_maps(&view.files, &caller, inside).map_err(|e| e.to_string())?;
    let helpers = match host.uid {
        0 => None,
        _ => Some(MapHelpers {
            newuidmap: view.newuidmap.clone().map_err(|e| e.to_string())?,
            newgidmap: view.newgidmap.clone().map_err(|e| e.to_string())?,
        }),
    };
    let setgroups = idmap::setgroups(&gid, host.gid);
    plan.id_map = IdMap::Ranges(Ranges { uid, gid, setgroups, helpers });
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use crate::host::Host;
    use crate::idmap::Extent;
    use crate::idmap::Setgroups;
    use crate::native::{parse, Command};
    use crate::plan::{FsOp, IdMap, Plan, RootSource, RootWrites, Upper};

    fn host() -> Host {
        let mut h = Host::fake("/work/proj");
        h.env.push(("XDG_CONFIG_HOME".into(), "/nonexistent-sandbox-test".into()));
        h
    }

    fn parse_with(h: &Host, args: &[&str]) -> Result<Plan, String> {
        let argv: Vec<OsString> = ["sandbox"].iter().chain(args).map(OsString::from).collect();
        match parse(argv, h) {
            Ok(Command::Run { built, .. }) => Ok(built.plan),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e.0),
        }
    }

    fn plan(args: &[&str]) -> Plan {
        parse_with(&host(), args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    fn source(dir: &str, writes: RootWrites) -> RootSource {
        RootSource::Dir { path: dir.into(), writes }
    }

    #[test]
    fn rootfs_is_read_only_and_the_overlay_options_make_it_writable() {
        assert_eq!(
            plan(&["--rootfs", "img", "--", "true"]).root.source,
            source("/work/proj/img", RootWrites::ReadOnly)
        );
        let p = plan(&["--overlay", "/", "--rootfs", "/img", "--", "true"]);
        assert_eq!(p.root.source, source("/img", RootWrites::Overlay { upper: Upper::Tmpfs }));
        assert!(!p.fs.iter().any(|op| op.dest() == std::path::Path::new("/")), "the host's / was overlaid");
        let p = plan(&["--rootfs", "/img", "--persist", "/:/state", "--", "true"]);
        let state = Upper::State { dir: "/state".into() };
        assert_eq!(p.root.source, source("/img", RootWrites::Overlay { upper: state }));
        let p = plan(&["--rootfs", "/img", "--rw-rootfs", "--", "true"]);
        assert_eq!(p.root.source, source("/img", RootWrites::ReadWrite));
        // Without --rootfs an overlay of / stays the host's.
        let p = plan(&["--overlay", "/", "--", "true"]);
        assert!(p.root.source.is_tmpfs());
        assert!(p
            .fs
            .iter()
            .any(|op| matches!(op, FsOp::Overlay { dest, .. } if dest == std::path::Path::new("/"))));
    }

    #[test]
    fn rootfs_mistakes_are_refused() {
        let err = |args: &[&str]| parse_with(&host(), args).unwrap_err();
        assert!(err(&["--rw-rootfs", "--", "true"]).contains("--rw-rootfs needs --rootfs"));
        assert!(
            err(&["--rootfs", "/img", "--rw-rootfs", "--overlay", "/", "--", "true"]).contains("choose one")
        );
        assert!(
            err(&["--rootfs", "/img", "--persist", "/:/img/state", "--", "true"]).contains("may not contain")
        );
        assert!(err(&["--persist", "/:/state", "--", "true"]).contains("may not contain each other"));
        assert!(err(&["--rootfs", "/img", "--mode", "landlock", "--", "true"]).contains("--mode landlock"));
    }

    #[test]
    fn rootfs_without_a_profile_takes_the_rootfs_profile() {
        let p = plan(&["--rootfs", "/img", "--", "true"]);
        let host_pieces = p.fs.iter().any(
            |op| matches!(op, FsOp::Bind { src, .. } if src.starts_with("/usr") || src.starts_with("/etc")),
        );
        assert!(!host_pieces, "{:?}", p.fs);
        assert!(p.fs.iter().any(|op| matches!(op, FsOp::Proc { .. })));
        let path = p.env.iter().find(|v| v.name == "PATH").unwrap();
        assert_eq!(path.value, "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        // A profile named is taken as it is.
        let p = plan(&["--profile", "default", "--rootfs", "/img", "--", "true"]);
        assert!(p
            .fs
            .iter()
            .any(|op| matches!(op, FsOp::Bind { src, .. } if src == std::path::Path::new("/usr"))));
    }

    #[test]
    fn the_network_gets_resolv_conf_and_hosts_in_a_root() {
        let dests = |p: &Plan| p.fs.iter().map(|op| op.dest().display().to_string()).collect::<Vec<_>>();
        let user = plan(&["--rootfs", "/img", "--net", "user", "--", "true"]);
        assert!(
            dests(&user).ends_with(&["/etc/resolv.conf".into(), "/etc/hosts".into()]),
            "{:?}",
            dests(&user)
        );
        let host = plan(&["--rootfs", "/img", "--net", "host", "--", "true"]);
        let binds: Vec<_> =
            host.fs.iter().filter(|op| matches!(op, FsOp::Bind { optional: true, .. })).collect();
        assert_eq!(binds.len(), 2, "{:?}", host.fs);
        let none = plan(&["--rootfs", "/img", "--", "true"]);
        assert!(!dests(&none).contains(&"/etc/hosts".to_string()));
        // The host's root has its own /etc/hosts.
        assert!(!dests(&plan(&["--net", "user", "--", "true"])).contains(&"/etc/hosts".to_string()));
    }

    #[test]
    fn userns_auto_states_the_map_for_the_final_ids() {
        let e = |inside, outside, count| Extent { inside, outside, count };
        let p = plan(&["--userns", "auto", "--uid", "0", "--", "true"]);
        let IdMap::Ranges(r) = &p.id_map else { panic!("{:?}", p.id_map) };
        assert_eq!(r.uid, [e(0, 1000, 1), e(1, 100000, 65536)]);
        assert_eq!(r.gid, [e(1000, 1000, 1), e(0, 100000, 1000), e(1001, 101000, 64536)]);
        assert_eq!(r.setgroups, Setgroups::Allow);
        assert_eq!(r.helpers.as_ref().unwrap().newuidmap, std::path::Path::new("/usr/bin/newuidmap"));
        assert!(plan(&["--", "true"]).id_map.is_own());
        assert!(plan(&["--profile", "container", "--rootfs", "/img", "--", "true"]).id_map != IdMap::Own);
        // Root writes its maps itself.
        let mut root = host();
        (root.uid, root.gid, root.userns) = (0, 0, crate::idmap::HostView::fake("root").into());
        let p = parse_with(&root, &["--userns", "auto", "--", "true"]).unwrap();
        let IdMap::Ranges(r) = &p.id_map else { panic!() };
        assert_eq!(r.helpers, None);
    }

    #[test]
    fn userns_auto_errors_name_the_file_or_the_helper() {
        let mut h = host();
        h.userns =
            crate::idmap::HostView { name: Some("bob".into()), ..crate::idmap::HostView::fake("u") }.into();
        let err = parse_with(&h, &["--userns", "auto", "--", "true"]).unwrap_err();
        assert!(
            err.starts_with("--userns auto: bob has no subordinate uids in /etc/subuid\nhint: sudo usermod"),
            "{err}"
        );
        let mut h = host();
        let absent = crate::idmap::helper::find(crate::idmap::Kind::Uid, "".as_ref(), |_| {
            crate::idmap::helper::Found::Absent
        });
        h.userns = crate::idmap::HostView {
            newuidmap: Err(absent.unwrap_err()),
            ..crate::idmap::HostView::fake("u")
        }
        .into();
        let err = parse_with(&h, &["--userns", "auto", "--", "true"]).unwrap_err();
        assert!(err.contains("newuidmap not found in PATH"), "{err}");
        let err = parse_with(&host(), &["--userns", "auto", "--mode", "landlock", "--", "true"]).unwrap_err();
        assert!(err.contains("--mode landlock"), "{err}");
    }
}

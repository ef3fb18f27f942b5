//! The id map, settled once every setting is folded: `--userns auto`
//! against the final `--uid` and `--gid`.

use super::Userns;
use crate::host::Host;
use crate::idmap::{self, Caller};
use crate::plan::{IdMap, MapHelpers, Plan, Ranges};

/// `--userns auto`: the maps for the command's final ids, from the host's
/// subordinate ids, and the helpers that write them (none for root, who
/// writes them itself).
pub fn id_map(plan: &mut Plan, host: &Host, userns: Userns) -> Result<(), String> {
    if userns == Userns::Own {
        plan.id_map = IdMap::Own;
        return Ok(());
    }
    let view = &host.userns;
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
    use crate::plan::{IdMap, Plan};

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
        // Root writes its maps itself.
        let mut root = host();
        (root.uid, root.gid, root.userns) = (0, 0, crate::idmap::HostView::fake("root"));
        root.userns.name = Some("root".into());
        let p = parse_with(&root, &["--userns", "auto", "--", "true"]).unwrap();
        let IdMap::Ranges(r) = &p.id_map else { panic!() };
        assert_eq!(r.helpers, None);
    }

    #[test]
    fn userns_auto_errors_name_the_file_or_the_helper() {
        let mut h = host();
        h.userns.name = Some("bob".into());
        let err = parse_with(&h, &["--userns", "auto", "--", "true"]).unwrap_err();
        assert!(
            err.starts_with("--userns auto: bob has no subordinate uids in /etc/subuid\nhint: sudo usermod"),
            "{err}"
        );
        let mut h = host();
        h.userns.newuidmap = Err(crate::idmap::helper::find(crate::idmap::Kind::Uid, "".as_ref(), |_| {
            crate::idmap::helper::Found::Absent
        })
        .unwrap_err());
        let err = parse_with(&h, &["--userns", "auto", "--", "true"]).unwrap_err();
        assert!(err.contains("newuidmap not found in PATH"), "{err}");
        let err = parse_with(&host(), &["--userns", "auto", "--mode", "landlock", "--", "true"]).unwrap_err();
        assert!(err.contains("--mode landlock"), "{err}");
    }
}

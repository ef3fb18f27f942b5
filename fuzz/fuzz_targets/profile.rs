//! The profile loader: arbitrary text through the schema, variables and the
//! settings fold. Invariant: never panics; errors are one line with a
//! position; a loaded profile renders as TOML that parses again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sandbox::host::Host;
use sandbox::profile::{self, Source};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut host = Host::fake("/work/proj");
    host.env.push(("XDG_CONFIG_HOME".into(), "/nonexistent-sandbox-fuzz".into()));
    let src = Source { label: "fuzz.toml".into(), text: text.to_string(), dir: None };
    match profile::load_source(&src, &host) {
        Ok(loaded) => {
            let _ = sandbox::settings::build(&host, &loaded.settings);
            let shown = profile::render(loaded.description.as_deref(), &loaded.settings);
            assert!(
                toml::from_str::<profile::schema::Doc>(&shown).is_ok(),
                "render gave invalid TOML:\n{shown}"
            );
        }
        Err(e) => assert!(!e.contains('\n'), "multi-line error: {e:?}"),
    }
});

use super::*;

fn split(s: &str) -> Vec<String> {
    split_exec(&unescape_string(s)).unwrap()
}

#[test]
fn exec_splits_on_blanks_and_undoes_quotes() {
    assert_eq!(split("gnome-calculator"), ["gnome-calculator"]);
    assert_eq!(split("  a   b\tc "), ["a", "b", "c"]);
    assert_eq!(split(r#""/opt/My App/run" --flag %U"#), ["/opt/My App/run", "--flag", "%U"]);
    // The string escape layer first (\\ → \), then the quoting layer (\" → ").
    assert_eq!(split(r#"sh -c "echo \\"hi\\" \\$HOME""#), ["sh", "-c", r#"echo "hi" $HOME"#]);
    // Four backslashes in the file are one literal backslash in a quoted argument.
    assert_eq!(split(r#"printf "a\\\\b""#), ["printf", r"a\b"]);
    assert_eq!(split(r"sh -c 'echo $HOME'"), ["sh", "-c", "echo $HOME"]);
    assert_eq!(split(r#"x "" y"#), ["x", "", "y"]);
    assert_eq!(split(r"a\sb"), ["a", "b"]);
}

#[test]
fn bad_exec_lines_are_errors() {
    assert!(split_exec(r#"a "b"#).unwrap_err().cause.contains("closing quote"));
    assert!(split_exec("a 'b").unwrap_err().cause.contains("closing quote"));
    assert!(split_exec("   ").unwrap_err().cause.contains("empty"));
    let codes = |s: &str| check_field_codes(split(s));
    assert!(codes("app %x").unwrap_err().cause.contains("unknown field code %x"));
    assert!(codes("app %f %u").unwrap_err().cause.contains("more than one"));
    assert!(codes("app --files=%F").unwrap_err().cause.contains("of its own"));
    assert!(codes("%f app").unwrap_err().cause.contains("field code"));
    assert!(codes("app 100%").unwrap_err().cause.contains("lone %"));
}

#[test]
fn field_codes_stay_and_deprecated_ones_go() {
    let codes = |s: &str| check_field_codes(split(s)).unwrap();
    assert_eq!(codes("app %U"), ["app", "%U"]);
    assert_eq!(codes("app --uri=%u %i %c %k 100%%"), ["app", "--uri=%u", "%i", "%c", "%k", "100%%"]);
    assert_eq!(codes("app %d %m -x%n"), ["app", "-x"]);
}

#[test]
fn quoting_round_trips() {
    for args in [
        vec!["/opt/My App/run", "%U"],
        vec!["sh", "-c", r#"echo "$1" `x` \ ; ~ # * ? () <> | &"#],
        vec!["a", ""],
        vec!["tab\there", "new\nline", "cr\rx"],
    ] {
        let args: Vec<String> = args.into_iter().map(String::from).collect();
        let written = escape_string(&join_exec(&args));
        assert!(!written.contains('\n') && !written.contains('\t'), "{written}");
        assert_eq!(split_exec(&unescape_string(&written)).unwrap(), args, "{written}");
    }
    assert_eq!(quote_arg("plain-arg=%f"), "plain-arg=%f");
    assert_eq!(quote_arg("a b"), "\"a b\"");
    assert_eq!(escape_string(" lead"), r"\slead");
}

const CALC: &str = "\
[Desktop Entry]
# A comment that stays
Name=Calculator
Name[de]=Rechner
Exec=gnome-calculator %U
TryExec=gnome-calculator
Icon=org.gnome.Calculator
Type=Application
MimeType=x-scheme-handler/calculator;
DBusActivatable=true
Actions=new;

[Desktop Action new]
Name=New window
Exec=gnome-calculator --mode=\"basic mode\"
";

fn wrap() -> Wrap<'static> {
    Wrap {
        program: "/opt/sand box/sandbox",
        profile: "desktop",
        source: "/usr/share/applications/calc.desktop",
    }
}

#[test]
fn rewrite_wraps_every_exec_and_keeps_the_rest() {
    let out = rewrite(CALC, &wrap()).unwrap();
    let e = Entry::parse(&out).unwrap();
    assert_eq!(
        split_exec(&e.main("Exec").unwrap()).unwrap(),
        ["/opt/sand box/sandbox", "--profile", "desktop", "--", "gnome-calculator", "%U"]
    );
    assert_eq!(
        split_exec(&e.get("Desktop Action new", "Exec").unwrap()).unwrap(),
        ["/opt/sand box/sandbox", "--profile", "desktop", "--", "gnome-calculator", "--mode=basic mode"]
    );
    assert_eq!(e.main("DBusActivatable"), None);
    for (k, v) in [
        ("Name", "Calculator"),
        ("Name[de]", "Rechner"),
        ("TryExec", "gnome-calculator"),
        ("Icon", "org.gnome.Calculator"),
        ("MimeType", "x-scheme-handler/calculator;"),
        ("Actions", "new;"),
        (PROFILE_KEY, "desktop"),
        (SOURCE_KEY, "/usr/share/applications/calc.desktop"),
    ] {
        assert_eq!(e.main(k).as_deref(), Some(v), "{k}");
    }
    assert!(out.contains("# A comment that stays\n"));
    assert!(out.starts_with("# Made by `sandbox desktop install`"));
    // The marks sit in [Desktop Entry], before the action group.
    assert!(out.find(PROFILE_KEY).unwrap() < out.find("[Desktop Action new]").unwrap());
    let made = made_by_sandbox(&out).unwrap();
    assert_eq!(made.profile, "desktop");
    assert_eq!(made_by_sandbox(CALC), None);
}

#[test]
fn percent_in_sandbox_arguments_is_doubled() {
    let w = Wrap { program: "/home/a%b/sandbox", profile: "p%x", source: "s" };
    let out = rewrite("[Desktop Entry]\nType=Application\nExec=app\n", &w).unwrap();
    let exec = Entry::parse(&out).unwrap().main("Exec").unwrap();
    assert_eq!(split_exec(&exec).unwrap(), ["/home/a%%b/sandbox", "--profile", "p%%x", "--", "app"]);
}

#[test]
fn rewrite_refuses_what_it_cannot_wrap() {
    let e = |t: &str| rewrite(t, &wrap()).unwrap_err().to_string();
    assert!(e("[Desktop Entry]\nType=Link\nURL=x\n").contains("only an Application"));
    assert!(e("[Desktop Entry]\nName=x\nExec=x\n").contains("no Type"));
    assert!(e("[Desktop Entry]\nType=Application\nDBusActivatable=true\n").contains("D-Bus activation only"));
    assert!(e("[Desktop Entry]\nType=Application\nExec=x %z\n").contains("%z"));
    assert!(e("[Desktop Entry]\nType=Application\nExec=x\n\n[Desktop Action a]\nExec=y %q\n")
        .contains("[Desktop Action a]"));
    let made = rewrite("[Desktop Entry]\nType=Application\nExec=x\n", &wrap()).unwrap();
    assert!(e(&made).contains("already a launcher"));
}

#[test]
fn parse_errors_name_the_line() {
    let e = |t: &str| Entry::parse(t).unwrap_err().to_string();
    assert_eq!(e("[Other]\nA=b\n"), "line 1: the first group is [Other], not [Desktop Entry]");
    assert_eq!(e("A=b\n"), "line 1: key A comes before [Desktop Entry]");
    assert_eq!(e("[Desktop Entry]\nnot a pair\n"), "line 2: neither a group, a Key=Value pair nor a comment");
    assert_eq!(e("[Desktop Entry]\nA=1\nA=2\n"), "line 3: key A appears twice in its group");
    assert_eq!(e("[Desktop Entry]\nA b=1\n"), "line 2: invalid key \"A b\"");
    assert_eq!(e("[Desktop Entry]\n[Desktop Entry]\n"), "line 2: group [Desktop Entry] appears twice");
    assert_eq!(e("# only a comment\n"), "no [Desktop Entry] group");
    // CRLF, a BOM and spaces around = are accepted.
    let ok = Entry::parse("\u{feff}[Desktop Entry]\r\nName = x\r\n").unwrap();
    assert_eq!(ok.main("Name").as_deref(), Some("x"));
}

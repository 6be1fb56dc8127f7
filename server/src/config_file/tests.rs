//! The configuration file: the shipped example, precedence, policies and
//! errors.

use std::io::Write;

use clap::Parser;

use super::*;

fn example() -> String {
    format!("{}/../gatehouse.example.toml", env!("CARGO_MANIFEST_DIR"))
}

fn args(list: &[&str]) -> Vec<OsString> {
    list.iter().map(OsString::from).collect()
}

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

/// Debug text of a parsed configuration, without the `config` path.
fn effective(list: Vec<OsString>) -> String {
    let mut config = Config::try_parse_from(list).unwrap();
    config.config = None;
    format!("{config:?}")
}

#[test]
fn the_example_parses_and_equals_the_defaults() {
    let applied = apply(args(&["gatehouse", "--config", &example()]));
    assert_eq!(applied.errors, Vec::<String>::new());
    assert!(
        applied.settings.len() >= 25,
        "the example sets only {} options",
        applied.settings.len()
    );
    assert_eq!(effective(applied.args), effective(args(&["gatehouse"])));
}

#[test]
fn the_example_lists_every_option() {
    let text = std::fs::read_to_string(example()).unwrap();
    for arg in Config::command().get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if matches!(long, "help" | "version" | "config") {
            continue;
        }
        let key = long.replace('-', "_");
        assert!(
            text.contains(&format!("\n{key} ="))
                || text.contains(&format!("\n# {key} ="))
                || text.contains(&format!("[[{key}]]")),
            "gatehouse.example.toml does not mention `{key}`"
        );
    }
}

#[test]
fn flags_win_over_the_file_which_wins_over_defaults() {
    let settings = file(
        "access_ttl = \"5m\"\nbody_limit = 1024\ntrusted_proxies = [\"10.0.0.0/8\", \"::1/128\"]\n\
         [[rate_limit]]\nname = \"api-user\"\nkey = \"user\"\nlimit = 50\nwindow = \"1m\"\nroutes = [\"/api/*\"]\n\
         [[rate_limit]]\nname = \"ip\"\nenabled = false\n",
    );
    let path = settings.path().display().to_string();
    let applied = apply(args(&[
        "gatehouse",
        "--config",
        &path,
        "--body-limit",
        "2048",
    ]));
    assert_eq!(applied.errors, Vec::<String>::new());
    let config = Config::try_parse_from(applied.args).unwrap();
    assert_eq!(
        config.access_ttl,
        std::time::Duration::from_secs(300),
        "from the file"
    );
    assert_eq!(config.body_limit, 2048, "the flag wins");
    assert_eq!(config.trusted_proxies.len(), 2);
    let policies =
        gatehouse::ratelimit::merge(gatehouse::ratelimit::default_policies(), config.rate_limits);
    assert!(
        !policies.iter().any(|p| &*p.name == "ip"),
        "enabled = false removes a default"
    );
    let api = policies.iter().find(|p| &*p.name == "api-user").unwrap();
    assert_eq!(
        (api.limit, api.routes.clone()),
        (50, vec!["/api/*".to_owned()])
    );
    let from_file = applied
        .settings
        .iter()
        .find(|s| s.name == "access-ttl")
        .unwrap();
    assert_eq!(from_file.source, Source::File);
}

#[test]
fn every_error_is_listed_with_where_it_came_from() {
    let broken = file(
        "acess_ttl = \"5m\"\nbody_limit = { nested = 1 }\nrefresh_ttl = \"soon\"\ntrusted_proxies = [\"10.0.0.0/33\"]\n",
    );
    let path = broken.path().display().to_string();
    let errors = crate::check_config::check(args(&[
        "gatehouse",
        "--config",
        &path,
        "--jwt-leeway",
        "never",
    ]))
    .unwrap_err();
    let all = errors.join("\n");
    for expected in [
        "unknown key `acess_ttl`",
        "`body_limit`",
        "--refresh-ttl (file)",
        "--trusted-proxies (file)",
        "--jwt-leeway (flag)",
    ] {
        assert!(all.contains(expected), "missing `{expected}` in:\n{all}");
    }
    assert_eq!(errors.len(), 5, "{all}");

    let good = crate::check_config::check(args(&[
        "gatehouse",
        "--config",
        &example(),
        "--redis-url",
        "redis://:s3cret@db:6379",
    ]))
    .unwrap();
    assert!(good.contains("access_ttl = \"15m\"  # file"), "{good}");
    assert!(
        good.contains("redis_url = \"redis://***@db:6379\"  # flag"),
        "{good}"
    );
    assert!(!good.contains("s3cret"));
}

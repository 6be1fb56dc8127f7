//! The book's configuration reference, generated from the flags
//! themselves ([`Config`]'s clap definitions): each flag's environment
//! variable, default and help text, so that the documentation cannot
//! drift from what the binary accepts. A test compares the committed page
//! with what this renders; `make docs` writes it.

use clap::CommandFactory;

use crate::config::Config;

/// Where the page lives, from the workspace root.
pub const PAGE: &str = "docs/src/reference/configuration.md";

/// The reference page, as Markdown.
pub fn render() -> String {
    let command = Config::command();
    let mut page = String::from(
        "# Configuration reference\n\n\
         <!-- Generated from the flags (server/src/config_reference.rs) by `make docs`; \
         a test fails when it is out of date. -->\n\n\
         Every option is a flag, an environment variable and a key of the \
         configuration file (the flag's name with `_`, e.g. `access_ttl = \"15m\"`). \
         Precedence is flag > environment > file > default. Durations take `ms`, \
         `s`, `m`, `h` and `d`. See [Configuration](../configuration.md) for the \
         file, `check-config` and the embedded Redis.\n\n\
         | flag | environment | default | meaning |\n|---|---|---|---|\n",
    );
    for arg in command.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if arg.is_hide_set() || long == "help" || long == "version" {
            continue;
        }
        let env = arg
            .get_env()
            .map(|env| format!("`{}`", env.to_string_lossy()))
            .unwrap_or_default();
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|value| format!("`{}`", value.to_string_lossy()))
            .collect();
        let help = arg
            .get_long_help()
            .or_else(|| arg.get_help())
            .map(|help| help.to_string())
            .unwrap_or_default();
        let mut meaning = help.split_whitespace().collect::<Vec<_>>().join(" ");
        let possible: Vec<String> = arg
            .get_possible_values()
            .iter()
            .filter(|value| !value.is_hide_set())
            .map(|value| format!("`{}`", value.get_name()))
            .collect();
        if !possible.is_empty() && !matches!(arg.get_action(), clap::ArgAction::SetTrue) {
            meaning.push_str(&format!(" (one of {})", possible.join(", ")));
        }
        page.push_str(&format!(
            "| `--{long}` | {env} | {} | {} |\n",
            defaults.join(", "),
            meaning.replace('|', "\\|"),
        ));
    }
    page
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    fn page_path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(super::PAGE)
    }

    /// The committed page is what the flags say; `GATEHOUSE_UPDATE_DOCS=1`
    /// rewrites it (`make docs` does).
    #[test]
    fn the_configuration_reference_matches_the_flags() {
        let rendered = super::render();
        let path = page_path();
        if std::env::var_os("GATEHOUSE_UPDATE_DOCS").is_some() {
            std::fs::write(&path, &rendered).expect("write the configuration reference");
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == rendered,
            "{} is out of date with the flags: run `make docs` and commit it",
            path.display()
        );
    }

    #[test]
    fn every_flag_is_in_the_reference_with_its_variable() {
        let rendered = super::render();
        for flag in [
            "--redis-url",
            "--degraded-max",
            "--rate-limit",
            "--access-ttl",
        ] {
            assert!(rendered.contains(&format!("| `{flag}` |")), "{flag}");
        }
        assert!(rendered.contains("`GATEHOUSE_REDIS_URL`"));
        assert!(rendered.contains("| `--access-ttl` | `GATEHOUSE_ACCESS_TTL` | `15m` |"));
    }
}

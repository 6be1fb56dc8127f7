//! `--config FILE`: the configuration table's options in a TOML file.
//!
//! Precedence is flag > environment > file > default. The file is applied
//! by turning each of its entries into the command-line flag it stands for,
//! added only when neither that flag nor its environment variable is
//! given; clap then parses as usual. So a value is checked by the same
//! parser however it came, and there is one list of options (`Config`),
//! not two. Keys are the flags' names with `_` for `-` (`redis_url`,
//! `access_ttl`); rate-limit policies are an array of tables
//! (`[[rate_limit]]`, where `enabled = false` removes a default policy).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::CommandFactory;

use crate::config::Config;

/// The flag naming the file, and its environment variable.
const FLAG: &str = "--config";
const ENV: &str = "GATEHOUSE_CONFIG";

/// Where a setting came from (for `check-config`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Flag,
    Environment,
    File,
}

/// One setting given explicitly, with its origin.
#[derive(Clone, Debug)]
pub struct Setting {
    /// The flag's long name (`redis-url`).
    pub name: String,
    pub value: String,
    pub source: Source,
}

/// The configuration file named by `args` or the environment, if any.
pub fn file_of(args: &[OsString]) -> Option<PathBuf> {
    let mut iter = args.iter().map(|arg| arg.to_string_lossy());
    while let Some(arg) = iter.next() {
        if arg == FLAG {
            return iter.next().map(|path| PathBuf::from(path.as_ref()));
        }
        if let Some(path) = arg.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    std::env::var_os(ENV).map(PathBuf::from)
}

/// What [`apply`] made of the command line, environment and file.
#[derive(Debug)]
pub struct Applied {
    /// The command line with the file's settings added.
    pub args: Vec<OsString>,
    /// Every explicit setting, with its origin.
    pub settings: Vec<Setting>,
    /// What was wrong in the file (unknown keys, values of the wrong
    /// kind), each naming the file and the key; the rest still applies.
    pub errors: Vec<String>,
}

/// `args` with the settings of the configuration file (if any) added
/// where neither a flag nor an environment variable gives them.
pub fn apply(args: Vec<OsString>) -> Applied {
    let command = Config::command();
    let mut settings = Vec::new();
    for arg in command.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if given_as_flag(&args, long) {
            settings.push(Setting {
                name: long.to_owned(),
                value: flag_value(&args, long).unwrap_or_default(),
                source: Source::Flag,
            });
        } else if let Some(value) = arg.get_env().and_then(|env| std::env::var(env).ok()) {
            settings.push(Setting {
                name: long.to_owned(),
                value,
                source: Source::Environment,
            });
        }
    }
    let Some(path) = file_of(&args) else {
        return Applied {
            args,
            settings,
            errors: Vec::new(),
        };
    };
    let entries = match read(&path) {
        Ok(entries) => entries,
        Err(error) => {
            return Applied {
                args,
                settings,
                errors: vec![error],
            };
        }
    };
    let mut args = args;
    let mut errors = Vec::new();
    // Right after the program name: before a subcommand (`check-config`),
    // where the options belong.
    let mut at = 1.min(args.len());
    for (key, value) in entries {
        let long = if key == "rate_limit" {
            "rate-limit".to_owned()
        } else {
            key.replace('_', "-")
        };
        let Some(arg) = command
            .get_arguments()
            .find(|arg| arg.get_long() == Some(long.as_str()) && long != "config")
        else {
            errors.push(format!("{}: unknown key `{key}`", path.display()));
            continue;
        };
        let value = match flag_text(&key, value) {
            Ok(value) => value,
            Err(reason) => {
                errors.push(format!("{}: `{key}`: {reason}", path.display()));
                continue;
            }
        };
        let from_env = arg
            .get_env()
            .is_some_and(|env| std::env::var_os(env).is_some());
        if given_as_flag(&args, &long) || from_env {
            continue;
        }
        args.insert(at, OsString::from(format!("--{long}")));
        args.insert(at + 1, OsString::from(&value));
        at += 2;
        settings.push(Setting {
            name: long,
            value,
            source: Source::File,
        });
    }
    Applied {
        args,
        settings,
        errors,
    }
}

/// Whether `--long` (or `--long=…`) is among `args`.
fn given_as_flag(args: &[OsString], long: &str) -> bool {
    args.iter().any(|arg| {
        let arg = arg.to_string_lossy();
        arg == format!("--{long}") || arg.starts_with(&format!("--{long}="))
    })
}

fn read(path: &Path) -> Result<toml::Table, String> {
    let text = std::fs::read_to_string(path).map_err(|err| {
        format!(
            "cannot read the configuration file {}: {err}",
            path.display()
        )
    })?;
    text.parse::<toml::Table>()
        .map_err(|err| format!("{} is not valid TOML: {err}", path.display()))
}

/// The value after `--long` (or in `--long=value`) in `args`.
fn flag_value(args: &[OsString], long: &str) -> Option<String> {
    let mut iter = args.iter().map(|arg| arg.to_string_lossy().into_owned());
    while let Some(arg) = iter.next() {
        if arg == format!("--{long}") {
            return iter.next();
        }
        if let Some(value) = arg.strip_prefix(&format!("--{long}=")) {
            return Some(value.to_owned());
        }
    }
    None
}

/// A TOML value as the flag's text.
fn flag_text(key: &str, value: toml::Value) -> Result<String, String> {
    use toml::Value;
    match value {
        Value::String(text) => Ok(text),
        Value::Integer(n) => Ok(n.to_string()),
        Value::Float(x) => Ok(x.to_string()),
        Value::Boolean(b) => Ok(b.to_string()),
        Value::Array(items) if key == "rate_limit" => items
            .into_iter()
            .map(policy_spec)
            .collect::<Result<Vec<_>, _>>()
            .map(|specs| specs.join(";")),
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::Table(_) | Value::Array(_) => Err("a list of plain values".to_owned()),
                scalar => flag_text(key, scalar),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|items| items.join(",")),
        Value::Table(_) => {
            Err("a table here is not an option (see gatehouse.example.toml)".to_owned())
        }
        Value::Datetime(_) => {
            Err("dates are not options; durations are strings like \"15m\"".to_owned())
        }
    }
}

/// One `[[rate_limit]]` table as a `--rate-limit` specification.
fn policy_spec(value: toml::Value) -> Result<String, String> {
    let toml::Value::Table(table) = value else {
        return Err("each rate_limit is a table: [[rate_limit]] name = \"…\" …".to_owned());
    };
    let mut parts = Vec::new();
    let mut enabled = true;
    for (field, value) in table {
        match (field.as_str(), value) {
            ("enabled", toml::Value::Boolean(on)) => enabled = on,
            ("routes", toml::Value::Array(routes)) => {
                let routes: Vec<String> = routes
                    .into_iter()
                    .map(|route| match route {
                        toml::Value::String(route) => Ok(route),
                        _ => Err("routes are strings".to_owned()),
                    })
                    .collect::<Result<_, _>>()?;
                parts.push(format!("routes={}", routes.join("|")));
            }
            (field, value) => parts.push(format!("{field}={}", flag_text(field, value)?)),
        }
    }
    if !enabled {
        parts.retain(|part| !part.starts_with("limit="));
        parts.push("limit=0".to_owned());
    }
    Ok(parts.join(","))
}

#[cfg(test)]
mod tests;

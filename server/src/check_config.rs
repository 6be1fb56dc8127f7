//! `gatehouse check-config`: every error of the configuration at once,
//! with where each came from, or the effective settings.
//!
//! Clap stops at the first bad value; an operator fixing a file wants all
//! of them. So each explicit setting (flag, environment, file) is run
//! through its option's own value parser here, then the whole is parsed
//! as `main` would, and the key files are opened.

use std::ffi::{OsStr, OsString};

use clap::{CommandFactory, Parser};

use crate::config::Config;
use crate::config_file::{self, Setting, Source};

/// Validates the configuration `args` describe; prints the effective
/// settings (exit 0) or every error (exit 2).
pub fn run(args: Vec<OsString>) -> std::process::ExitCode {
    match check(args) {
        Ok(report) => {
            println!("{report}");
            std::process::ExitCode::SUCCESS
        }
        Err(errors) => {
            for error in &errors {
                eprintln!("error: {error}");
            }
            eprintln!("{} error(s) in the configuration", errors.len());
            std::process::ExitCode::from(2)
        }
    }
}

/// The effective settings as text, or every error found.
pub fn check(args: Vec<OsString>) -> Result<String, Vec<String>> {
    let config_file::Applied {
        args,
        settings,
        mut errors,
    } = config_file::apply(args);
    let command = Config::command();
    for setting in &settings {
        let Some(arg) = command
            .get_arguments()
            .find(|arg| arg.get_long() == Some(setting.name.as_str()))
        else {
            continue;
        };
        let values: Vec<&str> = match arg.get_value_delimiter() {
            Some(delimiter) => setting.value.split(delimiter).collect(),
            None => vec![setting.value.as_str()],
        };
        for value in values {
            // The option's own parser, alone (no environment, no other
            // options), so that every bad value is reported.
            let flag = format!("--{}", setting.name);
            let probe = clap::Command::new("check").arg(
                clap::Arg::new("value")
                    .long("value")
                    .value_parser(arg.get_value_parser().clone()),
            );
            if let Err(err) = probe.try_get_matches_from([
                OsStr::new("check"),
                OsStr::new("--value"),
                OsStr::new(value),
            ]) {
                let message = first_line(&err.to_string()).replace("'--value <value>'", &flag);
                errors.push(format!(
                    "{flag} ({}): {message}",
                    source_name(setting.source)
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let config = Config::try_parse_from(&args).map_err(|err| vec![first_line(&err.to_string())])?;
    if !config.jwt_key_files.is_empty()
        && let Err(err) = gatehouse::token::Keyring::from_files(&config.jwt_key_files)
    {
        return Err(vec![format!("--jwt-key-files: {err}")]);
    }
    if let Some(file) = &config.admin_password_file
        && let Err(err) = std::fs::metadata(file)
        && err.kind() != std::io::ErrorKind::NotFound
    {
        return Err(vec![format!(
            "--admin-password-file {}: {err}",
            file.display()
        )]);
    }
    Ok(report(&settings))
}

/// Every option with its effective value and origin.
fn report(settings: &[Setting]) -> String {
    let command = Config::command();
    let mut lines = vec!["# effective configuration (value, then where it came from)".to_owned()];
    for arg in command.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if matches!(long, "help" | "version" | "config") {
            continue;
        }
        let key = long.replace('-', "_");
        let (value, origin) = match settings.iter().find(|s| s.name == long) {
            Some(setting) => (setting.value.clone(), source_name(setting.source)),
            None => match arg.get_default_values().first() {
                Some(default) => (default.to_string_lossy().into_owned(), "default"),
                None => ("(unset)".to_owned(), "default"),
            },
        };
        lines.push(format!("{key} = {:?}  # {origin}", redact(&key, &value)));
    }
    lines.join("\n")
}

/// Passwords in Redis URLs are not printed.
fn redact(key: &str, value: &str) -> String {
    if key.starts_with("redis_") && key != "redis_timeout" && key != "redis_server_bin" {
        value
            .split(',')
            .map(gatehouse::store::redact_url)
            .collect::<Vec<_>>()
            .join(",")
    } else {
        value.to_owned()
    }
}

/// Clap's message without its `error: ` prefix and usage hints.
fn first_line(message: &str) -> String {
    message
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .to_owned()
}

fn source_name(source: Source) -> &'static str {
    match source {
        Source::Flag => "flag",
        Source::Environment => "environment",
        Source::File => "file",
    }
}

//! The documentation's links cannot rot: every relative link in the book
//! (`docs/src`), the README and the changelog names a file that exists,
//! and every `#anchor` a heading of that file (as mdBook and GitHub spell
//! them). `make test` also builds the book.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

use std::collections::HashSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn markdown_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            markdown_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "md") {
            found.push(path);
        }
    }
}

/// A heading's anchor: lower case, spaces to `-`, other punctuation gone.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The text outside code fences and inline code.
fn prose(text: &str) -> Vec<String> {
    let mut fenced = false;
    let mut lines = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            let unquoted: String = line.split('`').step_by(2).collect::<Vec<_>>().join("");
            lines.push(unquoted);
        }
    }
    lines
}

fn anchors(file: &Path) -> HashSet<String> {
    let text = std::fs::read_to_string(file).unwrap();
    prose(&text)
        .iter()
        .filter_map(|line| line.strip_prefix('#'))
        .map(|heading| slug(heading.trim_start_matches('#')))
        .collect()
}

/// `(target, anchor)` of every `](…)` link that is not to another site.
fn links(text: &str) -> Vec<(String, Option<String>)> {
    let mut found = Vec::new();
    for line in prose(text) {
        let mut rest = line.as_str();
        while let Some(start) = rest.find("](") {
            rest = &rest[start + 2..];
            let Some(end) = rest.find(')') else { break };
            let target = &rest[..end];
            rest = &rest[end..];
            if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = match target.split_once('#') {
                Some((path, anchor)) => (path.to_owned(), Some(anchor.to_owned())),
                None => (target.to_owned(), None),
            };
            found.push((path, anchor));
        }
    }
    found
}

#[test]
fn every_link_of_the_docs_leads_somewhere() {
    let root = root();
    let mut files = vec![root.join("README.md"), root.join("CHANGELOG.md")];
    markdown_files(&root.join("docs/src"), &mut files);
    assert!(files.len() > 10, "the book is there: {files:?}");
    let mut broken = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (path, anchor) in links(&text) {
            let target = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap().join(&path)
            };
            if !target.exists() {
                broken.push(format!("{}: {path} does not exist", file.display()));
                continue;
            }
            if let Some(anchor) = anchor
                && target.extension().is_some_and(|e| e == "md")
                && !anchors(&target).contains(&anchor)
            {
                broken.push(format!(
                    "{}: no heading #{anchor} in {path}",
                    file.display()
                ));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn every_chapter_is_in_the_summary() {
    let root = root();
    let summary = std::fs::read_to_string(root.join("docs/src/SUMMARY.md")).unwrap();
    let mut chapters = Vec::new();
    markdown_files(&root.join("docs/src"), &mut chapters);
    for chapter in chapters {
        let relative = chapter.strip_prefix(root.join("docs/src")).unwrap();
        let name = relative.to_string_lossy();
        if name != "SUMMARY.md" {
            assert!(
                summary.contains(&format!("]({name})")),
                "{name} is not in SUMMARY.md"
            );
        }
    }
}

#[test]
fn the_readme_stays_short() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(
        lines <= 300,
        "README.md has {lines} lines; move detail to the book"
    );
}

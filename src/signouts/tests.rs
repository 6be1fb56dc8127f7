use std::os::unix::fs::PermissionsExt;

use super::*;

fn sign_out(n: u32) -> SignOut {
    SignOut {
        user_id: format!("u{n}"),
        session_id: format!("s{n}"),
        at_ms: 1_700_000_000_000 + u64::from(n),
    }
}

fn journal_in(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join(FILE)
}

#[test]
fn a_sign_out_is_on_disk_owner_only_and_read_back_by_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_in(&dir);
    let journal = Journal::open(&path).unwrap();
    assert!(!journal.is_signed_out("s1"));
    journal.record(sign_out(1)).unwrap();
    journal.record(sign_out(2)).unwrap();
    // Retried: written once.
    journal
        .record(SignOut {
            at_ms: 5,
            ..sign_out(1)
        })
        .unwrap();
    assert_eq!(
        fs::read_to_string(&path)
            .unwrap()
            .lines()
            .filter(|l| !l.is_empty())
            .count(),
        2
    );
    assert!(journal.is_signed_out("s1") && journal.is_signed_out("s2"));
    assert!(!journal.is_signed_out("s3"));
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the journal names sessions: owner only");
    // What a crash leaves is what the next start replays.
    drop(journal);
    let reopened = Journal::open(&path).unwrap();
    assert_eq!(reopened.pending(), [sign_out(1), sign_out(2)]);
    assert!(reopened.is_signed_out("s2"));
}

#[test]
fn a_line_cut_short_by_a_crash_is_skipped_and_the_next_ones_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_in(&dir);
    Journal::open(&path).unwrap().record(sign_out(1)).unwrap();
    // A crash in the middle of the second write.
    let mut file = OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(b"\n{\"user_id\":\"u2\",\"sess").unwrap();
    drop(file);
    let journal = Journal::open(&path).unwrap();
    assert_eq!(journal.pending(), [sign_out(1)]);
    journal.record(sign_out(3)).unwrap();
    let reopened = Journal::open(&path).unwrap();
    assert_eq!(reopened.pending(), [sign_out(1), sign_out(3)]);
}

#[test]
fn replayed_sign_outs_are_forgotten_and_the_rest_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_in(&dir);
    let journal = Journal::open(&path).unwrap();
    for n in 1..=3 {
        journal.record(sign_out(n)).unwrap();
    }
    journal.replayed(&[sign_out(1), sign_out(3)]).unwrap();
    assert_eq!(journal.pending(), [sign_out(2)]);
    assert!(!journal.is_signed_out("s1"));
    assert_eq!(Journal::open(&path).unwrap().pending(), [sign_out(2)]);
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    journal.replayed(&[sign_out(2)]).unwrap();
    assert!(journal.pending().is_empty());
    assert!(!path.exists(), "an empty journal is removed");
}

#[test]
fn two_instances_sharing_a_journal_lose_none_of_each_others_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_in(&dir);
    let a = Journal::open(&path).unwrap();
    let b = Journal::open(&path).unwrap();
    a.record(sign_out(1)).unwrap();
    b.record(sign_out(2)).unwrap();
    // a replays its own: b's line stays on disk and in b.
    a.replayed(&[sign_out(1)]).unwrap();
    assert!(a.pending().is_empty());
    assert_eq!(b.pending(), [sign_out(2)]);
    assert_eq!(Journal::open(&path).unwrap().pending(), [sign_out(2)]);
}

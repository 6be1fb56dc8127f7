//! Sign-outs that Redis could not take: kept on disk until it can.
//!
//! While Redis does not answer, a sign-out cannot end its session there.
//! Answering "try again later" would leave someone who walks away from a
//! shared computer signed in once Redis is back, so instead the sign-out
//! is written to this journal: one JSON line per sign-out, on disk
//! (`fsync`ed before the sign-out is answered, the file readable by its
//! owner only, since it names sessions) and in memory, where admission
//! refuses the session at once on this instance. When Redis answers again
//! the journal is replayed (each line ends its session as a sign-out
//! always does, which is idempotent), and a journal left by a crash is
//! replayed by the next start. A line is only dropped once Redis confirmed
//! its session ended.
//!
//! Instances on one machine may share a data directory (and so the
//! journal): every change holds an exclusive lock on `<journal>.lock`, and
//! the file is rewritten beside itself and renamed over, so a crash leaves
//! the old file or the new one and a line another instance appended is
//! never lost. A line replayed by two instances is harmless.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

/// The journal file's name in the data directory.
pub const FILE: &str = "signouts.journal";

/// One sign-out waiting for Redis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignOut {
    pub user_id: String,
    pub session_id: String,
    /// When it was asked for (ms since the epoch).
    pub at_ms: u64,
}

/// Why the journal could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("sign-out journal {path}: {source}")]
pub struct JournalError {
    path: PathBuf,
    #[source]
    source: io::Error,
}

impl JournalError {
    pub(crate) fn new(path: PathBuf, source: io::Error) -> Self {
        Self { path, source }
    }
}

/// The journal of one instance. Changes to the file hold the file lock
/// (so lines never interleave and a replay never drops a line written
/// meanwhile); the list in memory, which admission reads, is locked only
/// around memory, never across disk I/O.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    pending: Mutex<Vec<SignOut>>,
    /// Whether any sign-out is pending: what admission reads on every
    /// request, without taking the lock.
    any: AtomicBool,
}

impl Journal {
    /// Opens the journal at `path`, with what a previous run left in it.
    /// Nothing is created until a sign-out is written.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, JournalError> {
        let path = path.into();
        let pending = match File::open(&path) {
            Ok(file) => read(&path, file)?,
            Err(err) if err.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(source) => return Err(JournalError { path, source }),
        };
        Ok(Self {
            any: AtomicBool::new(!pending.is_empty()),
            pending: Mutex::new(pending),
            path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `sign_out` to disk (synced before this returns; the
    /// directory is created, owner only, if need be) and refuses its
    /// session from now on. Blocking: call it off the runtime.
    /// A session signed out again (a client retrying) is written once, so
    /// the file grows with sessions, not with requests.
    pub fn record(&self, sign_out: SignOut) -> Result<(), JournalError> {
        if self.is_signed_out(&sign_out.session_id) {
            return Ok(());
        }
        if let Some(dir) = self.path.parent() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|source| self.io(source))?;
        }
        let _held = self.hold().map_err(|source| self.io(source))?;
        append(&self.path, &sign_out).map_err(|source| self.io(source))?;
        self.lock().push(sign_out);
        self.any.store(true, Ordering::Release);
        Ok(())
    }

    /// Whether a sign-out of `session_id` waits for Redis.
    pub fn is_signed_out(&self, session_id: &str) -> bool {
        self.any.load(Ordering::Acquire)
            && self
                .lock()
                .iter()
                .any(|sign_out| sign_out.session_id == session_id)
    }

    /// The sign-outs waiting for Redis, oldest first.
    pub fn pending(&self) -> Vec<SignOut> {
        if !self.any.load(Ordering::Acquire) {
            return Vec::new();
        }
        self.lock().clone()
    }

    /// Forgets sign-outs Redis has taken, in memory and on disk (the file
    /// is read again and rewritten with every other line, or removed when
    /// none is left). Blocking.
    pub fn replayed(&self, done: &[SignOut]) -> Result<(), JournalError> {
        let _held = self.hold().map_err(|source| self.io(source))?;
        let on_disk = match File::open(&self.path) {
            Ok(file) => read(&self.path, file)?,
            Err(err) if err.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(source) => return Err(self.io(source)),
        };
        let rest: Vec<SignOut> = on_disk
            .into_iter()
            .filter(|sign_out| !done.contains(sign_out))
            .collect();
        rewrite(&self.path, &rest).map_err(|source| self.io(source))?;
        let mut pending = self.lock();
        pending.retain(|sign_out| !done.contains(sign_out));
        self.any.store(!pending.is_empty(), Ordering::Release);
        Ok(())
    }

    /// The lock on the journal that every change holds (across processes;
    /// released when dropped).
    fn hold(&self) -> io::Result<File> {
        let mut name = self.path.clone().into_os_string();
        name.push(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(name)?;
        lock_exclusive(&file)?;
        Ok(file)
    }

    fn io(&self, source: io::Error) -> JournalError {
        JournalError {
            path: self.path.clone(),
            source,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<SignOut>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The sign-outs of a journal file. A line that does not read (cut short
/// by a crash while it was written, so never answered) is skipped.
fn read(path: &Path, file: File) -> Result<Vec<SignOut>, JournalError> {
    let mut pending = Vec::new();
    for (index, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|source| JournalError {
            path: path.to_owned(),
            source,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(&line) {
            Ok(sign_out) => pending.push(sign_out),
            Err(err) => tracing::warn!(
                journal = %path.display(), line = index + 1, error = %err,
                "a line of the sign-out journal does not read and is skipped"
            ),
        }
    }
    Ok(pending)
}

/// One sign-out as a line of the file. It starts with a line break too,
/// so a line a crash cut short never runs into the next one.
fn line(sign_out: &SignOut) -> io::Result<Vec<u8>> {
    let mut line = vec![b'\n'];
    serde_json::to_writer(&mut line, sign_out)?;
    line.push(b'\n');
    Ok(line)
}

/// Waits for an exclusive lock on `file` (`flock`: between processes as
/// well), released when it is closed. (`File::lock` needs Rust 1.89; the
/// crate supports 1.88.)
#[allow(unsafe_code)]
fn lock_exclusive(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    loop {
        // SAFETY: `file` is open, and so its descriptor, for the call.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Appends `sign_out` to the file at `path` (created readable by its
/// owner only), synced.
fn append(path: &Path, sign_out: &SignOut) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(&line(sign_out)?)?;
    file.sync_data()
}

/// Replaces the file at `path` with `sign_outs` (removes it when there are
/// none): written beside it, synced, then renamed over it, so a crash
/// leaves the old file or the new one.
fn rewrite(path: &Path, sign_outs: &[SignOut]) -> io::Result<()> {
    if sign_outs.is_empty() {
        return match fs::remove_file(path) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
            _ => Ok(()),
        };
    }
    let fresh = path.with_extension("new");
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&fresh)?;
    for sign_out in sign_outs {
        file.write_all(&line(sign_out)?)?;
    }
    file.sync_data()?;
    fs::rename(&fresh, path)
}

#[cfg(test)]
mod tests;

//! Files only their owner may read: backups, a student's data export, the
//! load test's session tokens. Created with the mode already set (not
//! chmod-ed afterwards), so no other local user can open one while it fills.

use std::fs::{DirBuilder, File, OpenOptions};
use std::path::Path;

use anyhow::Context;

/// Creates a file that must not exist yet, readable by its owner only.
pub fn create_new(path: &Path) -> anyhow::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!(
                "{} already exists; choose a new file (nothing was written)",
                path.display()
            )
        } else {
            anyhow::Error::new(e).context(format!("cannot create {}", path.display()))
        }
    })
}

/// A file where a folder should be: said as such (the system's words, "File
/// exists" or "Not a directory", read as though the folder were the problem).
pub fn refuse_a_file(path: &Path) -> anyhow::Result<()> {
    if path.exists() && !path.is_dir() {
        anyhow::bail!(
            "{} is a file, not a folder: name a folder (--dir), or move the file",
            path.display()
        );
    }
    Ok(())
}

/// Creates a folder (and its parents) that its owner alone may enter, when
/// it does not exist; one that does keeps the mode its operator gave it.
pub fn create_dir(path: &Path) -> anyhow::Result<()> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    refuse_a_file(path)?;
    builder
        .create(path)
        .with_context(|| format!("cannot create the folder {}", path.display()))
}

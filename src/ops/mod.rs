//! Operations: scheduled cleanup of expired data. Backups and data export build here.

pub mod cleanup;

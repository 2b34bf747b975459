//! Operations: scheduled cleanup, backups with a tested restore, and a student's data (export, erasure).

pub mod backup;
pub mod cleanup;
pub mod private;
pub mod student_data;

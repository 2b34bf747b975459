//! Notices about a student's account: a suspension, and its end (written with the
//! suspension, to show from the moment it ends; a lift or a change replaces it).

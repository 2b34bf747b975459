//! The inbox: reading, marking read, the nav's count, and keeping it small (90-day cleanup, export, erasure).

//! Every integration test of the service in one binary (one link, not one per
//! file): each module is an area of the service, and `common` is the harness
//! they share (a fresh database per test on each backend, the real app on
//! port 0, loopback SMTP and SIS servers, test data). The browser story lives
//! apart in `tests/e2e_story.rs`, so it never competes with these for the CPU.

// First, so `backend_test!` is in scope in every module below.
#[macro_use]
mod common;

mod admin;
mod admin_pages;
mod admin_people;
mod browser;
mod calendar_feed;
mod campus_time;
mod chat;
mod chat_pseudonyms;
mod chat_search;
mod chat_threads;
mod chat_votes;
mod class_search;
mod classes;
mod cleanup;
mod cli;
mod demo;
mod friends_free;
mod friends_week;
mod hardening_classes;
mod hardening_flags;
mod hardening_net;
mod hardening_signin;
mod hardening_sweep;
mod hardening_text;
mod health;
mod live_scale;
mod live_stream;
mod logs;
mod metrics;
mod moderation_held;
mod moderation_queue;
mod moderation_reveal;
mod notifications_chat;
mod notifications_email;
mod notifications_events;
mod notifications_inbox;
mod notifications_live;
mod ops;
mod outage;
mod schema;
mod signin;
mod sis;
mod statement_budget;
mod student_data;
mod web_kit;
mod week_browser;
mod week_clashes;
mod week_leave_requests;

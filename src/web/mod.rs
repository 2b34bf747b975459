//! The HTTP face of the service (actix only): wiring, guards, errors and one file
//! per area of pages. Handlers parse requests into domain types, call the domain
//! inside `web::block`, and render Askama templates. No SQL here.

pub mod account;
pub mod admin;
pub mod assets;
pub mod auth;
pub mod calendar;
pub mod chat;
pub mod class_search;
pub mod classes;
pub mod client_addr;
pub mod dev;
pub mod error;
pub mod friends;
pub mod guard;
pub mod health;
pub mod home;
pub mod layout;
pub mod metrics;
pub mod notifications;
pub mod schedule;
pub mod server;
pub mod state;
pub mod views;

pub use error::AppError;
pub use server::Application;
pub use state::AppState;

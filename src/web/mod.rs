//! The HTTP face of the service (actix only): wiring, guards, errors and one file
//! per area of pages. Handlers parse requests into domain types, call the domain
//! inside `web::block`, and render Askama templates. No SQL here.

pub mod account;
pub mod assets;
pub mod auth;
pub mod chat;
pub mod dev;
pub mod error;
pub mod guard;
pub mod health;
pub mod home;
pub mod layout;
pub mod server;

pub use error::AppError;
pub use server::{AppState, Application};

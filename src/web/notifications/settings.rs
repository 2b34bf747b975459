//! `/account/notifications`: a student's email choices per topic (no email,
//! right away, or the daily digest) and the hour their digest goes out. A plain
//! form: it works without JavaScript.

use std::collections::HashMap;

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;

use crate::classes::ClassId;
use crate::clock;
use crate::notifications::settings::{self, DigestHour, EmailChoices};
use crate::notifications::{Delivery, Topic};
use crate::web::error::{with_conn, AppError};
use crate::web::guard::{SessionForm, SignedInForm, Visitor};
use crate::web::layout::Layout;
use crate::web::state::AppState;
use crate::web::views::{self, FlashRedirect};

const PATH: &str = "/account/notifications";

/// One radio button of a topic's fieldset.
struct Choice {
    value: &'static str,
    label: &'static str,
    checked: bool,
}

/// One topic's fieldset.
struct TopicRow {
    name: &'static str,
    label: &'static str,
    choices: Vec<Choice>,
}

/// One option of the digest hour's select.
struct HourOption {
    value: u32,
    label: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "notifications/settings.html")]
struct SettingsPage {
    layout: Layout,
    topics: Vec<TopicRow>,
    hours: Vec<HourOption>,
    zone: &'static str,
    /// Classes the student muted ("CS 2100"), each with its unmute form.
    muted: Vec<(ClassId, String)>,
}

#[get("/account/notifications")]
pub async fn show_settings(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
) -> Result<HttpResponse, AppError> {
    let (current, (choices, muted)) = visitor
        .signed_in(move |conn, current| {
            let user_id = &current.user.id;
            Ok((
                settings::load(conn, user_id)?,
                crate::notifications::chat::muted_classes(conn, user_id)?,
            ))
        })
        .await?;
    let topics = choices
        .deliveries
        .iter()
        .map(|(topic, chosen)| TopicRow {
            name: topic.as_str(),
            label: topic.label(),
            choices: Delivery::ALL
                .iter()
                .map(|d| Choice {
                    value: d.as_str(),
                    label: d.label(),
                    checked: d == chosen,
                })
                .collect(),
        })
        .collect();
    let hours = DigestHour::all()
        .map(|h| HourOption {
            value: h.get(),
            label: h.label(),
            selected: h == choices.digest_hour,
        })
        .collect();
    let body = SettingsPage {
        layout: Layout::new(&req, Some(&current)).at("account"),
        topics,
        hours,
        zone: state.config.campus_time.zone_name(),
        muted,
    }
    .render()?;
    Ok(views::page(body))
}

/// The form: a `csrf_token`, one field per topic (named by `Topic::as_str`,
/// valued by `Delivery::as_str`) and `digest_hour` (0-23).
#[derive(serde::Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(flatten)]
    fields: HashMap<String, String>,
}

impl SessionForm for SettingsForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }

    fn when_signed_out(_req: &HttpRequest) -> AppError {
        AppError::SignInRequired { next: PATH.into() }
    }
}

impl SettingsForm {
    /// Every topic and the hour, or a 400 that says which one is wrong.
    fn choices(&self) -> Result<EmailChoices, AppError> {
        let mut deliveries = Vec::with_capacity(Topic::ALL.len());
        for topic in Topic::ALL {
            let raw = self.fields.get(topic.as_str()).ok_or_else(|| {
                AppError::BadRequest(format!(
                    "Choose how to hear about “{}”: no email, right away, or in the daily digest.",
                    topic.label()
                ))
            })?;
            let delivery: Delivery = raw.trim().parse().map_err(|_| {
                AppError::BadRequest(format!(
                    "“{}” is not a choice for “{}”. Pick no email, right away, or the daily digest.",
                    raw.chars().take(40).collect::<String>(),
                    topic.label()
                ))
            })?;
            deliveries.push((*topic, delivery));
        }
        let hour = self
            .fields
            .get("digest_hour")
            .and_then(|raw| DigestHour::parse(raw))
            .ok_or_else(|| {
                AppError::BadRequest(
                    "Pick the hour your daily digest is sent, from 12 AM to 11 PM.".into(),
                )
            })?;
        Ok(EmailChoices {
            deliveries,
            digest_hour: hour,
        })
    }
}

#[post("/account/notifications")]
pub async fn save_settings(
    state: web::Data<AppState>,
    SignedInForm(current, form): SignedInForm<SettingsForm>,
) -> Result<FlashRedirect, AppError> {
    let choices = form.choices()?;
    let user_id = current.user.id.clone();
    with_conn(&state.pool, move |conn| {
        Ok(settings::save(conn, &user_id, &choices, clock::now())?)
    })
    .await?;
    Ok(FlashRedirect::done(PATH, "Saved"))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(show_settings).service(save_settings);
}

//! The one progress bar every command draws: on stderr, only when stderr is a
//! terminal (cron mail and logs get the command's plain lines instead), and
//! hidden until its length is known.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A hidden bar drawn from `template` (indicatif's syntax), or None when
/// stderr is not a terminal. Show it with `set_draw_target(stderr())` once its
/// length is known.
pub(super) fn terminal_bar(template: &str, length: Option<u64>) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let style = ProgressStyle::with_template(template)
        // The templates are constants of ours; a bad one still gets a bar.
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    let bar = ProgressBar::with_draw_target(length, ProgressDrawTarget::hidden());
    bar.set_style(style);
    Some(bar)
}

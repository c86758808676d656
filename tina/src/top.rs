//! A live `top` for a running system in the terminal (feature `top`).
//!
//! [`run`] redraws [`tina_runtime::stats::top::render`]'s screen in place once per refresh
//! — shards, isolate types, the top types by handler time and by queued messages — using
//! `crossterm` for the terminal (alternate screen, cursor, key presses), until `q`, Esc or
//! Ctrl-C is pressed or `stop` says so. Peaks (deepest mailbox, longest tick) are reset
//! after each refresh, so they read "since the last refresh". When standard output is not a
//! terminal, each refresh is printed below the last instead, as plain text for a log.
//!
//! ```no_run
//! # use tina::prelude::*;
//! # fn demo(system: &System) -> std::io::Result<()> {
//! let reader = system.stats_reader();
//! tina::top::run(&reader, Duration::from_secs(1), || false)?;
//! # Ok(())
//! # }
//! ```

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyModifiers};
use crossterm::{cursor, execute, queue, terminal};
use tina_runtime::StatsReader;
use tina_runtime::stats::top::{TopOptions, render};

/// Puts the terminal back however `run` ends (error, panic or key press).
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = terminal::disable_raw_mode();
        let _ = execute!(
            std::io::stdout(),
            cursor::Show,
            terminal::LeaveAlternateScreen
        );
    }
}

/// Shows the live `top` of the system `reader` reads, refreshed every `every`, until a
/// quit key (`q`, Esc, Ctrl-C) or until `stop()` returns true (checked at least every
/// 50 ms). Without a terminal on standard output, prints each refresh as plain text.
///
/// # Errors
///
/// The first I/O error of the terminal: switching it to raw mode or the alternate screen,
/// polling or reading a key press, or writing a refresh to standard output. The terminal
/// is put back before the error is returned.
///
/// # Panics
///
/// When `every` is too long for the OS clock (now plus `every` overflows
/// [`std::time::Instant`]).
pub fn run(
    reader: &StatsReader,
    every: Duration,
    mut stop: impl FnMut() -> bool,
) -> std::io::Result<()> {
    let options = TopOptions::default();
    let mut previous = reader.read();
    let mut stats = previous.clone();
    let interactive = std::io::stdout().is_terminal();
    let _restore = if interactive {
        terminal::enable_raw_mode()?;
        execute!(
            std::io::stdout(),
            terminal::EnterAlternateScreen,
            cursor::Hide
        )?;
        Some(Restore)
    } else {
        None
    };
    loop {
        let deadline = Instant::now() + every;
        while Instant::now() < deadline {
            if stop() {
                return Ok(());
            }
            let wait = deadline
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(50));
            if interactive && event::poll(wait)? {
                if let Event::Key(key) = event::read()?
                    && quits(key)
                {
                    return Ok(());
                }
            } else if !interactive {
                std::thread::sleep(wait);
            }
        }
        reader.read_into(&mut stats);
        reader.reset_peaks();
        let screen = render(&stats, Some(&previous), &options);
        let mut out = std::io::stdout().lock();
        if interactive {
            queue!(
                out,
                cursor::MoveTo(0, 0),
                terminal::Clear(terminal::ClearType::All)
            )?;
            for line in screen.lines() {
                // Raw mode: a line feed does not return the carriage.
                write!(out, "{line}\r\n")?;
            }
            write!(out, "\r\n(q to quit)")?;
        } else {
            writeln!(out, "{screen}")?;
        }
        out.flush()?;
        core::mem::swap(&mut previous, &mut stats);
    }
}

fn quits(key: KeyEvent) -> bool {
    matches!(key.code, KeyCode::Char('q') | KeyCode::Esc)
        || (key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL))
}

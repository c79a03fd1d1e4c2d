//! ScheduleInfo — how much of the processor each task gets.
//!
//! `ScheduleInfo(ELEMENT PARAM, ...)`
//!
//! No ports. Gives the task of each named ELEMENT PARAM times the default share of
//! the processor: tasks are stride-scheduled, so `ScheduleInfo(from .1, to 1)`
//! runs `to` ten times as often as `from` when both have work. Names are relative
//! to the compound element the ScheduleInfo is in. PARAM is a positive real.

use alloc::format;
use alloc::vec::Vec;

use oxclick_lang::args::split_args;
use oxclick_runtime::{ConfigCtx, ConfigErrors, Element};

pub struct ScheduleInfo;

impl Element for ScheduleInfo {
    fn class_name(&self) -> &'static str {
        "ScheduleInfo"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn configure(&mut self, config: &str, _cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut errors = Vec::new();
        for (i, arg) in split_args(config).iter().enumerate() {
            let words: Vec<&str> = arg.split_whitespace().collect();
            let ok = matches!(words.as_slice(), [_, f] if f.parse::<f64>().is_ok_and(|x| x > 0.0 && x.is_finite()));
            if !ok {
                errors.push(format!("argument {}: expected 'ELEMENT PARAM' with PARAM a positive number", i + 1));
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

//! Counter — counts packets and bytes.
//!
//! `Counter([KEYWORDS])`
//!
//! One agnostic input and output. Keyword `COUNT_CALL N HANDLER [VALUE]`: when the
//! count reaches N, call write handler HANDLER (`ELEM.NAME`) with VALUE, before the
//! packet goes on. Handlers: `count`, `byte_count` (read), `reset` (write). A hot swap keeps the
//! counts.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;

use oxclick_lang::args::split_spacevec;
use oxclick_runtime::{
    Batch, ConfigCtx, ConfigErrors, Ctx, Element, LaneCtx, LaneElement, LaneMaker, Packet, finish_args,
};

#[derive(Default)]
pub struct Counter {
    count: u64,
    bytes: u64,
    /// `COUNT_CALL`: (count, handler, value). Boxed: behind a demux, the
    /// counters of 10,000 tenants lie side by side in their lane group (see
    /// `oxclick_runtime::lanes`), and the smaller they are, the more of them
    /// stay in the cache.
    count_call: Option<Box<(u64, String, String)>>,
}

impl Counter {
    /// `COUNT_CALL`: call its handler when the count is reached. A handler
    /// of this Counter's own (`COUNT_CALL 100 c.reset`) is called here and now,
    /// as Click does, before the next packet is counted: through the router it
    /// would wait until this Counter returns, after the rest of its batch, and
    /// the counts would depend on where batches begin and end.
    #[cold]
    fn call_at_count(&mut self, cx: &mut Ctx) {
        let Some((n, h, v)) = self.count_call.as_deref() else { return };
        if *n != self.count {
            return;
        }
        let (h, v) = (h.clone(), v.clone());
        let result = match h.trim().rsplit_once('.') {
            Some((e, own)) if e == cx.name() && own != "config" => {
                self.write_handler(own, &v).unwrap_or_else(|| Err(alloc::format!("no write handler '{h}'")))
            }
            _ => cx.write_handler(&h, &v),
        };
        if let Err(e) = result {
            cx.console(&e);
        }
    }
}

impl Element for Counter {
    fn class_name(&self) -> &'static str {
        "Counter"
    }
    fn state(&self) -> oxclick_runtime::State {
        oxclick_runtime::State::Stateless
    }
    fn port_count(&self) -> &'static str {
        "1/1"
    }
    fn configure(&mut self, config: &str, cx: &ConfigCtx) -> Result<(), ConfigErrors> {
        let mut a = cx.args(config);
        let call: Option<String> = a.read_with("COUNT_CALL", false, false, "count and handler", |s| Ok(s.into()));
        finish_args(a)?;
        if let Some(c) = call {
            let words = split_spacevec(&c);
            let n = words.first().and_then(|n| n.parse().ok());
            match (n, words.get(1)) {
                (Some(n), Some(h)) => {
                    self.count_call =
                        Some(Box::new((n, h.clone(), words.get(2..).map(|v| v.join(" ")).unwrap_or_default())))
                }
                _ => return Err(alloc::vec!["COUNT_CALL: expected 'N HANDLER [VALUE]'".into()]),
            }
        }
        Ok(())
    }
    /// Inlined into the default `push`: one packet, as a demux interleaving
    /// tenants sends them, is counted and pushed on in one frame.
    #[inline]
    fn simple_action(&mut self, p: Packet, cx: &mut Ctx) -> Option<Packet> {
        self.count += 1;
        self.bytes += p.len() as u64;
        if self.count_call.is_some() {
            self.call_at_count(cx);
        }
        Some(p)
    }
    fn push_batch(&mut self, _port: usize, batch: Batch, cx: &mut Ctx) {
        if self.count_call.is_some() {
            return oxclick_runtime::simple_action_batch(self, batch, cx);
        }
        self.count += batch.len() as u64;
        self.bytes += batch.iter().map(|p| p.len() as u64).sum::<u64>();
        cx.push_batch(0, batch);
    }
    fn read_handler(&self, name: &str) -> Option<String> {
        match name {
            "count" => Some(format!("{}", self.count)),
            "byte_count" => Some(format!("{}", self.bytes)),
            _ => None,
        }
    }
    fn handler_names(&self) -> &'static [&'static str] {
        &["count", "byte_count", "reset"]
    }
    fn write_handler(&mut self, name: &str, _value: &str) -> Option<Result<(), String>> {
        (name == "reset").then(|| {
            self.count = 0;
            self.bytes = 0;
            Ok(())
        })
    }
    fn as_any_mut(&mut self) -> Option<&mut dyn core::any::Any> {
        Some(self)
    }
    /// Counters behind a demux run as lanes of one group; one with `COUNT_CALL`
    /// does not (its handler call would wait for the group).
    fn lane_maker(&self) -> Option<LaneMaker> {
        self.count_call.is_none().then(LaneMaker::of::<Counter>)
    }
    /// A hot swap keeps the counts (what an operator bills from).
    fn take_state(&mut self, old: &mut dyn Element, _cx: &mut Ctx) {
        if let Some(o) = old.as_any_mut().and_then(|a| a.downcast_mut::<Counter>()) {
            self.count = o.count;
            self.bytes = o.bytes;
        }
    }
}

impl LaneElement for Counter {
    type Summary = ();
    fn push_lanes(lanes: &mut [Counter], _: &(), _port: usize, batch: Batch, cx: &mut LaneCtx) {
        for p in &batch {
            if let Some(c) = lanes.get_mut(p.lane()) {
                c.count += 1;
                c.bytes += p.len() as u64;
                // Configured since it joined the group (a `config` write).
                if c.count_call.is_some()
                    && let Some(mut lane_cx) = cx.lane(p.lane())
                {
                    c.call_at_count(&mut lane_cx);
                }
            }
        }
        cx.push_batch(0, batch);
    }
}

//! Null, PushNull, PullNull — pass packets through unchanged.
//!
//! `Null`, `PushNull`, `PullNull`
//!
//! One input, one output: agnostic, push, pull respectively.

use oxclick_runtime::{Batch, Ctx, Element};

macro_rules! null_element {
    ($name:ident, $proc:expr) => {
        #[derive(Default)]
        pub struct $name;

        impl Element for $name {
            fn class_name(&self) -> &'static str {
                stringify!($name)
            }
            fn state(&self) -> oxclick_runtime::State {
                oxclick_runtime::State::Stateless
            }
            fn port_count(&self) -> &'static str {
                "1/1"
            }
            fn processing(&self) -> &'static str {
                $proc
            }
            // The batch goes on whole (the default would hand on one packet at a time).
            fn push_batch(&mut self, _port: usize, batch: Batch, cx: &mut Ctx) {
                cx.push_batch(0, batch);
            }
        }
    };
}

null_element!(Null, "a/a");
null_element!(PushNull, "h/h");
null_element!(PullNull, "l/l");

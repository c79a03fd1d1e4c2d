//! Guest-wide state without locks that can deadlock.
//!
//! The guest runs on one vcpu and takes no interrupts, so the only way to
//! reach a global twice at once is re-entrance: a panic or CPU exception while
//! using it. [`Global::with`] detects that and declines (returns `None`)
//! instead of handing out a second `&mut`, so the crash path can still log.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

pub struct Global<T> {
    busy: AtomicBool,
    value: UnsafeCell<Option<T>>,
}

// SAFETY: access is serialised by `busy` (see module docs).
unsafe impl<T> Sync for Global<T> {}

impl<T> Global<T> {
    pub const fn new() -> Self {
        Global { busy: AtomicBool::new(false), value: UnsafeCell::new(None) }
    }

    /// Install the value (at start-up).
    pub fn set(&self, value: T) {
        let installed = self.with_slot(|slot| *slot = Some(value));
        assert!(installed.is_some(), "global set while in use");
    }

    /// Run `f` on the value; `None` if unset or already in use further up the stack.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        self.with_slot(|slot| slot.as_mut().map(f)).flatten()
    }

    fn with_slot<R>(&self, f: impl FnOnce(&mut Option<T>) -> R) -> Option<R> {
        if self.busy.swap(true, Ordering::Acquire) {
            return None;
        }
        // SAFETY: busy was false and is now ours: no other &mut exists.
        let result = f(unsafe { &mut *self.value.get() });
        self.busy.store(false, Ordering::Release);
        Some(result)
    }
}

//! The HTTP API of an in-process engine: `METHOD /path`, header lines, an empty line, the body.
#![no_main]
use std::cell::RefCell;

thread_local! {
    static TARGET: RefCell<mikawaya_engine::fuzzing::ApiTarget> =
        RefCell::new(mikawaya_engine::fuzzing::ApiTarget::new());
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| TARGET.with(|t| t.borrow_mut().request(data)));

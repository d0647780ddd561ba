//! A safe Rust wrapper of libcognition.
//!
//! Handles free themselves on `Drop`; every fallible call returns
//! [`Result<T>`] whose [`Error`] carries the library's status code and the
//! thread's `cog_error_last()` message; JSON crosses the boundary as text
//! (parse it with the JSON crate of your choice). Closures become tools
//! ([`Ctx::define_tool`]) and hooks ([`CtxBuilder::on_event`],
//! [`CtxBuilder::on_log`]); a panic inside one is caught and never unwinds
//! into C.
//!
//! Threads follow the C rules: a [`Ctx`] is `Send + Sync` (the C context may
//! be shared once configured; its setters take `&mut self` here, so they
//! cannot race with its users); a [`Plan`], [`Memory`] or [`Agent`] is used by
//! one thread at a time: `Send`, not `Sync`.
mod agent;
mod ctx;
mod error;
mod llm;
mod memory;
mod plan;
mod tool;

pub use agent::Agent;
pub use ctx::{Ctx, CtxBuilder, LogLevel};
pub use error::{Error, Result, Status};
pub use llm::ChatOptions;
pub use memory::{Layer, Memory, PutOptions, Put};
pub use plan::{Durability, FailurePolicy, Plan, PlanFormat, RunOptions};
pub use tool::{ToolCallOptions, ToolOptions, ToolRequest};

/// The raw declarations, for what this crate does not wrap.
pub use cognition_sys as sys;

use std::ffi::{CStr, CString};
use std::os::raw::c_char;

/// The version of the library loaded, e.g. "0.1.0".
pub fn version() -> String {
    // SAFETY: static text, never NULL.
    unsafe { borrowed_string(sys::cog_version()) }.unwrap_or_default()
}

/// `cog_features()` bits (`sys::COG_FEATURE_*`).
pub fn features() -> u32 {
    // SAFETY: no arguments.
    unsafe { sys::cog_features() }
}

/// A C copy of `s`; `COG_EINVAL` when it holds a NUL byte.
pub(crate) fn cstring(what: &str, s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::new(sys::COG_EINVAL, format!("{} holds a NUL byte", what)))
}

pub(crate) fn opt_cstring(what: &str, s: Option<&str>) -> Result<Option<CString>> {
    match s {
        Some(s) => cstring(what, s).map(Some),
        None => Ok(None),
    }
}

pub(crate) fn opt_ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(std::ptr::null(), |c| c.as_ptr())
}

/// Copies a borrowed C string (None for NULL).
///
/// # Safety
/// `p` is NULL or a valid NUL-terminated string.
pub(crate) unsafe fn borrowed_string(p: *const c_char) -> Option<String> {
    if p.is_null() {
        None
    } else {
        Some(CStr::from_ptr(p).to_string_lossy().into_owned())
    }
}

/// Takes a string the library allocated, and frees it with `cog_free`.
///
/// # Safety
/// `p` is NULL or was returned by the library for the caller to free.
pub(crate) unsafe fn owned_string(p: *mut c_char) -> Option<String> {
    let s = borrowed_string(p);
    sys::cog_free(p as *mut std::os::raw::c_void);
    s
}

/// Calls `f` with an out-pointer for a string to `cog_free`; the string on
/// success, the library's error otherwise (with the string, if it set one,
/// as [`Error::json`]).
pub(crate) fn out_string<F>(f: F) -> Result<String>
where
    F: FnOnce(*mut *mut c_char) -> i32,
{
    let mut out: *mut c_char = std::ptr::null_mut();
    let rc = f(&mut out);
    let err = if rc < 0 { Some(Error::last(rc)) } else { None };
    // SAFETY: whatever the library put there is ours to free.
    let text = unsafe { owned_string(out) };
    match err {
        Some(e) => Err(e.with_json(text)),
        None => Ok(text.unwrap_or_default()),
    }
}

/// A short text for a panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

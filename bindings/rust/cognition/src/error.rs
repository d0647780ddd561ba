//! Errors: a status code and the library's message.
use crate::sys;
use std::ffi::CString;
use std::fmt;

/// A libcognition status code (`COG_E*`, negative).
pub type Status = i32;

/// What a failed call returns: the status code, `cog_error_last()` read
/// right after the failure on the same thread, and for calls that also
/// return JSON on failure (a tool call's error object for the model, an
/// agent's partial result) that JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    code: Status,
    message: String,
    json: Option<String>,
}

/// `std::result::Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error of your own, e.g. for a tool closure to return:
    /// `Err(Error::new(sys::COG_ENOTFOUND, "no such customer"))`.
    pub fn new(code: Status, message: impl Into<String>) -> Error {
        let code = if code < 0 { code } else { sys::COG_ERROR };
        Error { code, message: message.into(), json: None }
    }

    /// A tool or hook failure of the host's own (`COG_EUSER`).
    pub fn user(message: impl Into<String>) -> Error {
        Error::new(sys::COG_EUSER, message)
    }

    /// The calling thread's last library error, for a call that returned `code`.
    pub(crate) fn last(code: Status) -> Error {
        // SAFETY: never NULL, valid until the next library call on this thread.
        let message = unsafe { crate::borrowed_string(sys::cog_error_last()) }.unwrap_or_default();
        Error { code, message, json: None }
    }

    pub(crate) fn with_json(mut self, json: Option<String>) -> Error {
        self.json = json;
        self
    }

    /// The status code (`sys::COG_E*`).
    pub fn code(&self) -> Status {
        self.code
    }

    /// The library's message: what failed and why.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// JSON the failed call returned along with the status, if any.
    pub fn json(&self) -> Option<&str> {
        self.json.as_deref()
    }

    /// The static name of the status (`cog_strerror`).
    pub fn status_text(&self) -> String {
        // SAFETY: static text, never NULL.
        unsafe { crate::borrowed_string(sys::cog_strerror(self.code)) }.unwrap_or_default()
    }

    /// Records this error as the thread's last (`cog_error_set`) and returns
    /// its code: what a callback hands back to C.
    pub(crate) fn raise(&self) -> i32 {
        let text = CString::new(self.message.replace('\0', "\\0")).unwrap_or_default();
        // SAFETY: "%s" with one valid C string.
        unsafe { sys::cog_error_set(self.code, b"%s\0".as_ptr() as *const _, text.as_ptr()) }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.status_text(), self.code, self.message)
    }
}

impl std::error::Error for Error {}

/// `Ok(rc)` for a non-negative status, the library's error otherwise.
pub(crate) fn check(rc: i32) -> Result<i32> {
    if rc < 0 {
        Err(Error::last(rc))
    } else {
        Ok(rc)
    }
}

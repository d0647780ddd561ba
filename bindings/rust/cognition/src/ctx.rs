//! The context: configuration, hooks, cancellation.
use crate::error::{check, Result};
use crate::{borrowed_string, cstring, out_string, panic_message, sys};
use std::io::Write;
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

/// Log levels (`cog_log_level`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Trace = 0,
    Debug = 1,
    Info = 2,
    Warn = 3,
    Error = 4,
    Off = 5,
}

impl LogLevel {
    fn from_c(level: c_int) -> LogLevel {
        match level {
            0 => LogLevel::Trace,
            1 => LogLevel::Debug,
            2 => LogLevel::Info,
            3 => LogLevel::Warn,
            4 => LogLevel::Error,
            _ => LogLevel::Off,
        }
    }
}

type EventHook = Box<dyn Fn(&str) + Send + Sync + 'static>;
type LogHook = Box<dyn Fn(LogLevel, &str) + Send + Sync + 'static>;

/// Builds a [`Ctx`]: options and hooks are fixed at creation, as in C.
pub struct CtxBuilder {
    options: sys::cog_ctx_options,
    from_env: bool,
    event: Option<Box<EventHook>>,
    log: Option<Box<LogHook>>,
}

impl CtxBuilder {
    /// Log records at this level and above go to the log hook.
    pub fn log_level(mut self, level: LogLevel) -> Self {
        self.options.log_level = level as c_int;
        self
    }

    /// Worker threads of plan runs (0: one per CPU).
    pub fn worker_threads(mut self, n: u32) -> Self {
        self.options.worker_threads = n;
        self
    }

    /// Default per-request HTTP timeout (0: 30 s).
    pub fn http_timeout_ms(mut self, ms: u32) -> Self {
        self.options.http_timeout_ms = ms;
        self
    }

    /// Apply `COG_LOG_LEVEL`, `COG_WORKERS`, `COG_HTTP_TIMEOUT_MS` at build time.
    pub fn from_env(mut self) -> Self {
        self.from_env = true;
        self
    }

    /// Receive every event as JSON text. May be called from any thread
    /// using the context, concurrently; a panic inside is caught.
    pub fn on_event<F: Fn(&str) + Send + Sync + 'static>(mut self, f: F) -> Self {
        self.event = Some(Box::new(Box::new(f)));
        self
    }

    /// Receive every log record (one line of JSON, secrets redacted).
    pub fn on_log<F: Fn(LogLevel, &str) + Send + Sync + 'static>(mut self, f: F) -> Self {
        self.log = Some(Box::new(Box::new(f)));
        self
    }

    /// Create the context.
    pub fn build(self) -> Result<Ctx> {
        let mut options = self.options;
        if self.from_env {
            // SAFETY: a valid options struct.
            check(unsafe { sys::cog_ctx_options_from_env(&mut options) })?;
        }
        if let Some(hook) = &self.event {
            options.event_fn = Some(event_trampoline);
            options.event_user_data = &**hook as *const EventHook as *mut c_void;
        }
        if let Some(hook) = &self.log {
            options.log_fn = Some(log_trampoline);
            options.log_user_data = &**hook as *const LogHook as *mut c_void;
        }
        let mut raw = ptr::null_mut();
        // SAFETY: the hooks' boxes live in the Ctx, freed after cog_ctx_free.
        check(unsafe { sys::cog_ctx_new(&mut raw, &options) })?;
        Ok(Ctx { raw, _event: self.event, _log: self.log })
    }
}

// Nothing may unwind into C: the hook runs inside catch_unwind, and so does
// the report of its panic (writeln! to stderr returns an error where
// eprintln! would panic, e.g. on a closed stderr). A panic while reporting
// is swallowed, its payload leaked rather than dropped (a drop could panic).
unsafe extern "C" fn event_trampoline(event: *const c_char, user_data: *mut c_void) {
    let outer = catch_unwind(AssertUnwindSafe(|| {
        let hook = &*(user_data as *const EventHook);
        let text = borrowed_string(event).unwrap_or_default();
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| hook(&text))) {
            let _ = writeln!(std::io::stderr(), "cognition: the event hook panicked: {}",
                             panic_message(&*p));
        }
    }));
    if let Err(p) = outer {
        std::mem::forget(p);
    }
}

unsafe extern "C" fn log_trampoline(level: c_int, line: *const c_char, user_data: *mut c_void) {
    let outer = catch_unwind(AssertUnwindSafe(|| {
        let hook = &*(user_data as *const LogHook);
        let text = borrowed_string(line).unwrap_or_default();
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| hook(LogLevel::from_c(level), &text))) {
            let _ = writeln!(std::io::stderr(), "cognition: the log hook panicked: {}",
                             panic_message(&*p));
        }
    }));
    if let Err(p) = outer {
        std::mem::forget(p);
    }
}

/// A libcognition context (`cog_ctx`). Freed on drop, with its tools.
pub struct Ctx {
    raw: *mut sys::cog_ctx,
    _event: Option<Box<EventHook>>,
    _log: Option<Box<LogHook>>,
}

// SAFETY: ctx.h: "a cog_ctx may be shared between threads once configured.
// The setters must not race with calls that use the same member": every
// setter here takes &mut self, so it cannot run while another thread holds
// a &Ctx. Hooks and tools are required to be Send + Sync.
unsafe impl Send for Ctx {}
unsafe impl Sync for Ctx {}

impl Ctx {
    /// A context with the default options.
    pub fn new() -> Result<Ctx> {
        Ctx::builder().build()
    }

    /// Options and hooks.
    pub fn builder() -> CtxBuilder {
        // SAFETY: zeroed is a valid bit pattern (integers, pointers, None).
        let mut options: sys::cog_ctx_options = unsafe { std::mem::zeroed() };
        // SAFETY: a valid struct and the version these declarations know.
        let rc = unsafe { sys::cog_ctx_options_init(&mut options, sys::COG_CTX_OPTIONS_VERSION) };
        debug_assert_eq!(rc, 0);
        CtxBuilder { options, from_env: false, event: None, log: None }
    }

    /// The raw handle, for calls through [`crate::sys`]; valid while `self` lives.
    pub fn as_ptr(&self) -> *mut sys::cog_ctx {
        self.raw
    }

    /// Give the context an in-memory storage (documents, logs, memory).
    pub fn use_memory_storage(&mut self) -> Result<()> {
        let mut storage = ptr::null_mut();
        // SAFETY: out-pointer; the context takes the storage even on failure.
        unsafe {
            check(sys::cog_storage_memory_new(&mut storage))?;
            check(sys::cog_ctx_set_storage(self.raw, storage))?;
        }
        Ok(())
    }

    /// Ask everything running under this context to stop. Any thread.
    pub fn cancel(&self) {
        // SAFETY: async-signal-safe, any thread.
        unsafe { sys::cog_ctx_cancel(self.raw) }
    }

    /// Whether [`Ctx::cancel`] was called (and not reset).
    pub fn is_canceled(&self) -> bool {
        // SAFETY: valid handle.
        unsafe { sys::cog_ctx_is_canceled(self.raw) != 0 }
    }

    /// Clear the cancellation flag.
    pub fn reset_cancel(&mut self) {
        // SAFETY: valid handle.
        unsafe { sys::cog_ctx_reset_cancel(self.raw) }
    }

    /// The context's trace id (32 hex digits).
    pub fn trace_id(&self) -> String {
        // SAFETY: valid as long as the context.
        unsafe { borrowed_string(sys::cog_ctx_trace_id(self.raw)) }.unwrap_or_default()
    }

    /// Effective options as JSON.
    pub fn describe(&self) -> Result<String> {
        // SAFETY: valid handle and out-pointer.
        out_string(|out| unsafe { sys::cog_ctx_describe(self.raw, out) })
    }

    /// Write a log record through the log hook; `fields_json` a JSON object.
    pub fn log(&self, level: LogLevel, message: &str, fields_json: Option<&str>) -> Result<()> {
        let message = cstring("message", message)?;
        let fields = crate::opt_cstring("fields", fields_json)?;
        // SAFETY: valid strings for the duration of the call.
        check(unsafe {
            sys::cog_ctx_log(self.raw, level as c_int, message.as_ptr(), crate::opt_ptr(&fields))
        })?;
        Ok(())
    }

    /// Search this directory of plan templates first.
    pub fn add_template_dir(&mut self, path: &str) -> Result<()> {
        let path = cstring("path", path)?;
        // SAFETY: valid handle and string.
        check(unsafe { sys::cog_ctx_add_template_dir(self.raw, path.as_ptr()) }).map(|_| ())
    }

    /// The context's budget, e.g. `{"max_tokens":100000,"max_cost":2.5}`.
    pub fn set_budget(&mut self, budget_json: &str) -> Result<()> {
        let budget = cstring("budget", budget_json)?;
        // SAFETY: valid handle and string.
        check(unsafe { sys::cog_ctx_set_budget(self.raw, budget.as_ptr()) }).map(|_| ())
    }

    /// What was spent (the whole context, or one plan) as JSON.
    pub fn budget_report(&self, plan_id: Option<&str>) -> Result<String> {
        let plan_id = crate::opt_cstring("plan id", plan_id)?;
        // SAFETY: valid handle, string and out-pointer.
        out_string(|out| unsafe { sys::cog_budget_report(self.raw, crate::opt_ptr(&plan_id), out) })
    }

    /// Redact `text` with the context's rules: the copy and the count.
    pub fn redact(&self, text: &str) -> Result<(String, usize)> {
        let text = cstring("text", text)?;
        let mut count = 0usize;
        let out = out_string(|out| unsafe { sys::cog_redact(self.raw, text.as_ptr(), out, &mut count) })?;
        Ok((out, count))
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        // SAFETY: owned handle; the hook boxes are dropped after this.
        unsafe { sys::cog_ctx_free(self.raw) }
    }
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx").field("trace_id", &self.trace_id()).finish()
    }
}


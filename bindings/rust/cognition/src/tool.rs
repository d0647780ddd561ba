//! Tools: Rust closures in the context's registry, and calling tools.
use crate::ctx::Ctx;
use crate::error::{check, Error, Result};
use crate::{borrowed_string, cstring, opt_cstring, opt_ptr, out_string, panic_message, sys};

use std::os::raw::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};

type ToolClosure = Box<dyn Fn(&ToolRequest<'_>) -> Result<String> + Send + Sync + 'static>;

/// How a tool is described to the registry and the models.
#[derive(Clone, Debug, Default)]
pub struct ToolOptions {
    pub name: String,
    pub description: Option<String>,
    /// JSON Schema text of the arguments (None: any object).
    pub input_schema: Option<String>,
    /// JSON Schema text of results (None: unchecked).
    pub output_schema: Option<String>,
    /// `sys::COG_TOOL_*` bits.
    pub flags: u32,
    /// 0: 30 s.
    pub timeout_ms: u32,
    /// 0: 1 MiB.
    pub max_output_bytes: usize,
}

impl ToolOptions {
    pub fn new(name: &str) -> ToolOptions {
        ToolOptions { name: name.to_string(), ..Default::default() }
    }
    pub fn description(mut self, text: &str) -> Self {
        self.description = Some(text.to_string());
        self
    }
    pub fn input_schema(mut self, schema_json: &str) -> Self {
        self.input_schema = Some(schema_json.to_string());
        self
    }
    pub fn output_schema(mut self, schema_json: &str) -> Self {
        self.output_schema = Some(schema_json.to_string());
        self
    }
    pub fn flags(mut self, flags: u32) -> Self {
        self.flags = flags;
        self
    }
}

/// One call of a tool, as the closure sees it (borrowed for the call).
pub struct ToolRequest<'a> {
    raw: &'a sys::cog_tool_request,
}

impl<'a> ToolRequest<'a> {
    fn text(p: *const c_char) -> Option<String> {
        // SAFETY: the library's strings, valid during the call.
        unsafe { borrowed_string(p) }
    }
    /// The tool's name.
    pub fn tool(&self) -> String {
        Self::text(self.raw.tool).unwrap_or_default()
    }
    /// The arguments: a JSON object, already checked against the schema.
    pub fn arguments(&self) -> String {
        Self::text(self.raw.arguments).unwrap_or_default()
    }
    /// Unique per call (the caller's idempotency key when it gave one).
    pub fn call_id(&self) -> String {
        Self::text(self.raw.call_id).unwrap_or_default()
    }
    /// The directory the call may use, if any.
    pub fn workspace(&self) -> Option<String> {
        Self::text(self.raw.workspace)
    }
    /// JSON of the calling principal (None: the host).
    pub fn principal(&self) -> Option<String> {
        Self::text(self.raw.principal)
    }
    /// Time left for the call.
    pub fn timeout_ms(&self) -> u32 {
        self.raw.timeout_ms
    }
    /// Whether the context was canceled: long closures should poll this.
    pub fn is_canceled(&self) -> bool {
        // SAFETY: the request's context outlives the call.
        unsafe { sys::cog_ctx_is_canceled(self.raw.ctx) != 0 }
    }
}

unsafe extern "C" fn tool_trampoline(
    request: *const sys::cog_tool_request,
    result_json: *mut *mut c_char,
    user_data: *mut c_void,
) -> c_int {
    let closure = &*(user_data as *const ToolClosure);
    let request = ToolRequest { raw: &*request };
    let outcome = match catch_unwind(AssertUnwindSafe(|| closure(&request))) {
        Ok(r) => r,
        Err(payload) => Err(Error::user(format!(
            "the Rust tool '{}' panicked: {}",
            request.tool(),
            panic_message(&*payload)
        ))),
    };
    let text = match outcome {
        Ok(text) => text,
        Err(e) => return e.raise(),
    };
    if text.as_bytes().contains(&0) {
        return Error::user("the tool's result holds a NUL byte").raise();
    }
    let buf = sys::cog_malloc(text.len() + 1) as *mut u8;
    if buf.is_null() {
        return Error::new(sys::COG_ENOMEM, "out of memory copying a tool result").raise();
    }
    std::ptr::copy_nonoverlapping(text.as_ptr(), buf, text.len());
    *buf.add(text.len()) = 0;
    *result_json = buf as *mut c_char;
    0
}

unsafe extern "C" fn free_tool_closure(user_data: *mut c_void) {
    drop(Box::from_raw(user_data as *mut ToolClosure));
}

/// Who calls a tool, and with what grants (`cog_tool_call_options`).
#[derive(Clone, Debug, Default)]
pub struct ToolCallOptions {
    /// `{"tenant":..,"id":..,"roles":[..]}`; None: the host itself.
    pub principal: Option<String>,
    pub agent: Option<String>,
    /// JSON array of tool-name globs.
    pub allowed_tools: Option<String>,
    pub workspace: Option<String>,
    /// JSON array of host patterns.
    pub allowed_hosts: Option<String>,
    pub call_id: Option<String>,
    pub timeout_ms: u32,
}

impl Ctx {
    /// Define a tool whose runner is `f`. It returns the result as JSON
    /// text, or an [`Error`] that the model sees as a tool error (a panic
    /// becomes one too, `COG_EUSER`). It may run on any thread that calls
    /// the tool, several at once. It lives until the tool is removed or
    /// the context freed.
    pub fn define_tool<F>(&self, options: &ToolOptions, f: F) -> Result<()>
    where
        F: Fn(&ToolRequest<'_>) -> Result<String> + Send + Sync + 'static,
    {
        let name = cstring("tool name", &options.name)?;
        let description = opt_cstring("description", options.description.as_deref())?;
        let input_schema = opt_cstring("input schema", options.input_schema.as_deref())?;
        let output_schema = opt_cstring("output schema", options.output_schema.as_deref())?;
        // SAFETY: zeroed is valid for this struct; init sets the defaults.
        let mut raw: sys::cog_tool_options = unsafe { std::mem::zeroed() };
        check(unsafe { sys::cog_tool_options_init(&mut raw, sys::COG_TOOL_OPTIONS_VERSION) })?;
        raw.name = name.as_ptr();
        raw.description = opt_ptr(&description);
        raw.input_schema = opt_ptr(&input_schema);
        raw.output_schema = opt_ptr(&output_schema);
        raw.flags = options.flags;
        raw.timeout_ms = options.timeout_ms;
        raw.max_output_bytes = options.max_output_bytes;
        let closure: Box<ToolClosure> = Box::new(Box::new(f));
        let user_data = Box::into_raw(closure) as *mut c_void;
        raw.fn_ = Some(tool_trampoline);
        raw.user_data = user_data;
        raw.free_user_data = Some(free_tool_closure);
        // SAFETY: strings copied by the library; on failure the closure is still ours.
        let rc = unsafe { sys::cog_tool_define(self.as_ptr(), &raw) };
        if rc < 0 {
            let err = Error::last(rc);
            unsafe { free_tool_closure(user_data) };
            return Err(err);
        }
        Ok(())
    }

    /// Remove a tool (its closure is dropped once running calls finish).
    pub fn remove_tool(&self, name: &str) -> Result<()> {
        let name = cstring("tool name", name)?;
        check(unsafe { sys::cog_tool_remove(self.as_ptr(), name.as_ptr()) }).map(|_| ())
    }

    /// Call a tool with JSON arguments; the result JSON. On failure the
    /// error's [`Error::json`] is the error object meant for the model.
    pub fn call_tool(&self, name: &str, arguments_json: &str, options: Option<&ToolCallOptions>) -> Result<String> {
        let name = cstring("tool name", name)?;
        let args = cstring("arguments", arguments_json)?;
        let o = options.cloned().unwrap_or_default();
        let principal = opt_cstring("principal", o.principal.as_deref())?;
        let agent = opt_cstring("agent", o.agent.as_deref())?;
        let allowed_tools = opt_cstring("allowed tools", o.allowed_tools.as_deref())?;
        let workspace = opt_cstring("workspace", o.workspace.as_deref())?;
        let allowed_hosts = opt_cstring("allowed hosts", o.allowed_hosts.as_deref())?;
        let call_id = opt_cstring("call id", o.call_id.as_deref())?;
        let mut raw: sys::cog_tool_call_options = unsafe { std::mem::zeroed() };
        check(unsafe { sys::cog_tool_call_options_init(&mut raw, sys::COG_TOOL_CALL_OPTIONS_VERSION) })?;
        raw.principal = opt_ptr(&principal);
        raw.agent = opt_ptr(&agent);
        raw.allowed_tools = opt_ptr(&allowed_tools);
        raw.workspace = opt_ptr(&workspace);
        raw.allowed_hosts = opt_ptr(&allowed_hosts);
        raw.call_id = opt_ptr(&call_id);
        raw.timeout_ms = o.timeout_ms;
        let raw_ptr: *const sys::cog_tool_call_options = if options.is_some() { &raw } else { std::ptr::null() };
        // SAFETY: all strings outlive the call.
        out_string(|out| unsafe { sys::cog_tool_call(self.as_ptr(), name.as_ptr(), args.as_ptr(), raw_ptr, out) })
    }

    /// The tools matching a glob (None: all) as JSON (`sys::COG_TOOL_FORMAT_*`).
    pub fn list_tools(&self, pattern: Option<&str>, format: i32) -> Result<String> {
        let pattern = opt_cstring("pattern", pattern)?;
        out_string(|out| unsafe { sys::cog_tool_list(self.as_ptr(), opt_ptr(&pattern), format, out) })
    }

    /// Let principals with `role` call the tools matching `tool_glob`.
    pub fn grant_tool(&self, role: &str, tool_glob: &str) -> Result<()> {
        let role = cstring("role", role)?;
        let glob = cstring("tool glob", tool_glob)?;
        check(unsafe { sys::cog_tool_grant(self.as_ptr(), role.as_ptr(), glob.as_ptr()) }).map(|_| ())
    }

    /// Define the built-in tools matching a glob (None: all).
    pub fn define_builtin_tools(&self, pattern: Option<&str>) -> Result<()> {
        let pattern = opt_cstring("pattern", pattern)?;
        check(unsafe { sys::cog_tool_define_builtins(self.as_ptr(), opt_ptr(&pattern)) }).map(|_| ())
    }

    /// Check the audit log's hash chain: the report JSON.
    pub fn audit_verify(&self) -> Result<String> {
        out_string(|out| unsafe { sys::cog_audit_verify(self.as_ptr(), out) })
    }
}


//! LLM calls through the context's router.
use crate::ctx::Ctx;
use crate::error::{check, Result};
use crate::{cstring, opt_cstring, opt_ptr, out_string, sys};

/// `cog_llm_chat_options` (streaming is left to the raw API for now).
#[derive(Clone, Debug)]
pub struct ChatOptions {
    /// None: "executor".
    pub role: Option<String>,
    /// Whole call, retries included; 0: the configuration's.
    pub timeout_ms: u32,
    /// 1: cache even with temperature > 0; -1: never; 0: when temperature is 0.
    pub cacheable: i32,
    /// -1: the configuration's.
    pub schema_retries: i32,
}

impl Default for ChatOptions {
    fn default() -> Self {
        ChatOptions { role: None, timeout_ms: 0, cacheable: 0, schema_retries: -1 }
    }
}

impl Ctx {
    /// Configure the router from JSON (routes, prices, retry, cache).
    pub fn llm_configure(&mut self, config_json: &str) -> Result<()> {
        let c = cstring("config JSON", config_json)?;
        check(unsafe { sys::cog_llm_configure(self.as_ptr(), c.as_ptr()) }).map(|_| ())
    }

    /// Whether the context has at least one LLM endpoint.
    pub fn llm_available(&self) -> bool {
        unsafe { sys::cog_llm_available(self.as_ptr()) != 0 }
    }

    /// Ask the router: the response JSON.
    pub fn llm_chat(&self, request_json: &str, options: Option<&ChatOptions>) -> Result<String> {
        let request = cstring("request JSON", request_json)?;
        let o = options.cloned().unwrap_or_default();
        let role = opt_cstring("role", o.role.as_deref())?;
        let mut raw: sys::cog_llm_chat_options = unsafe { std::mem::zeroed() };
        check(unsafe { sys::cog_llm_chat_options_init(&mut raw, sys::COG_LLM_CHAT_OPTIONS_VERSION) })?;
        raw.role = opt_ptr(&role);
        raw.timeout_ms = o.timeout_ms;
        raw.cacheable = o.cacheable;
        raw.schema_retries = o.schema_retries;
        out_string(|out| unsafe { sys::cog_llm_chat(self.as_ptr(), request.as_ptr(), &raw, out) })
    }

    /// Router statistics as JSON.
    pub fn llm_stats(&self) -> Result<String> {
        out_string(|out| unsafe { sys::cog_llm_stats(self.as_ptr(), out) })
    }
}

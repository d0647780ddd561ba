//! Agents: definitions in the context's registry, instances that run tasks.
use crate::ctx::Ctx;
use crate::error::{check, Result};
use crate::{borrowed_string, cstring, opt_cstring, opt_ptr, out_string, sys};
use std::marker::PhantomData;
use std::ptr;

/// An agent instance (`cog_agent`) from its definition's pool, given back on
/// drop. Used by one thread at a time (agent.h): `Send`, not `Sync`.
pub struct Agent<'c> {
    raw: *mut sys::cog_agent,
    _ctx: PhantomData<&'c Ctx>,
}

// SAFETY: agent.h: "a cog_agent is used by one thread at a time".
unsafe impl<'c> Send for Agent<'c> {}

impl<'c> Agent<'c> {
    /// An instance of definition `name` ("planner", "executor", "critic" or one of yours).
    pub fn spawn(ctx: &'c Ctx, name: &str) -> Result<Agent<'c>> {
        let name = cstring("agent name", name)?;
        let mut raw = ptr::null_mut();
        check(unsafe { sys::cog_agent_spawn(&mut raw, ctx.as_ptr(), name.as_ptr()) })?;
        Ok(Agent { raw, _ctx: PhantomData })
    }

    pub fn id(&self) -> String {
        unsafe { borrowed_string(sys::cog_agent_id(self.raw)) }.unwrap_or_default()
    }

    pub fn name(&self) -> String {
        unsafe { borrowed_string(sys::cog_agent_name(self.raw)) }.unwrap_or_default()
    }

    /// `sys::COG_AGENT_*`.
    pub fn state(&self) -> i32 {
        unsafe { sys::cog_agent_get_state(self.raw) }
    }

    /// The state's name ("idle", "busy", ...).
    pub fn state_name(&self) -> String {
        unsafe { borrowed_string(sys::cog_agent_state_name(self.state())) }.unwrap_or_default()
    }

    /// Run the agent loop on a task (`{"prompt":..}`): the result object
    /// JSON. On failure the error's [`crate::Error::json`] holds what it
    /// did so far, when the library returned that.
    pub fn run(&mut self, task_json: &str, memory_namespace: Option<&str>) -> Result<String> {
        let task = cstring("task JSON", task_json)?;
        let ns = opt_cstring("memory namespace", memory_namespace)?;
        let mut raw: sys::cog_agent_run_options = unsafe { std::mem::zeroed() };
        check(unsafe { sys::cog_agent_run_options_init(&mut raw, sys::COG_AGENT_RUN_OPTIONS_VERSION) })?;
        raw.memory_namespace = opt_ptr(&ns);
        out_string(|out| unsafe { sys::cog_agent_run(self.raw, task.as_ptr(), &raw, out) })
    }
}

impl<'c> Drop for Agent<'c> {
    fn drop(&mut self) {
        unsafe { sys::cog_agent_free(self.raw) }
    }
}

impl Ctx {
    /// Add an agent definition (Definition JSON, agent.h).
    pub fn define_agent(&self, definition_json: &str) -> Result<()> {
        let d = cstring("definition JSON", definition_json)?;
        check(unsafe { sys::cog_agent_define(self.as_ptr(), d.as_ptr()) }).map(|_| ())
    }

    /// Every agent definition as JSON.
    pub fn agent_definitions(&self) -> Result<String> {
        out_string(|out| unsafe { sys::cog_agent_definitions(self.as_ptr(), out) })
    }

    /// Live agent instances as JSON.
    pub fn agents(&self) -> Result<String> {
        out_string(|out| unsafe { sys::cog_agent_list(self.as_ptr(), out) })
    }

    /// Stop an agent instance (any thread).
    pub fn terminate_agent(&self, agent_id: &str) -> Result<()> {
        let id = cstring("agent id", agent_id)?;
        check(unsafe { sys::cog_agent_terminate(self.as_ptr(), id.as_ptr()) }).map(|_| ())
    }
}

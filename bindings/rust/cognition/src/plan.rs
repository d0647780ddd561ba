//! Plans: task graphs validated, analysed and run.
use crate::ctx::Ctx;
use crate::error::{check, Result};
use crate::{borrowed_string, cstring, opt_cstring, opt_ptr, out_string, sys};
use std::marker::PhantomData;
use std::ptr;

/// Export formats (`cog_plan_format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanFormat {
    Json = 0,
    Dot = 1,
    Mermaid = 2,
}

/// What a run does after a task fails (`cog_failure_policy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailurePolicy {
    FailFast = 0,
    ContinueIndependent = 1,
}

/// Whether a run is journaled (`cog_durability`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    Auto = 0,
    On = 1,
    Off = 2,
}

/// `cog_run_options`.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// 0: the context's worker threads.
    pub workers: u32,
    pub failure_policy: FailurePolicy,
    pub durability: Durability,
    /// 0: 32.
    pub inline_max_tasks: u32,
    /// A memory namespace that receives one episode per task and run.
    pub episodic_namespace: Option<String>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            workers: 0,
            failure_policy: FailurePolicy::FailFast,
            durability: Durability::Auto,
            inline_max_tasks: 0,
            episodic_namespace: None,
        }
    }
}

/// A plan (`cog_plan`), borrowed from its context. Used by one thread at a
/// time (plan.h): `Send`, not `Sync`.
pub struct Plan<'c> {
    raw: *mut sys::cog_plan,
    _ctx: PhantomData<&'c Ctx>,
}

// SAFETY: plan.h: "a cog_plan is used by one thread at a time" — moving it to
// another thread is allowed; sharing (&Plan across threads) is not (no Sync).
unsafe impl<'c> Send for Plan<'c> {}

fn make<'c>(f: impl FnOnce(*mut *mut sys::cog_plan) -> i32) -> Result<Plan<'c>> {
    let mut raw = ptr::null_mut();
    check(f(&mut raw))?;
    Ok(Plan { raw, _ctx: PhantomData })
}

impl<'c> Plan<'c> {
    /// An empty plan for `goal`.
    pub fn new(ctx: &'c Ctx, goal: &str) -> Result<Plan<'c>> {
        let goal = cstring("goal", goal)?;
        make(|out| unsafe { sys::cog_plan_new(out, ctx.as_ptr(), goal.as_ptr()) })
    }

    /// A plan from Plan JSON (see plan.h). Errors name the task and field.
    pub fn from_json(ctx: &'c Ctx, json: &str) -> Result<Plan<'c>> {
        let json = cstring("plan JSON", json)?;
        make(|out| unsafe { sys::cog_plan_from_json(out, ctx.as_ptr(), json.as_ptr()) })
    }

    /// A validated plan for a goal from the context's planners.
    pub fn from_goal(ctx: &'c Ctx, goal: &str) -> Result<Plan<'c>> {
        let goal = cstring("goal", goal)?;
        make(|out| unsafe { sys::cog_plan_from_goal(out, ctx.as_ptr(), goal.as_ptr()) })
    }

    /// Continue a journaled plan after a crash or a stop.
    pub fn resume(ctx: &'c Ctx, plan_id: &str) -> Result<Plan<'c>> {
        let id = cstring("plan id", plan_id)?;
        make(|out| unsafe { sys::cog_plan_resume(out, ctx.as_ptr(), id.as_ptr()) })
    }

    /// Read a stored plan only to look at it.
    pub fn load(ctx: &'c Ctx, plan_id: &str) -> Result<Plan<'c>> {
        let id = cstring("plan id", plan_id)?;
        make(|out| unsafe { sys::cog_plan_load(out, ctx.as_ptr(), id.as_ptr()) })
    }

    /// The raw handle, valid while `self` lives.
    pub fn as_ptr(&self) -> *mut sys::cog_plan {
        self.raw
    }

    /// Add one task (Task JSON).
    pub fn add_task(&mut self, task_json: &str) -> Result<()> {
        let task = cstring("task JSON", task_json)?;
        check(unsafe { sys::cog_plan_add_task(self.raw, task.as_ptr()) }).map(|_| ())
    }

    /// `task_id` runs after `depends_on_id`.
    pub fn add_dependency(&mut self, task_id: &str, depends_on_id: &str) -> Result<()> {
        let a = cstring("task id", task_id)?;
        let b = cstring("task id", depends_on_id)?;
        check(unsafe { sys::cog_plan_add_dependency(self.raw, a.as_ptr(), b.as_ptr()) }).map(|_| ())
    }

    /// `{"max_tokens":..,"max_cost":..,"max_duration_ms":..}`.
    pub fn set_budget(&mut self, budget_json: &str) -> Result<()> {
        let b = cstring("budget", budget_json)?;
        check(unsafe { sys::cog_plan_set_budget(self.raw, b.as_ptr()) }).map(|_| ())
    }

    pub fn id(&self) -> String {
        unsafe { borrowed_string(sys::cog_plan_id(self.raw)) }.unwrap_or_default()
    }

    pub fn goal(&self) -> String {
        unsafe { borrowed_string(sys::cog_plan_goal(self.raw)) }.unwrap_or_default()
    }

    pub fn task_count(&self) -> usize {
        unsafe { sys::cog_plan_task_count(self.raw) }
    }

    /// Check dependencies, cycles, tools and budget.
    pub fn validate(&mut self) -> Result<()> {
        check(unsafe { sys::cog_plan_validate(self.raw) }).map(|_| ())
    }

    /// Validate and describe the graph (levels, critical path) as JSON.
    pub fn analyze(&mut self) -> Result<String> {
        out_string(|out| unsafe { sys::cog_plan_analyze(self.raw, out) })
    }

    pub fn export(&mut self, format: PlanFormat) -> Result<String> {
        out_string(|out| unsafe { sys::cog_plan_export(self.raw, format as i32, out) })
    }

    /// Validate and run until every task ended. `Ok(())` when all succeeded;
    /// otherwise the library's status (e.g. `COG_ERROR` naming the failed tasks).
    pub fn run(&mut self, options: Option<&RunOptions>) -> Result<()> {
        let o = match options {
            Some(o) => o,
            None => return check(unsafe { sys::cog_plan_run(self.raw, ptr::null()) }).map(|_| ()),
        };
        let ns = opt_cstring("episodic namespace", o.episodic_namespace.as_deref())?;
        let mut raw: sys::cog_run_options = unsafe { std::mem::zeroed() };
        check(unsafe { sys::cog_run_options_init(&mut raw, sys::COG_RUN_OPTIONS_VERSION) })?;
        raw.workers = o.workers;
        raw.failure_policy = o.failure_policy as i32;
        raw.durability = o.durability as i32;
        raw.inline_max_tasks = o.inline_max_tasks;
        raw.episodic_namespace = opt_ptr(&ns);
        check(unsafe { sys::cog_plan_run(self.raw, &raw) }).map(|_| ())
    }

    /// Store the plan without running it.
    pub fn save(&mut self) -> Result<()> {
        check(unsafe { sys::cog_plan_save(self.raw) }).map(|_| ())
    }

    /// One task's state, attempts and result as JSON.
    pub fn task_status(&mut self, task_id: &str) -> Result<String> {
        let id = cstring("task id", task_id)?;
        out_string(|out| unsafe { sys::cog_plan_task_status(self.raw, id.as_ptr(), out) })
    }

    /// All tasks' states as JSON.
    pub fn status(&mut self) -> Result<String> {
        out_string(|out| unsafe { sys::cog_plan_status(self.raw, out) })
    }

    /// Settle an uncertain or failed task (`sys::COG_DECIDE_*`).
    pub fn decide(&mut self, task_id: &str, decision: i32) -> Result<()> {
        let id = cstring("task id", task_id)?;
        check(unsafe { sys::cog_plan_decide(self.raw, id.as_ptr(), decision) }).map(|_| ())
    }
}

impl<'c> Drop for Plan<'c> {
    fn drop(&mut self) {
        unsafe { sys::cog_plan_free(self.raw) }
    }
}

//! Raw declarations of libcognition's C API (`include/cognition/*.h`).
//!
//! Written by hand, the way `libgit2-sys` is: opaque handles are zero-sized
//! `#[repr(C)]` structs used only behind pointers, C enums and `#define`s are
//! integer constants, options structs are `#[repr(C)]` copies of the C ones.
//! Everything here is `unsafe` to call; the `cognition` crate wraps it.
//!
//! The macros below also record every constant, struct layout, function
//! pointer type and function signature in tables (`CONSTANTS`,
//! `struct_layouts()`, `FN_TYPES`, `FUNCTIONS`): `tests/header_check.rs`
//! turns them into a C file of `_Static_assert`s and compiles it against the
//! headers, so a declaration that drifts from C fails the tests.
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_double, c_int, c_uchar, c_uint, c_void};

/// A function or function pointer type as declared here, for the header check.
pub struct FunctionDecl {
    pub name: &'static str,
    /// The Rust return type as written ("" for none).
    pub ret: &'static str,
    /// The Rust parameter types as written.
    pub args: &'static [&'static str],
    pub variadic: bool,
}

/// One member of a `#[repr(C)]` struct: its offset and Rust type.
pub struct FieldLayout {
    pub name: &'static str,
    pub offset: usize,
    pub rust_type: &'static str,
}

/// Size, alignment and members of a struct declared here.
pub struct StructLayout {
    pub name: &'static str,
    pub size: usize,
    pub align: usize,
    pub fields: Vec<FieldLayout>,
}

macro_rules! c_consts {
    ($( $name:ident : $ty:ty = $val:expr; )*) => {
        $( pub const $name: $ty = $val; )*
        /// Every constant of this crate with its C name.
        pub const CONSTANTS: &[(&str, i64)] = &[ $( (stringify!($name), $name as i64), )* ];
    };
}

macro_rules! opaque {
    ($( $name:ident ),* $(,)?) => {
        $(
            /// An opaque C handle: only ever used behind a pointer.
            #[repr(C)]
            pub struct $name {
                _private: [u8; 0],
            }
        )*
    };
}

macro_rules! c_fn_types {
    ($( pub type $name:ident = fn( $( $arg:ident : $aty:ty ),* ) $( -> $ret:ty )? ; )*) => {
        $( pub type $name = Option<unsafe extern "C" fn( $( $arg: $aty ),* ) $( -> $ret )?>; )*
        /// Every function pointer type (names starting `cog_sys_` have no C
        /// typedef: they spell out a member's inline type).
        pub const FN_TYPES: &[FunctionDecl] = &[ $(
            FunctionDecl {
                name: stringify!($name),
                ret: concat!("" $(, stringify!($ret))?),
                args: &[ $( stringify!($aty) ),* ],
                variadic: false,
            },
        )* ];
    };
}

macro_rules! c_structs {
    ($( pub struct $name:ident { $( pub $field:ident : $fty:ty, )* } )*) => {
        $(
            #[repr(C)]
            #[derive(Copy, Clone)]
            pub struct $name { $( pub $field: $fty, )* }
        )*
        /// The layout of every struct of this crate, as Rust lays it out.
        pub fn struct_layouts() -> Vec<StructLayout> {
            let mut all = Vec::new();
            $( {
                let probe = std::mem::MaybeUninit::<$name>::uninit();
                let base = probe.as_ptr();
                let fields = vec![ $(
                    FieldLayout {
                        name: stringify!($field),
                        rust_type: stringify!($fty),
                        // SAFETY: only the address is taken, nothing is read.
                        offset: unsafe { std::ptr::addr_of!((*base).$field) as usize - base as usize },
                    },
                )* ];
                all.push(StructLayout {
                    name: stringify!($name),
                    size: std::mem::size_of::<$name>(),
                    align: std::mem::align_of::<$name>(),
                    fields,
                });
            } )*
            all
        }
    };
}

macro_rules! c_functions {
    ($( pub fn $name:ident ( $( $arg:ident : $aty:ty ),* ) $( -> $ret:ty )? ; )*) => {
        extern "C" {
            $( pub fn $name( $( $arg: $aty ),* ) $( -> $ret )?; )*
            /// `printf`-style: pass `"%s"` and one C string.
            pub fn cog_error_set(code: c_int, fmt: *const c_char, ...) -> c_int;
        }
        /// Every function declared here.
        pub const FUNCTIONS: &[FunctionDecl] = &[
            $( FunctionDecl {
                name: stringify!($name),
                ret: concat!("" $(, stringify!($ret))?),
                args: &[ $( stringify!($aty) ),* ],
                variadic: false,
            }, )*
            FunctionDecl {
                name: "cog_error_set",
                ret: "c_int",
                args: &["c_int", "*const c_char"],
                variadic: true,
            },
        ];
    };
}

c_consts! {
    // common.h: status codes (enum cog_status)
    COG_OK: c_int = 0;
    COG_ERROR: c_int = -1;
    COG_EINVAL: c_int = -2;
    COG_ENOMEM: c_int = -3;
    COG_EIO: c_int = -4;
    COG_ETIMEOUT: c_int = -5;
    COG_ECANCELED: c_int = -6;
    COG_ENOTFOUND: c_int = -7;
    COG_EDENIED: c_int = -8;
    COG_EBUDGET: c_int = -9;
    COG_ECYCLE: c_int = -10;
    COG_EPROTO: c_int = -11;
    COG_ESCHEMA: c_int = -12;
    COG_EUNAVAILABLE: c_int = -13;
    COG_EUSER: c_int = -14;
    COG_EVERSION: c_int = -15;
    COG_EEXISTS: c_int = -16;
    COG_EBUSY: c_int = -17;
    COG_ERANGE: c_int = -18;
    COG_EUNCERTAIN: c_int = -19;
    COG_EPENDING: c_int = -20;
    COG_EINTEGRITY: c_int = -21;
    COG_FEATURE_CURL: c_uint = 1 << 0;
    COG_FEATURE_SQLITE: c_uint = 1 << 1;
    COG_FEATURE_THREADS: c_uint = 1 << 2;
    COG_ALLOCATOR_VERSION: c_uint = 1;
    // ctx.h
    COG_LOG_TRACE: c_int = 0;
    COG_LOG_DEBUG: c_int = 1;
    COG_LOG_INFO: c_int = 2;
    COG_LOG_WARN: c_int = 3;
    COG_LOG_ERROR: c_int = 4;
    COG_LOG_OFF: c_int = 5;
    COG_CTX_OPTIONS_VERSION: c_uint = 1;
    // plan.h
    COG_TASK_PENDING: c_int = 0;
    COG_TASK_READY: c_int = 1;
    COG_TASK_RUNNING: c_int = 2;
    COG_TASK_SUCCEEDED: c_int = 3;
    COG_TASK_FAILED: c_int = 4;
    COG_TASK_SKIPPED: c_int = 5;
    COG_TASK_UNCERTAIN: c_int = 6;
    COG_PLAN_ID_MAX: usize = 64;
    COG_TASK_ID_MAX: usize = 128;
    COG_PLAN_FORMAT_JSON: c_int = 0;
    COG_PLAN_FORMAT_DOT: c_int = 1;
    COG_PLAN_FORMAT_MERMAID: c_int = 2;
    COG_FAIL_FAST: c_int = 0;
    COG_CONTINUE_INDEPENDENT: c_int = 1;
    COG_DURABLE_AUTO: c_int = 0;
    COG_DURABLE_ON: c_int = 1;
    COG_DURABLE_OFF: c_int = 2;
    COG_RUN_OPTIONS_VERSION: c_uint = 2;
    COG_DECIDE_RETRY: c_int = 0;
    COG_DECIDE_SKIP: c_int = 1;
    COG_DECIDE_FAIL: c_int = 2;
    // tool.h
    COG_TOOL_IDEMPOTENT: c_uint = 0x1;
    COG_TOOL_SIDE_EFFECTS: c_uint = 0x2;
    COG_TOOL_NEEDS_APPROVAL: c_uint = 0x4;
    COG_TOOL_NEEDS_NETWORK: c_uint = 0x8;
    COG_TOOL_NAME_MAX: usize = 64;
    COG_TOOL_REQUEST_VERSION: c_uint = 1;
    COG_TOOL_OPTIONS_VERSION: c_uint = 1;
    COG_TOOL_FORMAT_COG: c_int = 0;
    COG_TOOL_FORMAT_OPENAI: c_int = 1;
    COG_TOOL_FORMAT_ANTHROPIC: c_int = 2;
    COG_TOOL_CALL_OPTIONS_VERSION: c_uint = 1;
    COG_APPROVAL_APPROVE: c_int = 0;
    COG_APPROVAL_DENY: c_int = 1;
    COG_APPROVAL_EDIT: c_int = 2;
    COG_APPROVAL_DEFER: c_int = 3;
    // memory.h
    COG_MEMORY_WORKING: c_uint = 0x1;
    COG_MEMORY_SHORT_TERM: c_uint = 0x2;
    COG_MEMORY_LONG_TERM: c_uint = 0x4;
    COG_MEMORY_EPISODIC: c_uint = 0x8;
    COG_MEMORY_LAYERS_ALL: c_uint = 0xF;
    COG_MEMORY_NAMESPACE_MAX: c_uint = 259;
    COG_MEMORY_MERGED: c_int = 1;
    COG_MEMORY_OPTIONS_VERSION: c_uint = 2;
    COG_MEMORY_PUT_OPTIONS_VERSION: c_uint = 1;
    // agent.h
    COG_AGENT_SPAWNED: c_int = 0;
    COG_AGENT_IDLE: c_int = 1;
    COG_AGENT_BUSY: c_int = 2;
    COG_AGENT_DONE: c_int = 3;
    COG_AGENT_FAILED: c_int = 4;
    COG_AGENT_TERMINATED: c_int = 5;
    COG_AGENT_RUN_OPTIONS_VERSION: c_uint = 1;
    // llm.h
    COG_LLM_CALL_VERSION: c_uint = 1;
    COG_LLM_VTABLE_VERSION: c_uint = 1;
    COG_LLM_OPENAI: c_int = 0;
    COG_LLM_ANTHROPIC: c_int = 1;
    COG_LLM_OLLAMA: c_int = 2;
    COG_LLM_PROVIDER_OPTIONS_VERSION: c_uint = 1;
    COG_LLM_ENDPOINT_OPTIONS_VERSION: c_uint = 1;
    COG_LLM_CHAT_OPTIONS_VERSION: c_uint = 1;
}

opaque!(
    cog_ctx, cog_storage, cog_transport, cog_plan, cog_task_call, cog_memory, cog_agent, cog_llm
);

c_fn_types! {
    // ctx.h
    pub type cog_log_fn = fn(level: c_int, line: *const c_char, user_data: *mut c_void);
    pub type cog_event_fn = fn(event: *const c_char, user_data: *mut c_void);
    // plan.h
    pub type cog_task_executor_fn = fn(call: *mut cog_task_call, user_data: *mut c_void) -> c_int;
    pub type cog_replan_fn = fn(plan: *mut cog_plan, failed_task_id: *const c_char,
        error: *const c_char, replacement_json: *mut *mut c_char, user_data: *mut c_void) -> c_int;
    // tool.h
    pub type cog_tool_fn = fn(request: *const cog_tool_request, result_json: *mut *mut c_char,
        user_data: *mut c_void) -> c_int;
    pub type cog_approval_fn = fn(request_json: *const c_char,
        edited_arguments_json: *mut *mut c_char, user_data: *mut c_void) -> c_int;
    // agent.h
    pub type cog_critic_fn = fn(task_json: *const c_char, result_json: *const c_char,
        critique: *mut *mut c_char, user_data: *mut c_void) -> c_int;
    // llm.h
    pub type cog_llm_stream_fn = fn(event_json: *const c_char, len: usize, user_data: *mut c_void) -> c_int;
    pub type cog_llm_cancel_fn = fn(user_data: *mut c_void) -> c_int;
    // Members whose C type is written inline (no typedef in C).
    pub type cog_sys_malloc_fn = fn(size: usize, user_data: *mut c_void) -> *mut c_void;
    pub type cog_sys_realloc_fn = fn(ptr: *mut c_void, size: usize, user_data: *mut c_void) -> *mut c_void;
    pub type cog_sys_free_fn = fn(ptr: *mut c_void, user_data: *mut c_void);
    pub type cog_sys_free_user_data_fn = fn(user_data: *mut c_void);
    pub type cog_sys_close_fn = fn(this: *mut c_void);
    pub type cog_sys_llm_chat_fn = fn(this: *mut c_void, request_json: *const c_char,
        call: *mut cog_llm_call, response_json: *mut *mut c_char) -> c_int;
    pub type cog_sys_llm_count_tokens_fn = fn(this: *mut c_void, request_json: *const c_char,
        tokens: *mut u64) -> c_int;
    pub type cog_sys_describe_fn = fn(this: *mut c_void, json: *mut *mut c_char) -> c_int;
}

c_structs! {
    pub struct cog_allocator {
        pub version: c_uint,
        pub malloc: cog_sys_malloc_fn,
        pub realloc: cog_sys_realloc_fn,
        pub free: cog_sys_free_fn,
        pub user_data: *mut c_void,
    }
    pub struct cog_ctx_options {
        pub version: c_uint,
        pub log_level: c_int,
        pub log_fn: cog_log_fn,
        pub log_user_data: *mut c_void,
        pub event_fn: cog_event_fn,
        pub event_user_data: *mut c_void,
        pub worker_threads: c_uint,
        pub http_timeout_ms: c_uint,
    }
    pub struct cog_run_options {
        pub version: c_uint,
        pub workers: c_uint,
        pub failure_policy: c_int,
        pub durability: c_int,
        pub inline_max_tasks: c_uint,
        pub episodic_namespace: *const c_char,
    }
    pub struct cog_tool_request {
        pub version: c_uint,
        pub ctx: *mut cog_ctx,
        pub tool: *const c_char,
        pub arguments: *const c_char,
        pub call_id: *const c_char,
        pub workspace: *const c_char,
        pub allowed_hosts: *const c_char,
        pub timeout_ms: c_uint,
        pub allow_unsandboxed: c_int,
        pub principal: *const c_char,
        pub max_output_bytes: usize,
    }
    pub struct cog_tool_options {
        pub version: c_uint,
        pub name: *const c_char,
        pub description: *const c_char,
        pub input_schema: *const c_char,
        pub output_schema: *const c_char,
        pub flags: c_uint,
        pub timeout_ms: c_uint,
        pub max_output_bytes: usize,
        pub fn_: cog_tool_fn,
        pub user_data: *mut c_void,
        pub free_user_data: cog_sys_free_user_data_fn,
        pub command: *const c_char,
    }
    pub struct cog_tool_call_options {
        pub version: c_uint,
        pub principal: *const c_char,
        pub agent: *const c_char,
        pub allowed_tools: *const c_char,
        pub workspace: *const c_char,
        pub allowed_hosts: *const c_char,
        pub call_id: *const c_char,
        pub timeout_ms: c_uint,
        pub allow_unsandboxed: c_int,
    }
    pub struct cog_memory_options {
        pub version: c_uint,
        pub max_text_bytes: usize,
        pub short_term_ttl_ms: i64,
        pub working_max_tokens: usize,
        pub dedupe_threshold: c_double,
        pub embedder: *const c_char,
        pub hashing_dim: c_uint,
        pub no_redact: c_int,
        /* version 2 */
        pub principal: *const c_char,
    }
    pub struct cog_memory_put_options {
        pub version: c_uint,
        pub layer: c_uint,
        pub importance: c_double,
        pub ttl_ms: i64,
        pub metadata: *const c_char,
        pub vector: *const f32,
        pub dim: usize,
        pub embed_model: *const c_char,
        pub no_dedupe: c_int,
    }
    pub struct cog_agent_run_options {
        pub version: c_uint,
        pub tool_options: *const cog_tool_call_options,
        pub memory_namespace: *const c_char,
        pub run_key: *const c_char,
        pub budget_json: *const c_char,
        pub on_stream: cog_llm_stream_fn,
        pub stream_user_data: *mut c_void,
    }
    pub struct cog_llm_call {
        pub version: c_uint,
        pub on_event: cog_llm_stream_fn,
        pub event_user_data: *mut c_void,
        pub is_canceled: cog_llm_cancel_fn,
        pub cancel_user_data: *mut c_void,
        pub timeout_ms: c_uint,
        pub http_status: c_int,
        pub retry_after_ms: c_uint,
        pub streamed: c_int,
    }
    pub struct cog_llm_vtable {
        pub version: c_uint,
        pub self_: *mut c_void,
        pub close: cog_sys_close_fn,
        pub chat: cog_sys_llm_chat_fn,
        pub embed: cog_sys_llm_chat_fn,
        pub count_tokens: cog_sys_llm_count_tokens_fn,
        pub describe: cog_sys_describe_fn,
    }
    pub struct cog_llm_provider_options {
        pub version: c_uint,
        pub provider: c_int,
        pub base_url: *const c_char,
        pub api_key: *const c_char,
        pub model: *const c_char,
        pub headers: *const *const c_char,
        pub header_count: usize,
        pub timeout_ms: c_uint,
        pub max_response_bytes: usize,
        pub anthropic_version: *const c_char,
        pub default_max_tokens: c_uint,
    }
    pub struct cog_llm_endpoint_options {
        pub version: c_uint,
        pub requests_per_minute: c_double,
        pub tokens_per_minute: c_double,
        pub breaker_failures: c_uint,
        pub breaker_cooldown_ms: c_uint,
    }
    pub struct cog_llm_chat_options {
        pub version: c_uint,
        pub role: *const c_char,
        pub on_event: cog_llm_stream_fn,
        pub event_user_data: *mut c_void,
        pub is_canceled: cog_llm_cancel_fn,
        pub cancel_user_data: *mut c_void,
        pub timeout_ms: c_uint,
        pub cacheable: c_int,
        pub schema_retries: c_int,
    }
}

/// Rust member names that differ from C (keywords of Rust): (struct, Rust, C).
pub const RENAMED_FIELDS: &[(&str, &str, &str)] = &[
    ("cog_tool_options", "fn_", "fn"),
    ("cog_llm_vtable", "self_", "self"),
];

c_functions! {
    // ---- common.h ----
    pub fn cog_strerror(code: c_int) -> *const c_char;
    pub fn cog_error_last() -> *const c_char;
    pub fn cog_error_last_code() -> c_int;
    pub fn cog_error_clear();
    pub fn cog_version() -> *const c_char;
    pub fn cog_version_number() -> c_uint;
    pub fn cog_features() -> c_uint;
    pub fn cog_malloc(size: usize) -> *mut c_void;
    pub fn cog_realloc(ptr: *mut c_void, size: usize) -> *mut c_void;
    pub fn cog_free(ptr: *mut c_void);
    pub fn cog_set_allocator(allocator: *const cog_allocator) -> c_int;
    pub fn cog_global_init() -> c_int;
    pub fn cog_global_shutdown();

    // ---- ctx.h ----
    pub fn cog_ctx_options_init(options: *mut cog_ctx_options, version: c_uint) -> c_int;
    pub fn cog_ctx_options_from_env(options: *mut cog_ctx_options) -> c_int;
    pub fn cog_ctx_new(out: *mut *mut cog_ctx, options: *const cog_ctx_options) -> c_int;
    pub fn cog_ctx_free(ctx: *mut cog_ctx);
    pub fn cog_ctx_set_storage(ctx: *mut cog_ctx, storage: *mut cog_storage) -> c_int;
    pub fn cog_ctx_storage(ctx: *mut cog_ctx) -> *mut cog_storage;
    pub fn cog_ctx_set_transport(ctx: *mut cog_ctx, transport: *mut cog_transport) -> c_int;
    pub fn cog_ctx_transport(ctx: *mut cog_ctx) -> *mut cog_transport;
    pub fn cog_ctx_cancel(ctx: *mut cog_ctx);
    pub fn cog_ctx_is_canceled(ctx: *const cog_ctx) -> c_int;
    pub fn cog_ctx_reset_cancel(ctx: *mut cog_ctx);
    pub fn cog_ctx_log(ctx: *mut cog_ctx, level: c_int, message: *const c_char,
        fields_json: *const c_char) -> c_int;
    pub fn cog_ctx_trace_id(ctx: *const cog_ctx) -> *const c_char;
    pub fn cog_ctx_describe(ctx: *mut cog_ctx, json: *mut *mut c_char) -> c_int;

    // ---- storage.h (what a host needs to give a context its storage) ----
    pub fn cog_storage_memory_new(out: *mut *mut cog_storage) -> c_int;
    pub fn cog_storage_free(storage: *mut cog_storage);

    // ---- plan.h ----
    pub fn cog_task_state_name(state: c_int) -> *const c_char;
    pub fn cog_plan_new(out: *mut *mut cog_plan, ctx: *mut cog_ctx, goal: *const c_char) -> c_int;
    pub fn cog_plan_from_json(out: *mut *mut cog_plan, ctx: *mut cog_ctx, json: *const c_char) -> c_int;
    pub fn cog_plan_free(plan: *mut cog_plan);
    pub fn cog_plan_add_task(plan: *mut cog_plan, task_json: *const c_char) -> c_int;
    pub fn cog_plan_add_dependency(plan: *mut cog_plan, task_id: *const c_char,
        depends_on_id: *const c_char) -> c_int;
    pub fn cog_plan_set_budget(plan: *mut cog_plan, budget_json: *const c_char) -> c_int;
    pub fn cog_plan_id(plan: *const cog_plan) -> *const c_char;
    pub fn cog_plan_goal(plan: *const cog_plan) -> *const c_char;
    pub fn cog_plan_task_count(plan: *const cog_plan) -> usize;
    pub fn cog_plan_validate(plan: *mut cog_plan) -> c_int;
    pub fn cog_plan_analyze(plan: *mut cog_plan, json: *mut *mut c_char) -> c_int;
    pub fn cog_plan_export(plan: *mut cog_plan, format: c_int, text: *mut *mut c_char) -> c_int;
    pub fn cog_ctx_set_task_executor(ctx: *mut cog_ctx, fn_: cog_task_executor_fn,
        user_data: *mut c_void) -> c_int;
    pub fn cog_task_run_tool(call: *mut cog_task_call, user_data: *mut c_void) -> c_int;
    pub fn cog_task_call_plan_id(call: *const cog_task_call) -> *const c_char;
    pub fn cog_task_call_task_id(call: *const cog_task_call) -> *const c_char;
    pub fn cog_task_call_task(call: *mut cog_task_call) -> *const c_char;
    pub fn cog_task_call_dependency_result(call: *mut cog_task_call, task_id: *const c_char)
        -> *const c_char;
    pub fn cog_task_call_attempt(call: *const cog_task_call) -> c_uint;
    pub fn cog_task_call_idempotency_key(call: *const cog_task_call) -> *const c_char;
    pub fn cog_task_call_is_canceled(call: *const cog_task_call) -> c_int;
    pub fn cog_task_call_set_result(call: *mut cog_task_call, json: *const c_char) -> c_int;
    pub fn cog_task_call_result(call: *const cog_task_call) -> *const c_char;
    pub fn cog_run_options_init(options: *mut cog_run_options, version: c_uint) -> c_int;
    pub fn cog_plan_run(plan: *mut cog_plan, options: *const cog_run_options) -> c_int;
    pub fn cog_plan_resume(out: *mut *mut cog_plan, ctx: *mut cog_ctx, plan_id: *const c_char) -> c_int;
    pub fn cog_plan_load(out: *mut *mut cog_plan, ctx: *mut cog_ctx, plan_id: *const c_char) -> c_int;
    pub fn cog_plan_save(plan: *mut cog_plan) -> c_int;
    pub fn cog_plan_decide(plan: *mut cog_plan, task_id: *const c_char, decision: c_int) -> c_int;
    pub fn cog_plan_task_status(plan: *mut cog_plan, task_id: *const c_char,
        json: *mut *mut c_char) -> c_int;
    pub fn cog_plan_status(plan: *mut cog_plan, json: *mut *mut c_char) -> c_int;
    pub fn cog_plan_set_replanner(plan: *mut cog_plan, fn_: cog_replan_fn, user_data: *mut c_void) -> c_int;
    pub fn cog_plan_compact(plan: *mut cog_plan) -> c_int;
    pub fn cog_plan_from_goal(out: *mut *mut cog_plan, ctx: *mut cog_ctx, goal: *const c_char) -> c_int;
    pub fn cog_ctx_add_template_dir(ctx: *mut cog_ctx, path: *const c_char) -> c_int;
    pub fn cog_ctx_list_templates(ctx: *mut cog_ctx, json: *mut *mut c_char) -> c_int;

    // ---- tool.h ----
    pub fn cog_tool_options_init(options: *mut cog_tool_options, version: c_uint) -> c_int;
    pub fn cog_tool_define(ctx: *mut cog_ctx, options: *const cog_tool_options) -> c_int;
    pub fn cog_tool_remove(ctx: *mut cog_ctx, name: *const c_char) -> c_int;
    pub fn cog_tool_list(ctx: *mut cog_ctx, pattern: *const c_char, format: c_int,
        json: *mut *mut c_char) -> c_int;
    pub fn cog_tool_call_options_init(options: *mut cog_tool_call_options, version: c_uint) -> c_int;
    pub fn cog_tool_call(ctx: *mut cog_ctx, name: *const c_char, arguments_json: *const c_char,
        options: *const cog_tool_call_options, result_json: *mut *mut c_char) -> c_int;
    pub fn cog_tool_set_workspace(ctx: *mut cog_ctx, path: *const c_char) -> c_int;
    pub fn cog_tool_grant(ctx: *mut cog_ctx, role: *const c_char, tool_glob: *const c_char) -> c_int;
    pub fn cog_tool_revoke(ctx: *mut cog_ctx, role: *const c_char, tool_glob: *const c_char) -> c_int;
    pub fn cog_tool_set_approval_hook(ctx: *mut cog_ctx, fn_: cog_approval_fn,
        user_data: *mut c_void) -> c_int;
    pub fn cog_tool_approvals(ctx: *mut cog_ctx, json: *mut *mut c_char) -> c_int;
    pub fn cog_tool_approval_decide(ctx: *mut cog_ctx, approval_id: *const c_char, decision: c_int,
        edited_arguments_json: *const c_char) -> c_int;
    pub fn cog_audit_set_key(ctx: *mut cog_ctx, key: *const c_uchar, len: usize) -> c_int;
    pub fn cog_audit_verify(ctx: *mut cog_ctx, report_json: *mut *mut c_char) -> c_int;
    pub fn cog_audit_read(ctx: *mut cog_ctx, from_seq: u64, limit: usize, json: *mut *mut c_char) -> c_int;
    pub fn cog_tool_define_builtins(ctx: *mut cog_ctx, pattern: *const c_char) -> c_int;
    pub fn cog_sandbox_probe(json: *mut *mut c_char) -> c_int;

    // ---- memory.h ----
    pub fn cog_memory_options_init(options: *mut cog_memory_options, version: c_uint) -> c_int;
    pub fn cog_memory_open(out: *mut *mut cog_memory, ctx: *mut cog_ctx, ns: *const c_char) -> c_int;
    pub fn cog_memory_open_with(out: *mut *mut cog_memory, ctx: *mut cog_ctx, ns: *const c_char,
        options: *const cog_memory_options) -> c_int;
    pub fn cog_memory_free(mem: *mut cog_memory);
    pub fn cog_memory_namespace(mem: *const cog_memory) -> *const c_char;
    pub fn cog_memory_put_options_init(options: *mut cog_memory_put_options, version: c_uint) -> c_int;
    pub fn cog_memory_put(mem: *mut cog_memory, text: *const c_char,
        options: *const cog_memory_put_options, id: *mut u64) -> c_int;
    pub fn cog_memory_put_json(mem: *mut cog_memory, item_json: *const c_char, id: *mut u64) -> c_int;
    pub fn cog_memory_get(mem: *mut cog_memory, id: u64, json: *mut *mut c_char) -> c_int;
    pub fn cog_memory_forget(mem: *mut cog_memory, id: u64) -> c_int;
    pub fn cog_memory_forget_where(mem: *mut cog_memory, filter_json: *const c_char,
        count: *mut usize) -> c_int;
    pub fn cog_memory_search(mem: *mut cog_memory, query_json: *const c_char,
        result_json: *mut *mut c_char) -> c_int;
    pub fn cog_memory_record_episode(mem: *mut cog_memory, event_json: *const c_char,
        id: *mut u64) -> c_int;
    pub fn cog_memory_context(mem: *mut cog_memory, request_json: *const c_char,
        result_json: *mut *mut c_char) -> c_int;
    pub fn cog_memory_estimate_tokens(mem: *mut cog_memory, text: *const c_char,
        tokens: *mut usize) -> c_int;
    pub fn cog_memory_calibrate(mem: *mut cog_memory, request_json: *const c_char,
        input_tokens: u64) -> c_int;
    pub fn cog_memory_purge(mem: *mut cog_memory, purged: *mut usize) -> c_int;
    pub fn cog_memory_stats(mem: *mut cog_memory, json: *mut *mut c_char) -> c_int;
    pub fn cog_redact_configure(ctx: *mut cog_ctx, config_json: *const c_char) -> c_int;
    pub fn cog_redact(ctx: *mut cog_ctx, text: *const c_char, out: *mut *mut c_char,
        count: *mut usize) -> c_int;
    pub fn cog_redact_stats(ctx: *mut cog_ctx, json: *mut *mut c_char) -> c_int;

    // ---- agent.h ----
    pub fn cog_agent_state_name(state: c_int) -> *const c_char;
    pub fn cog_agent_define(ctx: *mut cog_ctx, definition_json: *const c_char) -> c_int;
    pub fn cog_agent_remove(ctx: *mut cog_ctx, name: *const c_char) -> c_int;
    pub fn cog_agent_definitions(ctx: *mut cog_ctx, json: *mut *mut c_char) -> c_int;
    pub fn cog_agent_match(ctx: *mut cog_ctx, capabilities_json: *const c_char,
        name: *mut *mut c_char) -> c_int;
    pub fn cog_agent_spawn(out: *mut *mut cog_agent, ctx: *mut cog_ctx, name: *const c_char) -> c_int;
    pub fn cog_agent_free(agent: *mut cog_agent);
    pub fn cog_agent_id(agent: *const cog_agent) -> *const c_char;
    pub fn cog_agent_name(agent: *const cog_agent) -> *const c_char;
    pub fn cog_agent_get_state(agent: *const cog_agent) -> c_int;
    pub fn cog_agent_terminate(ctx: *mut cog_ctx, agent_id: *const c_char) -> c_int;
    pub fn cog_agent_list(ctx: *mut cog_ctx, json: *mut *mut c_char) -> c_int;
    pub fn cog_agent_run_options_init(options: *mut cog_agent_run_options, version: c_uint) -> c_int;
    pub fn cog_agent_run(agent: *mut cog_agent, task_json: *const c_char,
        options: *const cog_agent_run_options, result_json: *mut *mut c_char) -> c_int;
    pub fn cog_task_run_agent(call: *mut cog_task_call, user_data: *mut c_void) -> c_int;
    pub fn cog_ctx_set_budget(ctx: *mut cog_ctx, budget_json: *const c_char) -> c_int;
    pub fn cog_budget_report(ctx: *mut cog_ctx, plan_id: *const c_char, json: *mut *mut c_char) -> c_int;
    pub fn cog_agent_set_critic(ctx: *mut cog_ctx, fn_: cog_critic_fn, user_data: *mut c_void) -> c_int;

    // ---- llm.h ----
    pub fn cog_llm_vtable_init(vtable: *mut cog_llm_vtable, version: c_uint) -> c_int;
    pub fn cog_llm_call_init(call: *mut cog_llm_call, version: c_uint) -> c_int;
    pub fn cog_llm_new(out: *mut *mut cog_llm, vtable: *const cog_llm_vtable) -> c_int;
    pub fn cog_llm_free(llm: *mut cog_llm);
    pub fn cog_llm_backend_chat(llm: *mut cog_llm, request_json: *const c_char,
        call: *mut cog_llm_call, response_json: *mut *mut c_char) -> c_int;
    pub fn cog_llm_backend_embed(llm: *mut cog_llm, request_json: *const c_char,
        call: *mut cog_llm_call, response_json: *mut *mut c_char) -> c_int;
    pub fn cog_llm_count_tokens(llm: *mut cog_llm, request_json: *const c_char, tokens: *mut u64) -> c_int;
    pub fn cog_llm_describe(llm: *mut cog_llm, json: *mut *mut c_char) -> c_int;
    pub fn cog_llm_provider_options_init(options: *mut cog_llm_provider_options, version: c_uint) -> c_int;
    pub fn cog_llm_provider_options_from_env(options: *mut cog_llm_provider_options) -> c_int;
    pub fn cog_llm_provider_new(out: *mut *mut cog_llm, ctx: *mut cog_ctx,
        options: *const cog_llm_provider_options) -> c_int;
    pub fn cog_llm_recorder_new(out: *mut *mut cog_llm, inner: *mut cog_llm, path: *const c_char) -> c_int;
    pub fn cog_llm_replay_new(out: *mut *mut cog_llm, path: *const c_char) -> c_int;
    pub fn cog_llm_endpoint_options_init(options: *mut cog_llm_endpoint_options, version: c_uint) -> c_int;
    pub fn cog_llm_add_endpoint(ctx: *mut cog_ctx, name: *const c_char, llm: *mut cog_llm,
        options: *const cog_llm_endpoint_options) -> c_int;
    pub fn cog_llm_configure(ctx: *mut cog_ctx, config_json: *const c_char) -> c_int;
    pub fn cog_llm_available(ctx: *mut cog_ctx) -> c_int;
    pub fn cog_llm_chat_options_init(options: *mut cog_llm_chat_options, version: c_uint) -> c_int;
    pub fn cog_llm_chat(ctx: *mut cog_ctx, request_json: *const c_char,
        options: *const cog_llm_chat_options, response_json: *mut *mut c_char) -> c_int;
    pub fn cog_llm_embed(ctx: *mut cog_ctx, role: *const c_char, request_json: *const c_char,
        response_json: *mut *mut c_char) -> c_int;
    pub fn cog_llm_stats(ctx: *mut cog_ctx, json: *mut *mut c_char) -> c_int;
}

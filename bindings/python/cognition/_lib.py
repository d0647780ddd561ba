"""Loading libcognition and declaring its C functions (ctypes only).

Where the library comes from, first match wins:
  1. $COGNITION_LIBRARY: a path to libcognition.so (or its versioned name);
  2. a build tree: $COGNITION_BUILD_DIR/lib, then the build*/lib folders
     next to the source checkout this package sits in
     (bindings/python/cognition), the most recently built library first;
  3. the installed library: ctypes.util.find_library("cognition"), then the
     sonames libcognition.so.1 and libcognition.so.0.
A candidate must export every function declared below: one that lacks any
is skipped (the next is tried), and if it was named by $COGNITION_LIBRARY,
or no candidate is complete, LibraryNotFound names the missing functions.
The SQLite storage (libcognition-sqlite) is loaded on first use from
$COGNITION_SQLITE_LIBRARY, else next to the main library (also in the build
tree's lib/backends/sqlite), else the installed one.
"""
import ctypes
import ctypes.util
import glob
import json
import os
import threading

from ctypes import (CFUNCTYPE, POINTER, Structure, c_char_p, c_double,
                    c_float, c_int, c_int64, c_size_t, c_uint, c_uint64,
                    c_void_p)

_SONAMES = ("libcognition.so.1", "libcognition.so.0", "libcognition.so")
_SQLITE_SONAMES = ("libcognition-sqlite.so.1", "libcognition-sqlite.so.0",
                   "libcognition-sqlite.so")


class LibraryNotFound(OSError):
    """libcognition (or libcognition-sqlite) could not be loaded."""


def _checkout_root():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.normpath(os.path.join(here, "..", "..", ".."))
    if os.path.isfile(os.path.join(root, "include", "cognition", "common.h")):
        return root
    return None


def _build_tree_candidates():
    dirs = []
    env = os.environ.get("COGNITION_BUILD_DIR")
    if env:
        dirs.append(env)
    root = _checkout_root()
    if root:
        # The most recently built library first (not the alphabetically
        # first folder, which may hold a stale build).
        found = []
        for d in glob.glob(os.path.join(root, "build*")):
            so = os.path.join(d, "lib", "libcognition.so")
            try:
                found.append((os.stat(so).st_mtime, d))
            except OSError:
                continue
        dirs.extend(d for _, d in sorted(found, key=lambda t: -t[0]))
    out = []
    for d in dirs:
        if _sanitized_build(d) and "asan" not in os.environ.get("LD_PRELOAD", ""):
            # Loading an ASan library into an interpreter started without
            # the runtime preloaded aborts the process: not a candidate.
            continue
        out.append(os.path.join(d, "lib", "libcognition.so"))
    return out


def _sanitized_build(build_dir):
    info = os.path.join(build_dir, "meson-info", "intro-buildoptions.json")
    try:
        with open(info, encoding="utf-8") as f:
            options = json.load(f)
    except (OSError, ValueError):
        return False
    for opt in options:
        if opt.get("name") == "b_sanitize":
            return opt.get("value") not in (None, "none", [])
    return False


def _missing(cdll, prototypes=None):
    """The declared functions (_PROTOTYPES) that cdll does not export."""
    if prototypes is None:
        prototypes = _PROTOTYPES
    return [name for name in prototypes if not hasattr(cdll, name)]


def _incomplete(where, missing):
    shown = ", ".join(missing[:8])
    if len(missing) > 8:
        shown += ", ... (%d in all)" % len(missing)
    return "%s lacks %s" % (where, shown)


def _load_main():
    env = os.environ.get("COGNITION_LIBRARY")
    if env:
        try:
            probe = ctypes.CDLL(env, mode=ctypes.RTLD_LOCAL)
        except OSError as e:
            raise LibraryNotFound(
                "COGNITION_LIBRARY=%s cannot be loaded: %s" % (env, e)) from e
        missing = _missing(probe)
        if missing:
            raise LibraryNotFound(
                "COGNITION_LIBRARY=%s is not a usable libcognition: %s"
                % (env, _incomplete("it", missing)))
        return ctypes.CDLL(env, mode=ctypes.RTLD_GLOBAL), env
    tried = []
    names = [p for p in _build_tree_candidates() if os.path.exists(p)]
    found = ctypes.util.find_library("cognition")
    if found:
        names.append(found)
    names.extend(_SONAMES)
    for name in names:
        # Probed without RTLD_GLOBAL so that a rejected library does not
        # lend its symbols to the one finally loaded.
        try:
            probe = ctypes.CDLL(name, mode=ctypes.RTLD_LOCAL)
        except OSError as e:
            tried.append("%s (%s)" % (name, e))
            continue
        missing = _missing(probe)
        if missing:
            tried.append(_incomplete(name, missing))
            continue
        return ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL), name
    raise LibraryNotFound(
        "no usable libcognition found: install it (meson install), or set "
        "COGNITION_LIBRARY to the path of libcognition.so; tried: "
        + "; ".join(tried or ["nothing"]))


# ---- structures (members exactly as in include/cognition/*.h) ----

LOG_FN = CFUNCTYPE(None, c_int, c_char_p, c_void_p)
EVENT_FN = CFUNCTYPE(None, c_char_p, c_void_p)
SPAN_FN = CFUNCTYPE(None, c_char_p, c_void_p)


class CtxOptions(Structure):
    _fields_ = [("version", c_uint), ("log_level", c_int),
                ("log_fn", LOG_FN), ("log_user_data", c_void_p),
                ("event_fn", EVENT_FN), ("event_user_data", c_void_p),
                ("worker_threads", c_uint), ("http_timeout_ms", c_uint)]


class ToolRequest(Structure):
    _fields_ = [("version", c_uint), ("ctx", c_void_p), ("tool", c_char_p),
                ("arguments", c_char_p), ("call_id", c_char_p),
                ("workspace", c_char_p), ("allowed_hosts", c_char_p),
                ("timeout_ms", c_uint), ("allow_unsandboxed", c_int),
                ("principal", c_char_p), ("max_output_bytes", c_size_t)]


TOOL_FN = CFUNCTYPE(c_int, POINTER(ToolRequest), POINTER(c_void_p), c_void_p)
FREE_FN = CFUNCTYPE(None, c_void_p)


class ToolOptions(Structure):
    _fields_ = [("version", c_uint), ("name", c_char_p),
                ("description", c_char_p), ("input_schema", c_char_p),
                ("output_schema", c_char_p), ("flags", c_uint),
                ("timeout_ms", c_uint), ("max_output_bytes", c_size_t),
                ("fn", TOOL_FN), ("user_data", c_void_p),
                ("free_user_data", FREE_FN), ("command", c_char_p)]


class ToolCallOptions(Structure):
    _fields_ = [("version", c_uint), ("principal", c_char_p),
                ("agent", c_char_p), ("allowed_tools", c_char_p),
                ("workspace", c_char_p), ("allowed_hosts", c_char_p),
                ("call_id", c_char_p), ("timeout_ms", c_uint),
                ("allow_unsandboxed", c_int)]


class RunOptions(Structure):
    _fields_ = [("version", c_uint), ("workers", c_uint),
                ("failure_policy", c_int), ("durability", c_int),
                ("inline_max_tasks", c_uint),
                ("episodic_namespace", c_char_p)]


TASK_EXECUTOR_FN = CFUNCTYPE(c_int, c_void_p, c_void_p)


class MemoryOptions(Structure):
    _fields_ = [("version", c_uint), ("max_text_bytes", c_size_t),
                ("short_term_ttl_ms", c_int64),
                ("working_max_tokens", c_size_t),
                ("dedupe_threshold", c_double), ("embedder", c_char_p),
                ("hashing_dim", c_uint), ("no_redact", c_int),
                ("principal", c_char_p)]                   # version 2


STREAM_FN = CFUNCTYPE(c_int, c_char_p, c_size_t, c_void_p)


class AgentRunOptions(Structure):
    _fields_ = [("version", c_uint),
                ("tool_options", POINTER(ToolCallOptions)),
                ("memory_namespace", c_char_p), ("run_key", c_char_p),
                ("budget_json", c_char_p), ("on_stream", STREAM_FN),
                ("stream_user_data", c_void_p)]


LLM_CHAT_FN = CFUNCTYPE(c_int, c_void_p, c_char_p, c_void_p, POINTER(c_void_p))
LLM_CLOSE_FN = CFUNCTYPE(None, c_void_p)
LLM_COUNT_FN = CFUNCTYPE(c_int, c_void_p, c_char_p, POINTER(c_uint64))
LLM_DESCRIBE_FN = CFUNCTYPE(c_int, c_void_p, POINTER(c_void_p))


class LlmVtable(Structure):
    _fields_ = [("version", c_uint), ("self", c_void_p),
                ("close", LLM_CLOSE_FN), ("chat", LLM_CHAT_FN),
                ("embed", LLM_CHAT_FN), ("count_tokens", LLM_COUNT_FN),
                ("describe", LLM_DESCRIBE_FN)]


class SqliteOptions(Structure):
    _fields_ = [("version", c_uint), ("durability", c_int),
                ("busy_timeout_ms", c_uint), ("read_only", c_int),
                ("create", c_int)]


CRITIC_FN = CFUNCTYPE(c_int, c_char_p, c_char_p, POINTER(c_void_p), c_void_p)

_OUT = POINTER(c_void_p)  # char ** out-parameters: freed with cog_free
_P = c_void_p             # opaque handles

# name: (restype, [argtypes])
_PROTOTYPES = {
    # common.h
    "cog_strerror": (c_char_p, [c_int]),
    "cog_error_last": (c_char_p, []),
    "cog_error_last_code": (c_int, []),
    "cog_error_clear": (None, []),
    "cog_version": (c_char_p, []),
    "cog_version_number": (c_uint, []),
    "cog_features": (c_uint, []),
    "cog_malloc": (c_void_p, [c_size_t]),
    "cog_free": (None, [c_void_p]),
    # ctx.h
    "cog_ctx_options_init": (c_int, [POINTER(CtxOptions), c_uint]),
    "cog_ctx_options_from_env": (c_int, [POINTER(CtxOptions)]),
    "cog_ctx_new": (c_int, [POINTER(_P), POINTER(CtxOptions)]),
    "cog_ctx_free": (None, [_P]),
    "cog_ctx_set_storage": (c_int, [_P, _P]),
    "cog_ctx_cancel": (None, [_P]),
    "cog_ctx_is_canceled": (c_int, [_P]),
    "cog_ctx_reset_cancel": (None, [_P]),
    "cog_ctx_log": (c_int, [_P, c_int, c_char_p, c_char_p]),
    "cog_ctx_trace_id": (c_char_p, [_P]),
    "cog_ctx_describe": (c_int, [_P, _OUT]),
    "cog_storage_memory_new": (c_int, [POINTER(_P)]),
    # trace.h
    "cog_ctx_set_span_hook": (c_int, [_P, SPAN_FN, c_void_p]),
    "cog_ctx_metrics": (c_int, [_P, _OUT]),
    "cog_trace_read": (c_int, [_P, c_char_p, _OUT]),
    # tool.h
    "cog_tool_options_init": (c_int, [POINTER(ToolOptions), c_uint]),
    "cog_tool_define": (c_int, [_P, POINTER(ToolOptions)]),
    "cog_tool_remove": (c_int, [_P, c_char_p]),
    "cog_tool_list": (c_int, [_P, c_char_p, c_int, _OUT]),
    "cog_tool_call_options_init": (c_int, [POINTER(ToolCallOptions), c_uint]),
    "cog_tool_call": (c_int, [_P, c_char_p, c_char_p,
                              POINTER(ToolCallOptions), _OUT]),
    "cog_tool_set_workspace": (c_int, [_P, c_char_p]),
    "cog_tool_grant": (c_int, [_P, c_char_p, c_char_p]),
    "cog_tool_revoke": (c_int, [_P, c_char_p, c_char_p]),
    "cog_tool_define_builtins": (c_int, [_P, c_char_p]),
    "cog_audit_verify": (c_int, [_P, _OUT]),
    "cog_audit_read": (c_int, [_P, c_uint64, c_size_t, _OUT]),
    # plan.h
    "cog_task_state_name": (c_char_p, [c_int]),
    "cog_plan_new": (c_int, [POINTER(_P), _P, c_char_p]),
    "cog_plan_from_json": (c_int, [POINTER(_P), _P, c_char_p]),
    "cog_plan_from_goal": (c_int, [POINTER(_P), _P, c_char_p]),
    "cog_plan_resume": (c_int, [POINTER(_P), _P, c_char_p]),
    "cog_plan_load": (c_int, [POINTER(_P), _P, c_char_p]),
    "cog_plan_free": (None, [_P]),
    "cog_plan_add_task": (c_int, [_P, c_char_p]),
    "cog_plan_add_dependency": (c_int, [_P, c_char_p, c_char_p]),
    "cog_plan_set_budget": (c_int, [_P, c_char_p]),
    "cog_plan_id": (c_char_p, [_P]),
    "cog_plan_goal": (c_char_p, [_P]),
    "cog_plan_task_count": (c_size_t, [_P]),
    "cog_plan_validate": (c_int, [_P]),
    "cog_plan_analyze": (c_int, [_P, _OUT]),
    "cog_plan_export": (c_int, [_P, c_int, _OUT]),
    "cog_plan_save": (c_int, [_P]),
    "cog_plan_decide": (c_int, [_P, c_char_p, c_int]),
    "cog_plan_task_status": (c_int, [_P, c_char_p, _OUT]),
    "cog_plan_status": (c_int, [_P, _OUT]),
    "cog_plan_compact": (c_int, [_P]),
    "cog_run_options_init": (c_int, [POINTER(RunOptions), c_uint]),
    "cog_plan_run": (c_int, [_P, POINTER(RunOptions)]),
    "cog_ctx_set_task_executor": (c_int, [_P, TASK_EXECUTOR_FN, c_void_p]),
    "cog_ctx_add_template_dir": (c_int, [_P, c_char_p]),
    "cog_ctx_list_templates": (c_int, [_P, _OUT]),
    "cog_task_run_tool": (c_int, [_P, c_void_p]),
    "cog_task_call_plan_id": (c_char_p, [_P]),
    "cog_task_call_task_id": (c_char_p, [_P]),
    "cog_task_call_task": (c_char_p, [_P]),
    "cog_task_call_dependency_result": (c_char_p, [_P, c_char_p]),
    "cog_task_call_attempt": (c_uint, [_P]),
    "cog_task_call_idempotency_key": (c_char_p, [_P]),
    "cog_task_call_is_canceled": (c_int, [_P]),
    "cog_task_call_set_result": (c_int, [_P, c_char_p]),
    "cog_task_call_result": (c_char_p, [_P]),
    # memory.h
    "cog_memory_options_init": (c_int, [POINTER(MemoryOptions), c_uint]),
    "cog_memory_open_with": (c_int, [POINTER(_P), _P, c_char_p,
                                     POINTER(MemoryOptions)]),
    "cog_memory_free": (None, [_P]),
    "cog_memory_namespace": (c_char_p, [_P]),
    "cog_memory_put_json": (c_int, [_P, c_char_p, POINTER(c_uint64)]),
    "cog_memory_get": (c_int, [_P, c_uint64, _OUT]),
    "cog_memory_forget": (c_int, [_P, c_uint64]),
    "cog_memory_forget_where": (c_int, [_P, c_char_p, POINTER(c_size_t)]),
    "cog_memory_search": (c_int, [_P, c_char_p, _OUT]),
    "cog_memory_record_episode": (c_int, [_P, c_char_p, POINTER(c_uint64)]),
    "cog_memory_context": (c_int, [_P, c_char_p, _OUT]),
    "cog_memory_estimate_tokens": (c_int, [_P, c_char_p, POINTER(c_size_t)]),
    "cog_memory_purge": (c_int, [_P, POINTER(c_size_t)]),
    "cog_memory_stats": (c_int, [_P, _OUT]),
    "cog_redact": (c_int, [_P, c_char_p, _OUT, POINTER(c_size_t)]),
    "cog_redact_configure": (c_int, [_P, c_char_p]),
    # agent.h
    "cog_agent_state_name": (c_char_p, [c_int]),
    "cog_agent_define": (c_int, [_P, c_char_p]),
    "cog_agent_remove": (c_int, [_P, c_char_p]),
    "cog_agent_definitions": (c_int, [_P, _OUT]),
    "cog_agent_match": (c_int, [_P, c_char_p, _OUT]),
    "cog_agent_spawn": (c_int, [POINTER(_P), _P, c_char_p]),
    "cog_agent_free": (None, [_P]),
    "cog_agent_id": (c_char_p, [_P]),
    "cog_agent_name": (c_char_p, [_P]),
    "cog_agent_get_state": (c_int, [_P]),
    "cog_agent_terminate": (c_int, [_P, c_char_p]),
    "cog_agent_list": (c_int, [_P, _OUT]),
    "cog_agent_run_options_init": (c_int, [POINTER(AgentRunOptions), c_uint]),
    "cog_agent_run": (c_int, [_P, c_char_p, POINTER(AgentRunOptions), _OUT]),
    "cog_task_run_agent": (c_int, [_P, c_void_p]),
    "cog_ctx_set_budget": (c_int, [_P, c_char_p]),
    "cog_budget_report": (c_int, [_P, c_char_p, _OUT]),
    "cog_agent_set_critic": (c_int, [_P, CRITIC_FN, c_void_p]),
    # llm.h
    "cog_llm_vtable_init": (c_int, [POINTER(LlmVtable), c_uint]),
    "cog_llm_new": (c_int, [POINTER(_P), POINTER(LlmVtable)]),
    "cog_llm_free": (None, [_P]),
    "cog_llm_add_endpoint": (c_int, [_P, c_char_p, _P, c_void_p]),
    "cog_llm_configure": (c_int, [_P, c_char_p]),
    "cog_llm_available": (c_int, [_P]),
    "cog_llm_chat": (c_int, [_P, c_char_p, c_void_p, _OUT]),
    "cog_llm_stats": (c_int, [_P, _OUT]),
}

# cog_error_set is variadic: declared with only its format, which the
# binding always passes with every '%' doubled (see errors.set_error).
_PROTOTYPES["cog_error_set"] = (c_int, [c_int, c_char_p])

_SQLITE_PROTOTYPES = {
    "cog_sqlite_options_init": (c_int, [POINTER(SqliteOptions), c_uint]),
    "cog_sqlite_storage_open": (c_int, [POINTER(_P), c_char_p,
                                        POINTER(SqliteOptions)]),
    "cog_sqlite_define_sql_tool": (c_int, [_P, c_uint]),
}


def _declare(cdll, prototypes):
    for name, (restype, argtypes) in prototypes.items():
        fn = getattr(cdll, name)  # checked by _missing before
        fn.restype = restype
        fn.argtypes = argtypes


lib, path = _load_main()
_declare(lib, _PROTOTYPES)

_sqlite = None
_sqlite_lock = threading.Lock()


def _sqlite_candidates():
    env = os.environ.get("COGNITION_SQLITE_LIBRARY")
    if env:
        return [env]
    out = []
    here = os.path.dirname(os.path.abspath(path)) if os.sep in path else None
    if here:
        for name in ("libcognition-sqlite.so",) + _SQLITE_SONAMES:
            out.append(os.path.join(here, name))
            out.append(os.path.join(here, "backends", "sqlite", name))
    found = ctypes.util.find_library("cognition-sqlite")
    if found:
        out.append(found)
    out.extend(_SQLITE_SONAMES)
    return out


def sqlite():
    """libcognition-sqlite, loaded on first use."""
    global _sqlite
    with _sqlite_lock:
        if _sqlite is not None:
            return _sqlite
        tried = []
        env = os.environ.get("COGNITION_SQLITE_LIBRARY")
        for cand in _sqlite_candidates():
            if os.sep in cand and not os.path.exists(cand) and not env:
                continue
            try:
                cdll = ctypes.CDLL(cand)
            except OSError as e:
                tried.append("%s (%s)" % (cand, e))
                if env:
                    break
                continue
            missing = _missing(cdll, _SQLITE_PROTOTYPES)
            if missing:
                tried.append(_incomplete(cand, missing))
                if env:
                    break
                continue
            _declare(cdll, _SQLITE_PROTOTYPES)
            _sqlite = cdll
            return cdll
        raise LibraryNotFound(
            "libcognition-sqlite not found (set COGNITION_SQLITE_LIBRARY); "
            "tried: " + "; ".join(tried or ["nothing"]))


__all__ = ["lib", "path", "sqlite", "LibraryNotFound", "c_float"]

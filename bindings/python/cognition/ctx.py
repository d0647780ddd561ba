"""The context: backends, hooks, tools, Python LLMs and task executors."""
import ctypes
import itertools
import json
import threading
import weakref

from . import _lib
from . import errors
from ._lib import lib
from ._util import (OutString, call_json, call_text, callback_failed,
                    give_string, parse, report_unraisable, text, to_bytes,
                    to_json_bytes)

LOG_TRACE, LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF = range(6)
_LOG_LEVELS = {"trace": 0, "debug": 1, "info": 2, "warn": 3, "warning": 3,
               "error": 4, "off": 5}

# Tool flags (cog_tool_options.flags)
TOOL_IDEMPOTENT = 0x1
TOOL_SIDE_EFFECTS = 0x2
TOOL_NEEDS_APPROVAL = 0x4
TOOL_NEEDS_NETWORK = 0x8


def _level(value):
    if isinstance(value, str):
        try:
            return _LOG_LEVELS[value.lower()]
        except KeyError:
            raise ValueError("unknown log level %r (trace, debug, info, warn,"
                             " error, off)" % value) from None
    return int(value)


def _parse_or_text(raw):
    s = text(raw)
    try:
        return json.loads(s)
    except (TypeError, ValueError):
        return s


def tool_call_options(principal=None, agent=None, allowed_tools=None,
                      workspace=None, allowed_hosts=None, call_id=None,
                      timeout_ms=0, allow_unsandboxed=False):
    """A cog_tool_call_options (or None when every member is default)."""
    if (principal is None and agent is None and allowed_tools is None
            and workspace is None and allowed_hosts is None
            and call_id is None and not timeout_ms and not allow_unsandboxed):
        return None
    opts = _lib.ToolCallOptions()
    errors.check(lib.cog_tool_call_options_init(ctypes.byref(opts), 1))
    opts.principal = to_json_bytes(principal)
    opts.agent = to_bytes(agent)
    opts.allowed_tools = to_json_bytes(allowed_tools)
    opts.workspace = to_bytes(workspace)
    opts.allowed_hosts = to_json_bytes(allowed_hosts)
    opts.call_id = to_bytes(call_id)
    opts.timeout_ms = int(timeout_ms)
    opts.allow_unsandboxed = 1 if allow_unsandboxed else 0
    return opts


class ToolRequest:
    """What a Python tool sees of one call besides its arguments."""

    def __init__(self, req):
        self.tool = text(req.tool)
        self.call_id = text(req.call_id)
        self.workspace = text(req.workspace)
        self.allowed_hosts = parse(text(req.allowed_hosts))
        self.timeout_ms = req.timeout_ms
        self.principal = parse(text(req.principal))
        self.max_output_bytes = req.max_output_bytes
        self._ctx = req.ctx

    def is_canceled(self):
        return bool(lib.cog_ctx_is_canceled(self._ctx))


class Tool:
    """A tool defined on a context (by this binding or otherwise)."""

    def __init__(self, ctx, name):
        self.ctx = ctx
        self.name = name

    def call(self, arguments=None, **options):
        return self.ctx.call_tool(self.name, arguments, **options)

    __call__ = call

    def remove(self):
        self.ctx.remove_tool(self.name)

    def __repr__(self):
        return "<cognition.Tool %r>" % self.name


class TaskCall:
    """One attempt of one task, handed to a Python task executor; valid only
    during that call."""

    def __init__(self, handle):
        self._h = handle

    def _handle(self):
        if self._h is None:
            raise errors.CognitionError(
                errors.EINVAL, "TaskCall used after its executor returned")
        return self._h

    @property
    def plan_id(self):
        return text(lib.cog_task_call_plan_id(self._handle()))

    @property
    def task_id(self):
        return text(lib.cog_task_call_task_id(self._handle()))

    @property
    def task(self):
        return parse(text(lib.cog_task_call_task(self._handle())))

    @property
    def attempt(self):
        return lib.cog_task_call_attempt(self._handle())

    @property
    def idempotency_key(self):
        return text(lib.cog_task_call_idempotency_key(self._handle()))

    def is_canceled(self):
        return bool(lib.cog_task_call_is_canceled(self._handle()))

    def dependency_result(self, task_id):
        raw = lib.cog_task_call_dependency_result(self._handle(),
                                                  to_bytes(task_id))
        if raw is None:
            raise KeyError(task_id)
        return parse(text(raw))

    def set_result(self, value):
        errors.check(lib.cog_task_call_set_result(self._handle(),
                                                  to_json_bytes(value)))

    def run_tool(self, **call_options):
        """Run this "tool" task the library's way (cog_task_run_tool) and
        return its result."""
        opts = tool_call_options(**call_options)
        status = lib.cog_task_run_tool(
            self._handle(),
            ctypes.cast(ctypes.pointer(opts), ctypes.c_void_p)
            if opts is not None else None)
        if status < 0:
            raise errors.last_error(status)
        return parse(text(lib.cog_task_call_result(self._handle())))

    def run_agent(self):
        """Run this task through the agent executor (cog_task_run_agent)."""
        status = lib.cog_task_run_agent(self._handle(), None)
        if status < 0:
            raise errors.last_error(status)
        return parse(text(lib.cog_task_call_result(self._handle())))


class Ctx:
    """A libcognition context (cog_ctx).

    Ctx(storage=None, log=None, log_level="info", events=None,
        worker_threads=0, http_timeout_ms=0, from_env=False)

    storage: None (the library's defaults: an in-memory store where one is
    needed), "memory" (an explicit in-memory storage), or a path of an SQLite
    database (libcognition-sqlite; ":memory:" for a private one).
    log: a callable(level, record) receiving each log record (a dict).
    events: a callable(event) receiving each event (a dict).
    Both hooks may be called from the library's worker threads; an
    exception they raise is reported (sys.unraisablehook) and ignored.
    """

    def __init__(self, storage=None, log=None, log_level="info", events=None,
                 worker_threads=0, http_timeout_ms=0, from_env=False):
        self._h = None
        self._keep = []            # callbacks C may call: alive until close
        # Tool runners, by the id passed as their user_data: released when
        # the library frees the tool (free_user_data: after cog_tool_remove
        # and the last call in flight, or when the context is freed).
        self._tools = {}
        self._tool_ids = itertools.count(1)
        self._free_tool = None
        self._children = weakref.WeakSet()
        self._lock = threading.Lock()
        opts = _lib.CtxOptions()
        errors.check(lib.cog_ctx_options_init(ctypes.byref(opts), 1))
        opts.log_level = _level(log_level)
        opts.worker_threads = int(worker_threads)
        opts.http_timeout_ms = int(http_timeout_ms)
        if log is not None:
            opts.log_fn = self._keep_cb(_lib.LOG_FN(self._log_trampoline(log)))
        if events is not None:
            opts.event_fn = self._keep_cb(
                _lib.EVENT_FN(self._event_trampoline(events)))
        if from_env:
            errors.check(lib.cog_ctx_options_from_env(ctypes.byref(opts)))
        handle = ctypes.c_void_p()
        errors.check(lib.cog_ctx_new(ctypes.byref(handle), ctypes.byref(opts)))
        self._h = handle
        if storage is not None:
            try:
                self.set_storage(storage)
            except BaseException:
                self.close()
                raise

    # ---- lifetime ----

    def _keep_cb(self, cb):
        self._keep.append(cb)
        return cb

    def _adopt(self, child):
        self._children.add(child)

    @property
    def handle(self):
        if self._h is None:
            raise errors.CognitionError(errors.EINVAL, "the context is closed")
        return self._h

    @property
    def closed(self):
        return self._h is None

    def close(self):
        """Free the context, after the plans, memories and agents made from
        it that are still open. Idempotent."""
        if self._h is None:
            return
        for child in list(self._children):
            child.close()
        lib.cog_ctx_free(self._h)
        self._h = None
        self._keep = []
        self._tools.clear()
        self._free_tool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    # ---- hooks ----

    @staticmethod
    def _log_trampoline(fn):
        def run(level, line, _user):
            try:
                fn(level, _parse_or_text(line))
            except BaseException as exc:  # never into C
                report_unraisable(exc, "log hook")
        return run

    @staticmethod
    def _event_trampoline(fn):
        def run(event, _user):
            try:
                fn(_parse_or_text(event))
            except BaseException as exc:
                report_unraisable(exc, "event hook")
        return run

    def set_span_hook(self, fn):
        """fn(span) for each finished span (a dict); None removes it."""
        if fn is None:
            errors.check(lib.cog_ctx_set_span_hook(self.handle,
                                                   _lib.SPAN_FN(), None))
            return

        def run(span, _user):
            try:
                fn(_parse_or_text(span))
            except BaseException as exc:
                report_unraisable(exc, "span hook")
        cb = self._keep_cb(_lib.SPAN_FN(run))
        errors.check(lib.cog_ctx_set_span_hook(self.handle, cb, None))

    # ---- backends ----

    def set_storage(self, storage, durability="full", read_only=False,
                    busy_timeout_ms=0):
        """Attach a storage: "memory", or an SQLite database path."""
        store = ctypes.c_void_p()
        if storage == "memory":
            errors.check(lib.cog_storage_memory_new(ctypes.byref(store)))
        else:
            sq = _lib.sqlite()
            opts = _lib.SqliteOptions()
            errors.check(sq.cog_sqlite_options_init(ctypes.byref(opts), 1))
            opts.durability = {"full": 0, "normal": 1}[durability]
            opts.read_only = 1 if read_only else 0
            opts.busy_timeout_ms = int(busy_timeout_ms)
            errors.check(sq.cog_sqlite_storage_open(
                ctypes.byref(store), to_bytes(str(storage)),
                ctypes.byref(opts)))
        # The context owns the storage from here on, even on failure.
        errors.check(lib.cog_ctx_set_storage(self.handle, store))

    def define_sql_tool(self, writable=False):
        """The SQLite backend's "sql_query" tool."""
        sq = _lib.sqlite()
        errors.check(sq.cog_sqlite_define_sql_tool(self.handle,
                                                   1 if writable else 0))
        return Tool(self, "sql_query")

    # ---- general ----

    @property
    def trace_id(self):
        return text(lib.cog_ctx_trace_id(self.handle))

    def describe(self):
        return call_json(lib.cog_ctx_describe, self.handle)

    def metrics(self):
        return call_json(lib.cog_ctx_metrics, self.handle)

    def trace(self, plan_id):
        return call_json(lib.cog_trace_read, self.handle, to_bytes(plan_id))

    def log(self, level, message, **fields):
        errors.check(lib.cog_ctx_log(
            self.handle, _level(level), to_bytes(message),
            to_json_bytes(fields) if fields else None))

    def cancel(self):
        lib.cog_ctx_cancel(self.handle)

    def is_canceled(self):
        return bool(lib.cog_ctx_is_canceled(self.handle))

    def reset_cancel(self):
        lib.cog_ctx_reset_cancel(self.handle)

    def redact(self, value):
        """(redacted text, number of replacements)."""
        out = OutString()
        count = ctypes.c_size_t()
        errors.check(lib.cog_redact(self.handle, to_bytes(value), out.ref,
                                    ctypes.byref(count)))
        return out.take(), count.value

    def configure_redaction(self, config):
        errors.check(lib.cog_redact_configure(self.handle,
                                              to_json_bytes(config)))

    # ---- tools ----

    def define_tool(self, name, fn=None, description=None, input_schema=None,
                    output_schema=None, flags=0, timeout_ms=0,
                    max_output_bytes=0, command=None, with_request=False):
        """Define a tool run by the Python callable fn(arguments) (or
        fn(arguments, request) with with_request=True), whose return value
        (anything json.dumps takes) is the result; or by a sandboxed
        `command` (dict or JSON text). An exception raised by fn becomes
        the call's tool error (a CognitionError keeps its status, others
        COG_EUSER) with "TypeName: message": it never reaches C.
        Returns a Tool. Without fn and command, returns a decorator."""
        if fn is None and command is None:
            def decorate(f):
                self.define_tool(name, f, description, input_schema,
                                 output_schema, flags, timeout_ms,
                                 max_output_bytes, None, with_request)
                return f
            return decorate
        opts = _lib.ToolOptions()
        errors.check(lib.cog_tool_options_init(ctypes.byref(opts), 1))
        opts.name = to_bytes(name)
        opts.description = to_bytes(description)
        opts.input_schema = to_json_bytes(input_schema)
        opts.output_schema = to_json_bytes(output_schema)
        opts.flags = int(flags)
        opts.timeout_ms = int(timeout_ms)
        opts.max_output_bytes = int(max_output_bytes)
        key = None
        if fn is not None:
            cb = _lib.TOOL_FN(_tool_trampoline(fn, with_request))
            opts.fn = cb
            # Referenced until the library frees the tool (calls in flight
            # after cog_tool_remove still run it), then released.
            key = next(self._tool_ids)
            self._tools[key] = cb
            opts.user_data = key
            opts.free_user_data = self._tool_releaser()
        if command is not None:
            opts.command = to_json_bytes(command)
        try:
            errors.check(lib.cog_tool_define(self.handle, ctypes.byref(opts)))
        except BaseException:
            if key is not None:  # not owned by the library on failure
                self._tools.pop(key, None)
            raise
        return Tool(self, name)

    def _tool_releaser(self):
        """The free_user_data of Python tools (one per context, kept until
        it closes): drops the runner registered under user_data."""
        if self._free_tool is None:
            tools = self._tools

            def release(user_data):
                tools.pop(user_data, None)
            self._free_tool = self._keep_cb(_lib.FREE_FN(release))
        return self._free_tool

    def tool(self, name):
        return Tool(self, name)

    def remove_tool(self, name):
        errors.check(lib.cog_tool_remove(self.handle, to_bytes(name)))

    def define_builtin_tools(self, pattern=None):
        errors.check(lib.cog_tool_define_builtins(self.handle,
                                                  to_bytes(pattern)))

    def tools(self, pattern=None, format="cog"):
        fmt = {"cog": 0, "openai": 1, "anthropic": 2}[format]
        return call_json(lib.cog_tool_list, self.handle, to_bytes(pattern),
                         fmt)

    def call_tool(self, name, arguments=None, **options):
        """Call a tool; return its result. On failure the CognitionError's
        .result holds the error object for the model."""
        opts = tool_call_options(**options)
        return call_json(lib.cog_tool_call, self.handle, to_bytes(name),
                         to_json_bytes(arguments if arguments is not None
                                       else {}),
                         ctypes.byref(opts) if opts is not None else None)

    def set_workspace(self, path):
        errors.check(lib.cog_tool_set_workspace(self.handle, to_bytes(path)))

    def grant(self, role, tool_glob):
        errors.check(lib.cog_tool_grant(self.handle, to_bytes(role),
                                        to_bytes(tool_glob)))

    def revoke(self, role, tool_glob):
        errors.check(lib.cog_tool_revoke(self.handle, to_bytes(role),
                                         to_bytes(tool_glob)))

    def audit_verify(self):
        return call_json(lib.cog_audit_verify, self.handle)

    def audit(self, from_seq=1, limit=0):
        return call_json(lib.cog_audit_read, self.handle, int(from_seq),
                         int(limit))

    # ---- plans ----

    def set_task_executor(self, fn):
        """fn(call: TaskCall) runs each task attempt of a plan run; its
        return value (if not None) becomes the task's result. An exception
        fails the attempt (the task's retry policy decides). None restores
        the default (tool tasks through their tools)."""
        if fn is None:
            errors.check(lib.cog_ctx_set_task_executor(
                self.handle, _lib.TASK_EXECUTOR_FN(), None))
            return
        cb = self._keep_cb(_lib.TASK_EXECUTOR_FN(_executor_trampoline(fn)))
        errors.check(lib.cog_ctx_set_task_executor(self.handle, cb, None))

    def add_template_dir(self, path):
        errors.check(lib.cog_ctx_add_template_dir(self.handle,
                                                  to_bytes(path)))

    def templates(self):
        return call_json(lib.cog_ctx_list_templates, self.handle)

    # ---- agents and LLMs ----

    def define_agent(self, definition):
        errors.check(lib.cog_agent_define(self.handle,
                                          to_json_bytes(definition)))

    def remove_agent(self, name):
        errors.check(lib.cog_agent_remove(self.handle, to_bytes(name)))

    def agent_definitions(self):
        return call_json(lib.cog_agent_definitions, self.handle)

    def match_agent(self, capabilities=None):
        return call_text(lib.cog_agent_match, self.handle,
                         to_json_bytes(capabilities))

    def agents(self):
        return call_json(lib.cog_agent_list, self.handle)

    def terminate_agent(self, agent_id):
        errors.check(lib.cog_agent_terminate(self.handle, to_bytes(agent_id)))

    def set_budget(self, budget):
        errors.check(lib.cog_ctx_set_budget(self.handle,
                                            to_json_bytes(budget)))

    def budget_report(self, plan_id=None):
        return call_json(lib.cog_budget_report, self.handle,
                         to_bytes(plan_id))

    def add_llm(self, name, chat, describe=None, count_tokens=None):
        """Give the context an LLM endpoint answered by Python:
        chat(request) -> response, both dicts in the shapes of llm.h
        ({"message":{"role":"assistant","content":...,"tool_calls":[...]},
          "finish_reason":"stop","usage":{...},"model":"..."}).
        describe: a dict describing the backend (part of cache keys).
        count_tokens(request) -> int, optional."""
        vt = _lib.LlmVtable()
        errors.check(lib.cog_llm_vtable_init(ctypes.byref(vt), 1))
        vt.chat = self._keep_cb(_lib.LLM_CHAT_FN(_llm_chat_trampoline(chat)))
        if describe is not None:
            vt.describe = self._keep_cb(
                _lib.LLM_DESCRIBE_FN(_llm_describe_trampoline(describe)))
        if count_tokens is not None:
            vt.count_tokens = self._keep_cb(
                _lib.LLM_COUNT_FN(_llm_count_trampoline(count_tokens)))
        llm = ctypes.c_void_p()
        errors.check(lib.cog_llm_new(ctypes.byref(llm), ctypes.byref(vt)))
        # The context owns llm from here on, even on failure.
        errors.check(lib.cog_llm_add_endpoint(self.handle, to_bytes(name),
                                              llm, None))

    def configure_llm(self, config):
        errors.check(lib.cog_llm_configure(self.handle,
                                           to_json_bytes(config)))

    def llm_available(self):
        return bool(lib.cog_llm_available(self.handle))

    def chat(self, request):
        """Ask the router (cog_llm_chat) with default options."""
        return call_json(lib.cog_llm_chat, self.handle,
                         to_json_bytes(request), None)

    def set_critic(self, fn):
        """fn(task, result) -> None to accept, or a critique (str) to
        reject; None removes the hook. An exception fails the task."""
        if fn is None:
            errors.check(lib.cog_agent_set_critic(self.handle,
                                                  _lib.CRITIC_FN(), None))
            return
        cb = self._keep_cb(_lib.CRITIC_FN(_critic_trampoline(fn)))
        errors.check(lib.cog_agent_set_critic(self.handle, cb, None))

    def __repr__(self):
        if self._h is None:
            return "<cognition.Ctx closed>"
        return "<cognition.Ctx trace_id=%s>" % self.trace_id


# ---- trampolines: Python errors become statuses, never C crashes ----

def _tool_trampoline(fn, with_request):
    def run(req_ptr, result_out, _user):
        try:
            req = req_ptr.contents
            args = json.loads(text(req.arguments) or "{}")
            if with_request:
                value = fn(args, ToolRequest(req))
            else:
                value = fn(args)
            give_string(result_out, json.dumps(value))
            return 0
        except BaseException as exc:
            return callback_failed(exc)
    return run


def _executor_trampoline(fn):
    def run(call_handle, _user):
        call = TaskCall(call_handle)
        try:
            value = fn(call)
            if value is not None:
                errors.check(lib.cog_task_call_set_result(
                    call_handle, to_json_bytes(json.dumps(value))))
            return 0
        except BaseException as exc:
            return callback_failed(exc)
        finally:
            call._h = None
    return run


def _llm_chat_trampoline(fn):
    def run(_self, request, _call, response_out):
        try:
            value = fn(json.loads(text(request)))
            give_string(response_out, value if isinstance(value, str)
                        else json.dumps(value))
            return 0
        except BaseException as exc:
            return callback_failed(exc, errors.EUNAVAILABLE)
    return run


def _llm_describe_trampoline(value):
    def run(_self, out):
        try:
            v = value() if callable(value) else value
            give_string(out, v if isinstance(v, str) else json.dumps(v))
            return 0
        except BaseException as exc:
            return callback_failed(exc)
    return run


def _llm_count_trampoline(fn):
    def run(_self, request, tokens):
        try:
            tokens[0] = int(fn(json.loads(text(request))))
            return 0
        except BaseException as exc:
            return callback_failed(exc)
    return run


def _critic_trampoline(fn):
    def run(task, result, critique_out, _user):
        try:
            verdict = fn(_parse_or_text(task), _parse_or_text(result))
            if verdict is None or verdict is True:
                return 0
            give_string(critique_out, str(verdict))
            return 1
        except BaseException as exc:
            return callback_failed(exc)
    return run

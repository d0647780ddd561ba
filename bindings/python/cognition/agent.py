"""Agents: instances of the context's agent definitions (cog_agent)."""
import ctypes

from . import _lib
from . import errors
from ._lib import lib
from ._util import Handle, OutString, parse, text, to_bytes, to_json_bytes
from .ctx import tool_call_options

SPAWNED, IDLE, BUSY, DONE, FAILED, TERMINATED = range(6)


def agent_state_name(state):
    return text(lib.cog_agent_state_name(int(state)))


class Agent(Handle):
    """Agent(ctx, name="executor"): an instance of definition `name`
    (cog_agent_spawn); close() gives it back to its pool."""

    def __init__(self, ctx, name="executor"):
        self.ctx = ctx
        self._h = None
        h = ctypes.c_void_p()
        errors.check(lib.cog_agent_spawn(ctypes.byref(h), ctx.handle,
                                         to_bytes(name)))
        self._h = h
        ctx._adopt(self)

    _kind = "agent"

    def _free(self, h):
        lib.cog_agent_free(h)

    @property
    def id(self):
        return text(lib.cog_agent_id(self.handle))

    @property
    def name(self):
        return text(lib.cog_agent_name(self.handle))

    @property
    def state(self):
        return agent_state_name(lib.cog_agent_get_state(self.handle))

    def terminate(self):
        errors.check(lib.cog_agent_terminate(self.ctx.handle,
                                             to_bytes(self.id)))

    def run(self, task, memory_namespace=None, run_key=None, budget=None,
            tool_options=None):
        """Run the agent loop on a task: a prompt (str) or an agent task
        dict ({"prompt":...,"output_schema":...}). Returns the result dict
        ({"content":...,"turns":n,...}); a failure raises with .result set
        to what the run did so far."""
        if isinstance(task, str):
            task = {"prompt": task}
        opts = _lib.AgentRunOptions()
        errors.check(lib.cog_agent_run_options_init(ctypes.byref(opts), 1))
        tool_opts = tool_call_options(**(tool_options or {}))
        if tool_opts is not None:
            opts.tool_options = ctypes.pointer(tool_opts)
        opts.memory_namespace = to_bytes(memory_namespace)
        opts.run_key = to_bytes(run_key)
        opts.budget_json = to_json_bytes(budget)
        out = OutString()
        status = lib.cog_agent_run(self.handle, to_json_bytes(task),
                                   ctypes.byref(opts), out.ref)
        value = out.take()
        if status < 0:
            err = errors.last_error(status)
            err.result = parse(value)
            raise err
        return parse(value)

    def __repr__(self):
        if self._h is None:
            return "<cognition.Agent closed>"
        return "<cognition.Agent %s %s>" % (self.name, self.state)

"""Python bindings for libcognition (ctypes; no compiled extension).

    import cognition
    with cognition.Ctx() as ctx:
        ctx.define_tool("add", lambda a: {"sum": a["x"] + a["y"]})
        with cognition.Plan(ctx, "add numbers") as plan:
            plan.add_task({"id": "t", "kind": "tool", "tool": "add",
                           "inputs": {"x": 1, "y": 2}})
            plan.run()
            print(plan.result("t"))     # {'sum': 3}
"""
from . import _lib
from .errors import *  # noqa: F401,F403 (status codes and exceptions)
from .errors import CognitionError, strerror
from ._lib import LibraryNotFound
from .ctx import (Ctx, Tool, TaskCall, ToolRequest, LOG_TRACE, LOG_DEBUG,
                  LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF, TOOL_IDEMPOTENT,
                  TOOL_SIDE_EFFECTS, TOOL_NEEDS_APPROVAL, TOOL_NEEDS_NETWORK)
from .plan import Plan, task_state_name
from .memory import Memory
from .agent import Agent, agent_state_name

__version__ = "0.1.0"

FEATURE_CURL = 1 << 0
FEATURE_SQLITE = 1 << 1
FEATURE_THREADS = 1 << 2


def library_version():
    """Version of the loaded libcognition, e.g. "0.1.0"."""
    return _lib.lib.cog_version().decode()


def library_path():
    """Where the loaded libcognition came from."""
    return _lib.path


def features():
    """cog_features() bits (FEATURE_CURL, FEATURE_SQLITE, ...)."""
    return _lib.lib.cog_features()

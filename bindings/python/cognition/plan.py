"""Plans: building, checking, running and resuming task graphs."""
import ctypes

from . import _lib
from . import errors
from ._lib import lib
from ._util import Handle, call_json, call_text, text, to_bytes, to_json_bytes

# cog_task_state
PENDING, READY, RUNNING, SUCCEEDED, FAILED, SKIPPED, UNCERTAIN = range(7)
# cog_failure_policy
FAIL_FAST, CONTINUE_INDEPENDENT = 0, 1
# cog_durability
DURABLE_AUTO, DURABLE_ON, DURABLE_OFF = 0, 1, 2
# cog_decision
DECIDE_RETRY, DECIDE_SKIP, DECIDE_FAIL = 0, 1, 2

_FORMATS = {"json": 0, "dot": 1, "mermaid": 2}
_POLICIES = {"fail_fast": FAIL_FAST, "continue": CONTINUE_INDEPENDENT,
             "continue_independent": CONTINUE_INDEPENDENT}
_DURABILITY = {"auto": DURABLE_AUTO, "on": DURABLE_ON, "off": DURABLE_OFF}
_DECISIONS = {"retry": DECIDE_RETRY, "skip": DECIDE_SKIP, "fail": DECIDE_FAIL}


def _pick(table, value, what):
    if isinstance(value, str):
        try:
            return table[value]
        except KeyError:
            raise ValueError("unknown %s %r (one of %s)"
                             % (what, value, ", ".join(table))) from None
    return int(value)


def task_state_name(state):
    return text(lib.cog_task_state_name(int(state)))


class Plan(Handle):
    """A plan (cog_plan): Plan(ctx, goal) for an empty one, or the class
    methods from_json, from_goal, resume and load."""

    def __init__(self, ctx, goal="", tasks=None, _handle=None):
        self.ctx = ctx
        self._h = None
        if _handle is None:
            h = ctypes.c_void_p()
            errors.check(lib.cog_plan_new(ctypes.byref(h), ctx.handle,
                                          to_bytes(goal)))
            _handle = h
        self._h = _handle
        ctx._adopt(self)
        for task in tasks or ():
            self.add_task(task)

    @classmethod
    def _make(cls, fn, ctx, arg):
        h = ctypes.c_void_p()
        errors.check(fn(ctypes.byref(h), ctx.handle, arg))
        return cls(ctx, _handle=h)

    @classmethod
    def from_json(cls, ctx, plan):
        """From Plan JSON (text or a dict)."""
        return cls._make(lib.cog_plan_from_json, ctx, to_json_bytes(plan))

    @classmethod
    def from_goal(cls, ctx, goal):
        """Made by the context's planners (LLM, then templates)."""
        return cls._make(lib.cog_plan_from_goal, ctx, to_bytes(goal))

    @classmethod
    def resume(cls, ctx, plan_id):
        """A stored plan, to run again after a crash or a stop."""
        return cls._make(lib.cog_plan_resume, ctx, to_bytes(plan_id))

    @classmethod
    def load(cls, ctx, plan_id):
        """A stored plan, read only to look at it."""
        return cls._make(lib.cog_plan_load, ctx, to_bytes(plan_id))

    # ---- lifetime ----

    _kind = "plan"

    def _free(self, h):
        lib.cog_plan_free(h)

    # ---- building ----

    def add_task(self, task):
        """Add one task (Task JSON: text or a dict)."""
        errors.check(lib.cog_plan_add_task(self.handle, to_json_bytes(task)))

    def add_dependency(self, task_id, depends_on_id):
        errors.check(lib.cog_plan_add_dependency(
            self.handle, to_bytes(task_id), to_bytes(depends_on_id)))

    def set_budget(self, budget):
        errors.check(lib.cog_plan_set_budget(self.handle,
                                             to_json_bytes(budget)))

    @property
    def id(self):
        return text(lib.cog_plan_id(self.handle))

    @property
    def goal(self):
        return text(lib.cog_plan_goal(self.handle))

    def __len__(self):
        return lib.cog_plan_task_count(self.handle)

    # ---- checking and describing ----

    def validate(self):
        errors.check(lib.cog_plan_validate(self.handle))

    def analyze(self):
        return call_json(lib.cog_plan_analyze, self.handle)

    def export(self, format="json"):
        """The plan as text: "json", "dot" or "mermaid"."""
        return call_text(lib.cog_plan_export, self.handle,
                         _pick(_FORMATS, format, "format"))

    # ---- running ----

    def run(self, workers=0, failure_policy="fail_fast", durability="auto",
            inline_max_tasks=0, episodic_namespace=None):
        """Run until every task has ended. Raises the run's error
        (errors.CognitionError: e.g. CognitionError for failed tasks,
        Uncertain, Pending, Canceled); returns status() on success."""
        opts = _lib.RunOptions()
        errors.check(lib.cog_run_options_init(ctypes.byref(opts), 2))
        opts.workers = int(workers)
        opts.failure_policy = _pick(_POLICIES, failure_policy,
                                    "failure policy")
        opts.durability = _pick(_DURABILITY, durability, "durability")
        opts.inline_max_tasks = int(inline_max_tasks)
        opts.episodic_namespace = to_bytes(episodic_namespace)
        status = lib.cog_plan_run(self.handle, ctypes.byref(opts))
        if status < 0:
            err = errors.last_error(status)
            try:
                err.result = self.status()
            except errors.CognitionError:
                pass
            raise err
        return self.status()

    def status(self):
        return call_json(lib.cog_plan_status, self.handle)

    def task_status(self, task_id):
        return call_json(lib.cog_plan_task_status, self.handle,
                         to_bytes(task_id))

    def result(self, task_id):
        """A task's result (its status's "result")."""
        return self.task_status(task_id).get("result")

    def save(self):
        errors.check(lib.cog_plan_save(self.handle))

    def decide(self, task_id, decision):
        """Settle an uncertain or failed task: "retry", "skip" or "fail"."""
        errors.check(lib.cog_plan_decide(self.handle, to_bytes(task_id),
                                         _pick(_DECISIONS, decision,
                                               "decision")))

    def compact(self):
        errors.check(lib.cog_plan_compact(self.handle))

    def __repr__(self):
        if self._h is None:
            return "<cognition.Plan closed>"
        return "<cognition.Plan %s %r, %d tasks>" % (self.id, self.goal,
                                                    len(self))

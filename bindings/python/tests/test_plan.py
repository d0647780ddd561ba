import json
import threading
import unittest

import cognition


class PlanTest(unittest.TestCase):
    def setUp(self):
        self.events = []
        self.lock = threading.Lock()

        def on_event(event):
            with self.lock:
                self.events.append(event)

        self.ctx = cognition.Ctx(events=on_event, worker_threads=4)
        self.addCleanup(self.ctx.close)

    def test_run_with_python_tool(self):
        calls = []

        def fetch(args):
            calls.append(args)
            return {"rows": list(range(args["n"]))}

        self.ctx.define_tool("fetch", fetch, input_schema={
            "type": "object", "properties": {"n": {"type": "integer"}},
            "required": ["n"]})
        with cognition.Plan(self.ctx, "fetch some rows") as plan:
            plan.add_task({"id": "a", "kind": "tool", "tool": "fetch",
                           "inputs": {"n": 3}})
            plan.add_task({"id": "b", "kind": "tool", "tool": "fetch",
                           "inputs": {"n": 1}, "depends_on": ["a"]})
            self.assertEqual(len(plan), 2)
            self.assertEqual(plan.goal, "fetch some rows")
            status = plan.run()
            self.assertEqual(status["state"], "succeeded")
            self.assertEqual(plan.result("a"), {"rows": [0, 1, 2]})
            self.assertEqual(plan.result("b"), {"rows": [0]})
            self.assertEqual(plan.task_status("b")["state"], "succeeded")
            analysis = plan.analyze()
            self.assertEqual(analysis["order"], ["a", "b"])
            plan_id = plan.id
        self.assertEqual(calls, [{"n": 3}, {"n": 1}])
        types = [e["type"] for e in self.events]
        for t in ("plan.started", "task.started", "task.succeeded",
                  "plan.finished"):
            self.assertIn(t, types)
        finished = [e for e in self.events if e["type"] == "plan.finished"]
        self.assertEqual(len(finished), 1)
        self.assertIn(plan_id, json.dumps(finished[0]))

    def test_parallel_tasks_on_worker_threads(self):
        idents = set()
        lock = threading.Lock()

        def work(args):
            with lock:
                idents.add(threading.get_ident())
            return args["i"]

        self.ctx.define_tool("work", work)
        tasks = [{"id": "t%d" % i, "kind": "tool", "tool": "work",
                  "inputs": {"i": i}, "estimate": {"duration_ms": 50}}
                 for i in range(12)]
        with cognition.Plan.from_json(self.ctx, {"version": 1, "goal": "many",
                                                 "tasks": tasks}) as plan:
            plan.run(workers=4, inline_max_tasks=1)
            for i in range(12):
                self.assertEqual(plan.result("t%d" % i), i)
        self.assertGreaterEqual(len(idents), 1)

    def test_raising_tool_fails_task_not_process(self):
        def explode(args):
            raise RuntimeError("kaboom")
        self.ctx.define_tool("explode", explode)
        self.ctx.define_tool("fine", lambda a: "ok")
        with cognition.Plan(self.ctx, "g") as plan:
            plan.add_task({"id": "bad", "kind": "tool", "tool": "explode"})
            plan.add_task({"id": "after", "kind": "tool", "tool": "fine",
                           "depends_on": ["bad"]})
            plan.add_task({"id": "other", "kind": "tool", "tool": "fine"})
            with self.assertRaises(cognition.CognitionError) as cm:
                plan.run(failure_policy="continue")
            self.assertIn("bad", cm.exception.message)
            st = {t["id"]: t for t in cm.exception.result["tasks"]}
            self.assertEqual(st["bad"]["state"], "failed")
            self.assertIn("kaboom", json.dumps(st["bad"]))
            self.assertEqual(st["after"]["state"], "skipped")
            self.assertEqual(st["other"]["state"], "succeeded")

    def test_cycle_raises_library_message(self):
        with cognition.Plan(self.ctx, "loop") as plan:
            plan.add_task({"id": "a", "depends_on": ["c"]})
            plan.add_task({"id": "b", "depends_on": ["a"]})
            plan.add_task({"id": "c", "depends_on": ["b"]})
            with self.assertRaises(cognition.CycleError) as cm:
                plan.validate()
            self.assertEqual(cm.exception.status, cognition.ECYCLE)
            self.assertRegex(cm.exception.message, r"a -> b -> c -> a|"
                             r"b -> c -> a -> b|c -> a -> b -> c")
            with self.assertRaises(cognition.CycleError):
                plan.run()

    def test_invalid_plan_json_names_the_field(self):
        with self.assertRaises(cognition.InvalidArgument) as cm:
            cognition.Plan.from_json(self.ctx, {"version": 1, "goal": "g",
                                                "tasks": [{"id": "a",
                                                           "colour": "red"}]})
        self.assertIn("colour", cm.exception.message)
        with self.assertRaises(cognition.InvalidArgument):
            cognition.Plan.from_json(self.ctx, "{not json")
        with cognition.Plan(self.ctx, "g") as plan:
            with self.assertRaises(cognition.InvalidArgument):
                plan.add_task({"id": "bad id with spaces"})
            plan.add_task({"id": "a", "depends_on": ["ghost"]})
            with self.assertRaises(cognition.NotFound) as cm:
                plan.validate()
            self.assertIn("ghost", cm.exception.message)

    def test_unknown_tool(self):
        self.ctx.define_tool("known", lambda a: 1)
        with cognition.Plan(self.ctx, "g") as plan:
            plan.add_task({"id": "a", "kind": "tool", "tool": "unknown_tool"})
            with self.assertRaises(cognition.NotFound) as cm:
                plan.validate()
            self.assertIn("unknown_tool", cm.exception.message)
            with self.assertRaises(cognition.CognitionError) as cm:
                plan.run()
            self.assertIn("unknown_tool", cm.exception.message)
            self.assertEqual(plan.task_status("a")["state"], "failed")

    def test_python_task_executor(self):
        seen = []

        def executor(call):
            task = call.task
            seen.append((call.task_id, call.attempt))
            if task.get("kind") == "tool":
                return call.run_tool()
            if call.task_id == "sum":
                return call.dependency_result("one") + \
                    call.dependency_result("two")
            if call.task_id == "flaky" and call.attempt == 1:
                raise RuntimeError("first attempt fails")
            return task["meta"]["value"]

        self.ctx.define_tool("three", lambda a: 3)
        self.ctx.set_task_executor(executor)
        with cognition.Plan(self.ctx, "executor") as plan:
            plan.add_task({"id": "one", "meta": {"value": 1}})
            plan.add_task({"id": "two", "meta": {"value": 2}})
            plan.add_task({"id": "sum", "depends_on": ["one", "two"]})
            plan.add_task({"id": "flaky", "meta": {"value": "ok"},
                           "retry": {"max_attempts": 2, "backoff_ms": 1}})
            plan.add_task({"id": "t", "kind": "tool", "tool": "three"})
            plan.run()
            self.assertEqual(plan.result("sum"), 3)
            self.assertEqual(plan.result("flaky"), "ok")
            self.assertEqual(plan.result("t"), 3)
            self.assertEqual(plan.task_status("flaky")["attempts"], 2)
        self.assertIn(("flaky", 2), seen)

    def test_export_round_trip(self):
        with cognition.Plan(self.ctx, "export") as plan:
            plan.add_task({"id": "a"})
            plan.add_task({"id": "b", "depends_on": ["a"]})
            text = plan.export("json")
            self.assertIn("digraph", plan.export("dot"))
            with cognition.Plan.from_json(self.ctx, text) as again:
                self.assertEqual(again.export(), text)
                self.assertEqual(again.id, plan.id)
            with self.assertRaises(ValueError):
                plan.export("pdf")

    def test_durable_run_and_resume_with_sqlite(self):
        import os
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            db = os.path.join(d, "cog.db")
            with cognition.Ctx(storage=db) as ctx:
                ctx.define_tool("v", lambda a: a["v"])
                with cognition.Plan(ctx, "durable") as plan:
                    plan.add_task({"id": "x", "kind": "tool", "tool": "v",
                                   "inputs": {"v": 7}})
                    plan.run(durability="on")
                    plan_id = plan.id
            with cognition.Ctx(storage=db) as ctx:
                with cognition.Plan.load(ctx, plan_id) as plan:
                    self.assertEqual(plan.result("x"), 7)
                    self.assertEqual(plan.status()["state"], "succeeded")
                with self.assertRaises(cognition.NotFound):
                    cognition.Plan.load(ctx, "0123456789abcdef")


if __name__ == "__main__":
    unittest.main()

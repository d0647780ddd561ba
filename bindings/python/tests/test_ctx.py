import gc
import unittest

import cognition


class CtxTest(unittest.TestCase):
    def test_library_loaded(self):
        self.assertRegex(cognition.library_version(), r"^\d+\.\d+\.\d+$")
        self.assertTrue(cognition.library_path())
        self.assertEqual(cognition.strerror(cognition.EINVAL),
                         cognition.strerror(-2))

    def test_context_manager_and_close(self):
        with cognition.Ctx(worker_threads=2) as ctx:
            self.assertRegex(ctx.trace_id, r"^[0-9a-f]{32}$")
            desc = ctx.describe()
            self.assertIsInstance(desc, dict)
            self.assertFalse(ctx.closed)
        self.assertTrue(ctx.closed)
        ctx.close()  # idempotent
        with self.assertRaises(cognition.CognitionError) as cm:
            ctx.describe()
        self.assertEqual(cm.exception.status, cognition.EINVAL)

    def test_close_frees_children_first(self):
        ctx = cognition.Ctx()
        plan = cognition.Plan(ctx, "goal")
        mem = cognition.Memory(ctx, "acme")
        ctx.close()
        self.assertIsNone(plan._h)
        self.assertIsNone(mem._h)
        plan.close()
        mem.close()

    def test_bad_option_raises_library_message(self):
        with self.assertRaises(ValueError):
            cognition.Ctx(log_level="loud")
        with self.assertRaises(cognition.InvalidArgument) as cm:
            cognition.Ctx(worker_threads=100000)
        self.assertEqual(cm.exception.status, cognition.EINVAL)
        self.assertNotEqual(cm.exception.message, "no error")

    def test_log_hook_receives_records(self):
        records = []
        with cognition.Ctx(log=lambda lvl, rec: records.append((lvl, rec)),
                           log_level="debug") as ctx:
            ctx.log("warn", "hello from python", answer=42,
                    api_key="sk-secret-value")
        mine = [r for lvl, r in records
                if isinstance(r, dict) and r.get("message") == "hello from python"]
        self.assertEqual(len(mine), 1, records)
        self.assertEqual(mine[0]["level"], "warn")
        self.assertEqual(mine[0]["fields"]["answer"], 42)
        self.assertEqual(mine[0]["fields"]["api_key"], "[REDACTED]")

    def test_hook_that_raises_does_not_crash(self):
        seen = []

        def bad_hook(event):
            seen.append(event["type"])
            raise RuntimeError("hook failure")

        reported = []
        old = __import__("sys").unraisablehook
        __import__("sys").unraisablehook = lambda args: reported.append(
            args.exc_value)
        try:
            with cognition.Ctx(events=bad_hook) as ctx:
                ctx.define_tool("echo", lambda a: a)
                self.assertEqual(ctx.call_tool("echo", {"v": 1}), {"v": 1})
        finally:
            __import__("sys").unraisablehook = old
        self.assertIn("tool.call", seen)
        self.assertTrue(reported)
        self.assertIsInstance(reported[0], RuntimeError)

    def test_hooks_kept_referenced(self):
        events = []

        def make_ctx():
            # the lambda is referenced only by the context
            return cognition.Ctx(events=lambda e: events.append(e["type"]))

        ctx = make_ctx()
        gc.collect()
        ctx.define_tool("echo", lambda a: a)
        gc.collect()
        self.assertEqual(ctx.call_tool("echo", {"x": "y"}), {"x": "y"})
        ctx.close()
        self.assertIn("tool.call", events)

    def test_redact(self):
        with cognition.Ctx() as ctx:
            out, n = ctx.redact("write to alice@example.com")
            self.assertEqual(out, "write to [EMAIL]")
            self.assertEqual(n, 1)


if __name__ == "__main__":
    unittest.main()

import gc
import threading
import unittest
import weakref

import cognition

ADD_SCHEMA = {"type": "object",
              "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
              "required": ["x", "y"], "additionalProperties": False}


class ToolTest(unittest.TestCase):
    def setUp(self):
        self.ctx = cognition.Ctx()
        self.addCleanup(self.ctx.close)

    def test_python_tool_called(self):
        tool = self.ctx.define_tool("add", lambda a: {"sum": a["x"] + a["y"]},
                                    description="adds", input_schema=ADD_SCHEMA)
        self.assertEqual(tool.call({"x": 2, "y": 40}), {"sum": 42})
        listed = self.ctx.tools("add")
        self.assertEqual([t["name"] for t in listed], ["add"])
        self.assertEqual(listed[0]["description"], "adds")

    def test_decorator_and_request(self):
        @self.ctx.define_tool("who", with_request=True)
        def who(args, request):
            return {"tool": request.tool, "call_id": request.call_id,
                    "args": args}
        res = self.ctx.call_tool("who", {"a": 1}, call_id="my-call-1")
        self.assertEqual(res, {"tool": "who", "call_id": "my-call-1",
                               "args": {"a": 1}})

    def test_raising_tool_is_a_tool_error(self):
        def broken(args):
            raise ZeroDivisionError("division by zero in %s" % args["what"])
        self.ctx.define_tool("broken", broken)
        with self.assertRaises(cognition.UserError) as cm:
            self.ctx.call_tool("broken", {"what": "100%"})
        err = cm.exception
        self.assertEqual(err.status, cognition.EUSER)
        self.assertIn("ZeroDivisionError: division by zero in 100%",
                      err.message)
        self.assertEqual(err.result["error"]["type"], "tool_error")
        self.assertIn("division by zero", err.result["error"]["message"])
        # the context still works
        self.ctx.define_tool("ok", lambda a: "fine")
        self.assertEqual(self.ctx.call_tool("ok"), "fine")

    def test_unserialisable_result_is_a_tool_error(self):
        self.ctx.define_tool("bad_result", lambda a: {"x": object()})
        with self.assertRaises(cognition.UserError) as cm:
            self.ctx.call_tool("bad_result")
        self.assertIn("TypeError", cm.exception.message)

    def test_cognition_error_keeps_status(self):
        def slow(args):
            raise cognition.Timeout(cognition.ETIMEOUT, "upstream too slow")
        self.ctx.define_tool("slow", slow)
        with self.assertRaises(cognition.Timeout) as cm:
            self.ctx.call_tool("slow")
        self.assertIn("upstream too slow", cm.exception.message)
        self.assertEqual(cm.exception.result["error"]["type"], "timeout")

    def test_schema_rejects_arguments(self):
        self.ctx.define_tool("add", lambda a: 0, input_schema=ADD_SCHEMA)
        with self.assertRaises(cognition.SchemaError) as cm:
            self.ctx.call_tool("add", {"x": "one", "y": 2})
        self.assertEqual(cm.exception.result["error"]["type"],
                         "invalid_arguments")

    def test_define_errors(self):
        with self.assertRaises(cognition.InvalidArgument) as cm:
            self.ctx.define_tool("bad name!", lambda a: 0)
        self.assertNotEqual(cm.exception.message, "no error")
        self.ctx.define_tool("twice", lambda a: 0)
        with self.assertRaises(cognition.AlreadyExists):
            self.ctx.define_tool("twice", lambda a: 0)
        with self.assertRaises(cognition.NotFound):
            self.ctx.call_tool("nope")
        with self.assertRaises(cognition.InvalidArgument):
            self.ctx.call_tool("twice", "[1, 2]")

    def test_remove(self):
        tool = self.ctx.define_tool("gone", lambda a: 1)
        tool.remove()
        with self.assertRaises(cognition.NotFound):
            tool.call()

    def test_removed_tool_callback_is_released(self):
        class Runner:
            def __call__(self, args):
                return "ran"
        runner = Runner()
        ref = weakref.ref(runner)
        self.ctx.define_tool("temp", runner)
        del runner
        gc.collect()
        self.assertIsNotNone(ref(), "released while the tool exists")
        self.assertEqual(self.ctx.call_tool("temp"), "ran")
        self.ctx.remove_tool("temp")
        gc.collect()
        self.assertIsNone(ref(), "kept after the tool was removed")

    def test_exception_with_unprintable_message_still_fails_the_call(self):
        class Unprintable(Exception):
            def __str__(self):
                raise RuntimeError("no text for you")

        def broken(args):
            raise Unprintable()
        self.ctx.define_tool("unprintable", broken)
        with self.assertRaises(cognition.UserError) as cm:
            self.ctx.call_tool("unprintable")
        self.assertEqual(cm.exception.status, cognition.EUSER)
        self.assertIn("cannot be formatted", cm.exception.message)

    def test_permissions(self):
        self.ctx.define_tool("secret", lambda a: "s")
        alice = {"tenant": "acme", "id": "alice", "roles": ["analyst"]}
        with self.assertRaises(cognition.Denied):
            self.ctx.call_tool("secret", principal=alice)
        self.ctx.grant("analyst", "sec*")
        self.assertEqual(self.ctx.call_tool("secret", principal=alice), "s")
        report = self.ctx.audit_verify()
        self.assertTrue(report["ok"])
        self.assertGreaterEqual(report["entries"], 2)

    def test_called_from_many_threads(self):
        # Every call waits inside the tool until all eight are in it: this
        # passes only if the binding lets C run the calls at the same time.
        barrier = threading.Barrier(8, timeout=30)

        def count(args):
            barrier.wait()
            return args["i"] * 2

        self.ctx.define_tool("double", count)
        results = {}

        def worker(i):
            results[i] = self.ctx.call_tool("double", {"i": i})

        ts = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(results, {i: i * 2 for i in range(8)})


if __name__ == "__main__":
    unittest.main()

import json
import threading
import unittest

import cognition


class ScriptedLLM:
    """An LLM endpoint answered by Python: asks for a tool call, then
    answers with what the tool returned."""

    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()

    def __call__(self, request):
        with self.lock:
            self.requests.append(request)
        tool_msgs = [m for m in request["messages"] if m["role"] == "tool"]
        usage = {"input_tokens": 10, "output_tokens": 5}
        if not tool_msgs:
            return {"message": {"role": "assistant", "content": None,
                                "tool_calls": [{"id": "c1", "name": "lookup",
                                                "arguments": {"key": "k"}}]},
                    "finish_reason": "tool_calls", "usage": usage,
                    "model": "scripted"}
        return {"message": {"role": "assistant",
                            "content": "the value is " + tool_msgs[-1]["content"]},
                "finish_reason": "stop", "usage": usage, "model": "scripted"}


class AgentTest(unittest.TestCase):
    def test_agent_runs_with_python_llm_and_tool(self):
        with cognition.Ctx() as ctx:
            llm = ScriptedLLM()
            ctx.add_llm("py", llm, describe={"backend": "scripted"})
            self.assertTrue(ctx.llm_available())
            ctx.define_tool("lookup", lambda a: {"value": a["key"] * 3})
            ctx.define_agent({"name": "helper", "instructions": "Be brief.",
                              "tools": ["lookup"], "max_turns": 4})
            names = [d["name"] for d in ctx.agent_definitions()]
            self.assertIn("helper", names)
            with cognition.Agent(ctx, "helper") as agent:
                self.assertEqual(agent.name, "helper")
                self.assertRegex(agent.id, r"^[0-9a-f]{32}$")
                result = agent.run("What is the value of k?")
                self.assertEqual(agent.state, "done")
            self.assertEqual(result["stopped"], "answer")
            self.assertEqual(result["tool_calls"], 1)
            self.assertIn("kkk", result["content"])
            self.assertEqual(len(llm.requests), 2)
            self.assertIn("Be brief.", json.dumps(llm.requests[0]))

    def test_llm_that_raises_fails_the_run(self):
        def broken(request):
            raise RuntimeError("model server on fire")
        with cognition.Ctx() as ctx:
            ctx.add_llm("py", broken)
            ctx.configure_llm({"retry": {"max_attempts": 1}})
            with cognition.Agent(ctx) as agent:
                with self.assertRaises(cognition.CognitionError) as cm:
                    agent.run("hello")
                self.assertIn("model server on fire", str(cm.exception))

    def test_agent_errors(self):
        with cognition.Ctx() as ctx:
            with self.assertRaises(cognition.NotFound):
                cognition.Agent(ctx, "nobody")
            with self.assertRaises(cognition.InvalidArgument) as cm:
                ctx.define_agent({"name": "x", "flavour": "vanilla"})
            self.assertIn("flavour", cm.exception.message)
            with cognition.Agent(ctx) as agent:
                with self.assertRaises(cognition.Unavailable):
                    agent.run("no LLM here")


if __name__ == "__main__":
    unittest.main()

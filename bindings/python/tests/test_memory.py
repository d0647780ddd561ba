import os
import tempfile
import unittest

import cognition


class MemoryTest(unittest.TestCase):
    def check_put_and_search(self, ctx):
        with cognition.Memory(ctx, "acme/alice") as mem:
            self.assertEqual(mem.namespace, "acme/alice")
            a = mem.put("The invoice for March was paid by bank transfer",
                        metadata={"topic": "billing"}, importance=0.9)
            b = mem.put("Alice prefers tea over coffee in the morning",
                        metadata={"topic": "personal"})
            self.assertNotEqual(a, b)
            results = mem.search("invoice paid", k=5)
            self.assertTrue(results)
            self.assertEqual(results[0]["id"], a)
            self.assertIn("invoice", results[0]["text"])
            only = mem.search("tea coffee", metadata={"topic": "personal"})
            self.assertEqual([r["id"] for r in only], [b])
            got = mem.get(b)
            self.assertEqual(got["metadata"], {"topic": "personal"})
            self.assertEqual(got["layer"], "long_term")
            mem.forget(b)
            with self.assertRaises(cognition.NotFound):
                mem.get(b)
            self.assertNotIn(b, [r["id"] for r in mem.search("tea coffee")])
            stats = mem.stats()
            self.assertEqual(stats["namespace"], "acme/alice")
            self.assertGreaterEqual(stats["puts"], 2)
        # a sibling namespace sees nothing of it
        with cognition.Memory(ctx, "acme/bob") as other:
            self.assertEqual(other.search("invoice"), [])

    def test_put_and_search_in_memory_storage(self):
        with cognition.Ctx() as ctx:
            self.check_put_and_search(ctx)

    def test_put_and_search_sqlite(self):
        with tempfile.TemporaryDirectory() as d:
            db = os.path.join(d, "mem.db")
            with cognition.Ctx(storage=db) as ctx:
                self.check_put_and_search(ctx)
            # persisted: a new context over the same file finds it
            with cognition.Ctx(storage=db) as ctx:
                with cognition.Memory(ctx, "acme/alice") as mem:
                    self.assertIn("invoice",
                                  mem.search("bank transfer")[0]["text"])

    def test_redacted_on_put(self):
        with cognition.Ctx() as ctx, cognition.Memory(ctx, "acme") as mem:
            mid = mem.put("mail me at bob@example.org")
            self.assertEqual(mem.get(mid)["text"], "mail me at [EMAIL]")

    def test_principal_needs_a_role(self):
        with cognition.Ctx() as ctx:
            with cognition.Memory(ctx, "acme/alice") as host:
                mid = host.put("the March invoice was paid")
            bob = {"tenant": "acme", "id": "bob", "roles": ["nobody"]}
            with cognition.Memory(ctx, "acme/alice", principal=bob) as mem:
                with self.assertRaises(cognition.Denied) as cm:
                    mem.get(mid)
                self.assertIn("bob", cm.exception.message)
                with self.assertRaises(cognition.Denied):
                    mem.put("bob was here")

    def test_errors(self):
        with cognition.Ctx() as ctx:
            with self.assertRaises(cognition.InvalidArgument) as cm:
                cognition.Memory(ctx, "acme//bad")
            self.assertNotEqual(cm.exception.message, "no error")
            with cognition.Memory(ctx, "acme") as mem:
                with self.assertRaises(cognition.InvalidArgument):
                    mem.put("")
                with self.assertRaises(cognition.InvalidArgument) as cm:
                    mem.put("x", layer="attic")
                self.assertIn("layer", cm.exception.message)
                with self.assertRaises(cognition.InvalidArgument):
                    mem.search_raw({"k": 3})

    def test_sqlite_open_error(self):
        with self.assertRaises(cognition.CognitionError) as cm:
            cognition.Ctx(storage="/nonexistent-dir/for/sure/x.db")
        self.assertIn(cm.exception.status, (cognition.EIO, cognition.EDENIED,
                                            cognition.ENOTFOUND))


if __name__ == "__main__":
    unittest.main()

"""Memory: namespaced, layered, searchable (cog_memory)."""
import ctypes
import json

from . import _lib
from . import errors
from ._lib import lib
from ._util import Handle, call_json, text, to_bytes, to_json_bytes

WORKING, SHORT_TERM, LONG_TERM, EPISODIC = 0x1, 0x2, 0x4, 0x8
MERGED = 1  # cog_memory_put: merged into a near-duplicate


class Memory(Handle):
    """Memory(ctx, namespace, max_text_bytes=0, short_term_ttl_ms=0,
    working_max_tokens=0, dedupe_threshold=0.0, embedder=None,
    hashing_dim=0, no_redact=False, principal=None)

    principal: the principal using the handle (a dict or JSON text,
    {"tenant","id","roles"}); its roles must grant memory read/write of the
    namespace (cognition/auth.h). None: the host itself."""

    def __init__(self, ctx, namespace, max_text_bytes=0, short_term_ttl_ms=0,
                 working_max_tokens=0, dedupe_threshold=0.0, embedder=None,
                 hashing_dim=0, no_redact=False, principal=None):
        self.ctx = ctx
        self._h = None
        opts = _lib.MemoryOptions()
        errors.check(lib.cog_memory_options_init(ctypes.byref(opts), 2))
        opts.max_text_bytes = int(max_text_bytes)
        opts.short_term_ttl_ms = int(short_term_ttl_ms)
        opts.working_max_tokens = int(working_max_tokens)
        opts.dedupe_threshold = float(dedupe_threshold)
        opts.embedder = to_bytes(embedder)
        opts.hashing_dim = int(hashing_dim)
        opts.no_redact = 1 if no_redact else 0
        if principal is not None and not isinstance(principal, (str, bytes)):
            principal = json.dumps(principal)
        opts.principal = to_bytes(principal)
        h = ctypes.c_void_p()
        errors.check(lib.cog_memory_open_with(ctypes.byref(h), ctx.handle,
                                              to_bytes(namespace),
                                              ctypes.byref(opts)))
        self._h = h
        ctx._adopt(self)

    _kind = "memory"

    def _free(self, h):
        lib.cog_memory_free(h)

    @property
    def namespace(self):
        return text(lib.cog_memory_namespace(self.handle))

    def put(self, text_value, metadata=None, layer=None, importance=None,
            ttl_ms=None, vector=None, embed_model=None):
        """Remember text; returns the memory's id (an existing one's when
        it merged into a near-duplicate). layer: "long_term" (default),
        "short_term", "working" or "episodic"."""
        item = {"text": text_value}
        for key, value in (("metadata", metadata), ("layer", layer),
                           ("importance", importance), ("ttl_ms", ttl_ms),
                           ("vector", vector), ("embed_model", embed_model)):
            if value is not None:
                item[key] = value
        mem_id = ctypes.c_uint64()
        errors.check(lib.cog_memory_put_json(self.handle,
                                             to_json_bytes(item),
                                             ctypes.byref(mem_id)))
        return mem_id.value

    def get(self, mem_id):
        return call_json(lib.cog_memory_get, self.handle, int(mem_id))

    def forget(self, mem_id):
        errors.check(lib.cog_memory_forget(self.handle, int(mem_id)))

    def forget_where(self, filter):
        count = ctypes.c_size_t()
        errors.check(lib.cog_memory_forget_where(
            self.handle, to_json_bytes(filter), ctypes.byref(count)))
        return count.value

    def search(self, text_value=None, k=None, **query):
        """Hybrid search; returns the list of results (each a dict with
        "id", "text", "score", "signals", ...). Other members of the query
        (layers, metadata, since, until, inherit, weights, vector, ...)
        are passed as keywords."""
        if text_value is not None:
            query["text"] = text_value
        if k is not None:
            query["k"] = k
        return self.search_raw(query)["results"]

    def search_raw(self, query):
        """The whole search answer ({"results":[...],"embedder":...})."""
        return call_json(lib.cog_memory_search, self.handle,
                         to_json_bytes(query))

    def record_episode(self, event):
        mem_id = ctypes.c_uint64()
        errors.check(lib.cog_memory_record_episode(
            self.handle, to_json_bytes(event), ctypes.byref(mem_id)))
        return mem_id.value

    def context(self, request):
        return call_json(lib.cog_memory_context, self.handle,
                         to_json_bytes(request))

    def estimate_tokens(self, text_value):
        n = ctypes.c_size_t()
        errors.check(lib.cog_memory_estimate_tokens(
            self.handle, to_bytes(text_value), ctypes.byref(n)))
        return n.value

    def purge(self):
        n = ctypes.c_size_t()
        errors.check(lib.cog_memory_purge(self.handle, ctypes.byref(n)))
        return n.value

    def stats(self):
        return call_json(lib.cog_memory_stats, self.handle)

    def __repr__(self):
        if self._h is None:
            return "<cognition.Memory closed>"
        return "<cognition.Memory %r>" % self.namespace

//! Memory: a namespace's layers over the context's storage.
use crate::ctx::Ctx;
use crate::error::{check, Result};
use crate::{borrowed_string, cstring, opt_cstring, opt_ptr, out_string, sys};
use std::marker::PhantomData;
use std::ptr;

/// Memory layers (`COG_MEMORY_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    Working = 0x1,
    ShortTerm = 0x2,
    LongTerm = 0x4,
    Episodic = 0x8,
}

/// `cog_memory_put_options`.
#[derive(Clone, Debug)]
pub struct PutOptions {
    pub layer: Layer,
    /// 0..1.
    pub importance: f64,
    /// 0: the layer's default.
    pub ttl_ms: i64,
    /// A JSON object.
    pub metadata: Option<String>,
    pub no_dedupe: bool,
}

impl Default for PutOptions {
    fn default() -> Self {
        PutOptions { layer: Layer::LongTerm, importance: 0.5, ttl_ms: 0, metadata: None, no_dedupe: false }
    }
}

/// What a put did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Put {
    /// A new memory with this id.
    New(u64),
    /// Merged into this existing near-duplicate.
    Merged(u64),
}

impl Put {
    pub fn id(&self) -> u64 {
        match *self {
            Put::New(id) | Put::Merged(id) => id,
        }
    }
}

/// The memory of one namespace (`cog_memory`). Used by one thread at a
/// time (memory.h): `Send`, not `Sync`.
pub struct Memory<'c> {
    raw: *mut sys::cog_memory,
    _ctx: PhantomData<&'c Ctx>,
}

// SAFETY: memory.h: "a cog_memory is used by one thread at a time".
unsafe impl<'c> Send for Memory<'c> {}

impl<'c> Memory<'c> {
    /// Open namespace `ns` ("tenant/principal/agent/session", 1..4 segments).
    pub fn open(ctx: &'c Ctx, ns: &str) -> Result<Memory<'c>> {
        let ns = cstring("namespace", ns)?;
        let mut raw = ptr::null_mut();
        check(unsafe { sys::cog_memory_open(&mut raw, ctx.as_ptr(), ns.as_ptr()) })?;
        Ok(Memory { raw, _ctx: PhantomData })
    }

    pub fn as_ptr(&self) -> *mut sys::cog_memory {
        self.raw
    }

    pub fn namespace(&self) -> String {
        unsafe { borrowed_string(sys::cog_memory_namespace(self.raw)) }.unwrap_or_default()
    }

    /// Remember `text` (long-term, importance 0.5).
    pub fn put(&mut self, text: &str) -> Result<Put> {
        self.put_with(text, &PutOptions::default())
    }

    pub fn put_with(&mut self, text: &str, options: &PutOptions) -> Result<Put> {
        let text = cstring("text", text)?;
        let metadata = opt_cstring("metadata", options.metadata.as_deref())?;
        let mut raw: sys::cog_memory_put_options = unsafe { std::mem::zeroed() };
        check(unsafe { sys::cog_memory_put_options_init(&mut raw, sys::COG_MEMORY_PUT_OPTIONS_VERSION) })?;
        raw.layer = options.layer as u32;
        raw.importance = options.importance;
        raw.ttl_ms = options.ttl_ms;
        raw.metadata = opt_ptr(&metadata);
        raw.no_dedupe = options.no_dedupe as i32;
        let mut id = 0u64;
        let rc = check(unsafe { sys::cog_memory_put(self.raw, text.as_ptr(), &raw, &mut id) })?;
        Ok(if rc == sys::COG_MEMORY_MERGED { Put::Merged(id) } else { Put::New(id) })
    }

    /// Put from JSON (`{"text":..,"metadata":..,"layer":..}`): the id.
    pub fn put_json(&mut self, item_json: &str) -> Result<u64> {
        let item = cstring("item JSON", item_json)?;
        let mut id = 0u64;
        check(unsafe { sys::cog_memory_put_json(self.raw, item.as_ptr(), &mut id) })?;
        Ok(id)
    }

    /// One memory as JSON.
    pub fn get(&mut self, id: u64) -> Result<String> {
        out_string(|out| unsafe { sys::cog_memory_get(self.raw, id, out) })
    }

    pub fn forget(&mut self, id: u64) -> Result<()> {
        check(unsafe { sys::cog_memory_forget(self.raw, id) }).map(|_| ())
    }

    /// Hybrid search; `query_json` as in memory.h (`{"text":..,"k":..}`).
    pub fn search(&mut self, query_json: &str) -> Result<String> {
        let q = cstring("query JSON", query_json)?;
        out_string(|out| unsafe { sys::cog_memory_search(self.raw, q.as_ptr(), out) })
    }

    /// Search by text alone, `k` results.
    pub fn search_text(&mut self, text: &str, k: u32) -> Result<String> {
        let mut q = String::from("{\"text\":");
        json_string(&mut q, text);
        q.push_str(&format!(",\"k\":{}}}", k));
        self.search(&q)
    }

    /// Append an episode (`{"kind":..,...}`): its id.
    pub fn record_episode(&mut self, event_json: &str) -> Result<u64> {
        let e = cstring("event JSON", event_json)?;
        let mut id = 0u64;
        check(unsafe { sys::cog_memory_record_episode(self.raw, e.as_ptr(), &mut id) })?;
        Ok(id)
    }

    /// Assemble an agent turn's context within a token budget.
    pub fn context(&mut self, request_json: &str) -> Result<String> {
        let r = cstring("request JSON", request_json)?;
        out_string(|out| unsafe { sys::cog_memory_context(self.raw, r.as_ptr(), out) })
    }

    pub fn stats(&mut self) -> Result<String> {
        out_string(|out| unsafe { sys::cog_memory_stats(self.raw, out) })
    }
}

impl<'c> Drop for Memory<'c> {
    fn drop(&mut self) {
        unsafe { sys::cog_memory_free(self.raw) }
    }
}

/// Appends `s` as a JSON string literal.
pub(crate) fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

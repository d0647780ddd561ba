// A C++17 host: small RAII owners over the C handles, exceptions carrying
// the status and cog_error_last(), and a lambda as the task executor.
// Copy the `cog` namespace below into your program and grow it as needed.
#include <cstdint>
#include <exception>
#include <functional>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>

#include <cognition.h>

namespace cog {

// A failed call: the status code and the library's message.
class Error : public std::runtime_error {
public:
	Error(int status, const std::string &what)
		: std::runtime_error(what + ": " + cog_error_last() + " (" +
		                     cog_strerror(status) + ")"),
		  status_(status) {}
	int status() const { return status_; }

private:
	int status_;
};

// Throw on a negative status (some calls return positive successes).
inline int check(int rc, const char *what)
{
	if (rc < 0)
		throw Error(rc, what);
	return rc;
}

// unique_ptr owners that call the right _free function.
template <typename T, void (*Free)(T *)> struct Deleter {
	void operator()(T *p) const { Free(p); }
};
template <typename T, void (*Free)(T *)>
using Owner = std::unique_ptr<T, Deleter<T, Free>>;

// Text the library allocated, copied into a std::string and freed.
inline void free_text(char *text) { cog_free(text); }
inline std::string take(char *text)
{
	Owner<char, free_text> owner(text);
	return text ? std::string(text) : std::string();
}

using Executor = std::function<std::string(cog_task_call *)>;

class Ctx {
public:
	Ctx()
	{
		cog_ctx *ctx = nullptr;
		check(cog_ctx_new(&ctx, nullptr), "cog_ctx_new");
		ctx_.reset(ctx);
	}
	cog_ctx *get() const { return ctx_.get(); }

	void use_memory_storage()
	{
		cog_storage *storage = nullptr;
		check(cog_storage_memory_new(&storage), "cog_storage_memory_new");
		check(cog_ctx_set_storage(get(), storage), "cog_ctx_set_storage"); // owns it
	}

	// The executor returns the task's result as JSON text, or throws: an
	// exception must never cross the C library, so it becomes the task's
	// error (COG_EUSER with the exception's text).
	void set_executor(Executor fn)
	{
		// The new executor is installed before the old one is freed: the
		// context never holds a pointer to a destroyed executor, and if
		// installing fails the old one stays in place.
		auto next = std::make_unique<Executor>(std::move(fn));
		check(cog_ctx_set_task_executor(get(), run_task, next.get()),
		      "cog_ctx_set_task_executor");
		executor_ = std::move(next);
	}

private:
	static int run_task(cog_task_call *call, void *user_data)
	{
		try {
			std::string result = (*static_cast<Executor *>(user_data))(call);
			return cog_task_call_set_result(call, result.c_str());
		} catch (const std::exception &e) {
			return cog_error_set(COG_EUSER, "%s", e.what());
		} catch (...) {
			return cog_error_set(COG_EUSER, "unknown exception");
		}
	}

	// Declared first so it is destroyed last: the context may still call
	// the executor until it is freed.
	std::unique_ptr<Executor> executor_;
	Owner<cog_ctx, cog_ctx_free> ctx_;
};

class Plan {
public:
	Plan(Ctx &ctx, const std::string &json)
	{
		cog_plan *plan = nullptr;
		check(cog_plan_from_json(&plan, ctx.get(), json.c_str()), "cog_plan_from_json");
		plan_.reset(plan);
	}
	void run() { check(cog_plan_run(plan_.get(), nullptr), "cog_plan_run"); }
	std::string status()
	{
		char *json = nullptr;
		check(cog_plan_status(plan_.get(), &json), "cog_plan_status");
		return take(json);
	}

private:
	Owner<cog_plan, cog_plan_free> plan_;
};

class Memory {
public:
	Memory(Ctx &ctx, const std::string &ns)
	{
		cog_memory *mem = nullptr;
		check(cog_memory_open(&mem, ctx.get(), ns.c_str()), "cog_memory_open");
		mem_.reset(mem);
	}
	std::uint64_t put(const std::string &text)
	{
		std::uint64_t id = 0;
		check(cog_memory_put(mem_.get(), text.c_str(), nullptr, &id), "cog_memory_put");
		return id;
	}
	std::string search(const std::string &query_json)
	{
		char *json = nullptr;
		check(cog_memory_search(mem_.get(), query_json.c_str(), &json), "cog_memory_search");
		return take(json);
	}

private:
	Owner<cog_memory, cog_memory_free> mem_;
};

} // namespace cog

int main()
{
	try {
		cog::Ctx ctx;
		ctx.use_memory_storage();

		cog::Memory memory(ctx, "demo/alice");
		memory.put("The invoice for March was paid on the 4th of April.");
		memory.put("Alice prefers short answers.");
		std::cout << "search: " << memory.search(R"({"text":"when was the invoice paid","k":1})")
		          << "\n";

		ctx.set_executor([](cog_task_call *call) -> std::string {
			std::string id = cog_task_call_task_id(call);
			if (id == "explode")
				throw std::runtime_error("task explode threw on purpose");
			return R"({"greeting":"hello from )" + id + R"("})";
		});
		cog::Plan plan(ctx, R"({"version":1,"goal":"greet","tasks":[
			{"id":"greet"},{"id":"explode","depends_on":["greet"]}]})");
		try {
			plan.run();
		} catch (const cog::Error &e) {
			std::cout << "run failed with status " << e.status() << ": " << e.what() << "\n";
		}
		std::cout << "status: " << plan.status() << "\n";

		// Bad input: a plan with a cycle is refused with the library's message.
		cog::Plan cyclic(ctx, R"({"version":1,"goal":"loop","tasks":[
			{"id":"a","depends_on":["b"]},{"id":"b","depends_on":["a"]}]})");
		cyclic.run();
		std::cerr << "cpp-host: the cyclic plan ran\n";
		return 1;
	} catch (const cog::Error &e) {
		std::cout << "error " << e.status() << ": " << e.what() << "\n";
		return e.status() == COG_ECYCLE ? 0 : 1;
	}
}

// shim.cc - the C++ side of shim.h: forwards every call to Google Benchmark.
// No logic lives here; the cases are C (cases.c).
#include "shim.h"

#include <benchmark/benchmark.h>

#include <string>

namespace {

benchmark::State &state_of(fb_state *state)
{
    return *reinterpret_cast<benchmark::State *>(state);
}

const benchmark::State &state_of(const fb_state *state)
{
    return *reinterpret_cast<const benchmark::State *>(state);
}

void (*user_help)(void) = nullptr;

void print_help()
{
    if (user_help != nullptr)
        user_help();
    benchmark::PrintDefaultHelp();
}

} // namespace

extern "C" {

int fb_init(int *argc, char **argv, void (*help)(void))
{
    user_help = help;
    benchmark::Initialize(argc, argv, print_help);
    return benchmark::ReportUnrecognizedArguments(*argc, argv) ? 1 : 0;
}

void fb_register(const char *name, fb_case_fn fn, const void *arg,
                 int real_time)
{
    benchmark::internal::Benchmark *b =
        benchmark::RegisterBenchmark(name, [fn, arg](benchmark::State &state) {
            fn(reinterpret_cast<fb_state *>(&state), arg);
        });

    b->MeasureProcessCPUTime()->Unit(benchmark::kMillisecond);
    if (real_time)
        b->UseRealTime();
}

void fb_add_context(const char *key, const char *value)
{
    benchmark::AddCustomContext(key, value);
}

size_t fb_run(void)
{
    return benchmark::RunSpecifiedBenchmarks();
}

void fb_shutdown(void)
{
    benchmark::Shutdown();
}

int fb_keep_running(fb_state *state)
{
    return state_of(state).KeepRunning() ? 1 : 0;
}

int64_t fb_iterations(const fb_state *state)
{
    return static_cast<int64_t>(state_of(state).iterations());
}

void fb_skip_with_error(fb_state *state, const char *message)
{
    state_of(state).SkipWithError(message);
}

void fb_counter(fb_state *state, const char *name, double value,
                fb_counter_kind kind)
{
    benchmark::Counter counter;

    switch (kind) {
    case FB_COUNTER_RATE:
        counter = benchmark::Counter(value,
                                     benchmark::Counter::kIsIterationInvariantRate);
        break;
    case FB_COUNTER_BYTES:
        counter = benchmark::Counter(value, benchmark::Counter::kDefaults,
                                     benchmark::Counter::kIs1024);
        break;
    case FB_COUNTER_VALUE:
    default:
        counter = benchmark::Counter(value);
        break;
    }
    state_of(state).counters[name] = counter;
}

void fb_set_label(fb_state *state, const char *label)
{
    state_of(state).SetLabel(label);
}

} // extern "C"

// What one forecast_hourly() call costs (src/core/forecast.hpp): CPU time
// per forecast of synthetic series, the thread's CPU clock over rounds of
// calls, the fastest round and the median one. On a shared machine the CPU
// time still varies with what else runs; bench/forecast.sh also counts the
// instructions under callgrind, which do not.
//
//   forecast_bench [rounds [calls per round]]     (default 15 x 20)
//   forecast_bench --calls N                      N forecasts of the 504-hour
//                                                 load, nothing printed (callgrind)
#include "core/forecast.hpp"
#include "core/random.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <vector>

using namespace presplit::core;

namespace {

constexpr double kPi = 3.14159265358979323846;

double cpu_seconds() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double gaussian(SplitMix64& random) {
    double u1 = 1 - random.unit(), u2 = random.unit();
    return std::sqrt(-2 * std::log(u1)) * std::cos(2 * kPi * u2);
}

// A load: daily cycle 4x, weekends at 0.6, +2 %/day, 7 % noise.
std::vector<double> load(size_t n) {
    SplitMix64 random{42};
    std::vector<double> y(n);
    for (size_t t = 0; t < n; t++) {
        double cycle = 0.5 + 0.5 * std::cos(2 * kPi * (static_cast<double>(t % 24) - 15) / 24);
        double v = 100 * std::pow(1.02, static_cast<double>(t) / 24) * (1 + 3 * cycle);
        if ((t / 24) % 7 >= 5)
            v *= 0.6;
        y[t] = v * (1 + 0.07 * gaussian(random));
    }
    return y;
}

// A size: the sum of inserts that follow the same daily cycle.
std::vector<double> size(size_t n) {
    std::vector<double> inserts = load(n), y(n);
    double bytes = 5e9;
    for (size_t t = 0; t < n; t++)
        y[t] = bytes += 2e4 * inserts[t];
    return y;
}

struct Case {
    const char* name;
    std::vector<double> history;
    bool multiplicative;
};

} // namespace

int main(int argc, char** argv) {
    if (argc == 3 && std::strcmp(argv[1], "--calls") == 0) {
        std::vector<double> y = load(kMaxHistoryHours);
        double sink = 0;
        for (long i = std::atol(argv[2]); i > 0; i--)
            sink += forecast_hourly(y.data(), y.size(), ForecastOptions{}).hours[0].upper;
        return sink > 0 ? 0 : 1;
    }
    int rounds = argc > 1 ? std::atoi(argv[1]) : 15;
    int calls = argc > 2 ? std::atoi(argv[2]) : 20;
    const Case cases[] = {
        {"load, 504 h (3 weeks)", load(kMaxHistoryHours), true},
        {"size, 504 h (additive)", size(kMaxHistoryHours), false},
        {"load, 200 h", load(200), true},
        {"load, 72 h", load(72), true},
        {"load, 30 h (short)", load(30), true},
    };
    std::printf("%-24s %12s %12s  %s\n", "series", "fastest us", "median us", "model");
    for (const Case& c : cases) {
        ForecastOptions options;
        options.multiplicative = c.multiplicative;
        std::vector<double> per_call;
        Forecast f{};
        for (int r = 0; r < rounds; r++) {
            double start = cpu_seconds();
            for (int i = 0; i < calls; i++)
                f = forecast_hourly(c.history.data(), c.history.size(), options);
            per_call.push_back((cpu_seconds() - start) / calls * 1e6);
        }
        std::sort(per_call.begin(), per_call.end());
        std::printf("%-24s %12.0f %12.0f  %s%s\n", c.name, per_call.front(),
                    per_call[per_call.size() / 2], f.on_increments ? "increments, " : "",
                    model_name(f.model));
    }
    return 0;
}

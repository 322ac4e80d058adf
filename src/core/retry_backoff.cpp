#include "core/retry_backoff.hpp"

#include <algorithm>
#include <cstdio>

namespace presplit::core {

namespace {
constexpr int64_t kFirstDelayMs = 500;
constexpr int64_t kMaxDelayMs = 10000;

bool power_of_two(int n) {
    return n > 0 && (n & (n - 1)) == 0;
}
} // namespace

int64_t retry_delay_ms(int failures) {
    const int doublings = std::clamp(failures - 1, 0, 5); // 500 << 5 is past the cap
    return std::min<int64_t>(kFirstDelayMs << doublings, kMaxDelayMs);
}

int64_t RetryBackoff::wait_ms(int64_t key, int64_t now_ms) const {
    auto found = entries_.find(key);
    if (found == entries_.end())
        return 0;
    return std::max<int64_t>(found->second.next_try_ms - now_ms, 0);
}

RetryBackoff::Failure RetryBackoff::failed(int64_t key, int64_t now_ms, const std::string& error) {
    Entry& entry = entries_[key];
    if (entry.failures < 1000000)
        ++entry.failures;
    Failure failure;
    failure.in_a_row = entry.failures;
    failure.retry_in_ms = retry_delay_ms(entry.failures);
    failure.report = error != entry.reported_error || power_of_two(entry.failures);
    if (failure.report)
        entry.reported_error = error;
    entry.next_try_ms = now_ms + failure.retry_in_ms;
    return failure;
}

std::string describe_retry(const RetryBackoff::Failure& failure) {
    char text[80];
    snprintf(text, sizeof text, "failure %d in a row, next try in %.1f s", failure.in_a_row,
             static_cast<double>(failure.retry_in_ms) / 1000.0);
    return text;
}

void RetryBackoff::succeeded(int64_t key) {
    entries_.erase(key);
}

} // namespace presplit::core

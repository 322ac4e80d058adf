#include "core/server_choice.hpp"

#include <algorithm>
#include <set>

namespace presplit::core {
namespace {

bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

} // namespace

std::optional<std::vector<std::string>> parse_server_list(std::string_view text) {
    std::vector<std::string> names;
    size_t i = 0;
    auto skip_blanks = [&] {
        while (i < text.size() && is_blank(text[i]))
            ++i;
    };
    skip_blanks();
    if (i == text.size())
        return names;
    while (true) {
        std::string name;
        if (i < text.size() && text[i] == '"') {
            ++i;
            while (true) {
                if (i == text.size())
                    return std::nullopt; // unterminated quote
                if (text[i] == '"') {
                    if (i + 1 < text.size() && text[i + 1] == '"') {
                        name += '"';
                        i += 2;
                        continue;
                    }
                    ++i;
                    break;
                }
                name += text[i++];
            }
        } else {
            while (i < text.size() && text[i] != ',' && !is_blank(text[i]) && text[i] != '"')
                name += lower(text[i++]);
        }
        if (name.empty())
            return std::nullopt;
        names.push_back(std::move(name));
        skip_blanks();
        if (i == text.size())
            return names;
        if (text[i] != ',')
            return std::nullopt; // two names without a comma
        ++i;
        skip_blanks();
    }
}

std::vector<std::string> servers_to_try(const std::vector<std::string>& list,
                                        const std::map<std::string, int>& targets) {
    std::vector<std::string> servers;
    std::set<std::string> seen;
    for (const std::string& name : list)
        if (seen.insert(name).second)
            servers.push_back(name);
    auto count = [&](const std::string& name) {
        auto found = targets.find(name);
        return found == targets.end() ? 0 : found->second;
    };
    std::stable_sort(servers.begin(), servers.end(),
                     [&](const auto& a, const auto& b) { return count(a) < count(b); });
    return servers;
}

} // namespace presplit::core

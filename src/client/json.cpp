#include "client/json.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace presplit::client {

Json& Json::push(Json value) {
    if (kind_ != Kind::array)
        throw std::logic_error("Json::push on a value that is not an array");
    items_.push_back(std::move(value));
    return *this;
}

Json& Json::set(const std::string& key, Json value) {
    if (kind_ != Kind::object)
        throw std::logic_error("Json::set on a value that is not an object");
    for (auto& member : members_)
        if (member.first == key) {
            member.second = std::move(value);
            return *this;
        }
    members_.emplace_back(key, std::move(value));
    return *this;
}

const Json* Json::get(const std::string& key) const {
    for (const auto& member : members_)
        if (member.first == key)
            return &member.second;
    return nullptr;
}

std::string json_quote(const std::string& text) {
    std::string out = "\"";
    for (unsigned char c : text) {
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                char escaped[8];
                std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
                out += escaped;
            } else {
                out += static_cast<char>(c); // UTF-8 passes through
            }
        }
    }
    return out + "\"";
}

void Json::dump_to(std::string& out) const {
    switch (kind_) {
    case Kind::null:
        out += "null";
        break;
    case Kind::boolean:
        out += boolean_ ? "true" : "false";
        break;
    case Kind::integer:
        out += std::to_string(integer_);
        break;
    case Kind::number: {
        if (!std::isfinite(number_)) {
            out += "null";
            break;
        }
        char text[32];
        if (number_ == std::floor(number_) && std::fabs(number_) < 1e15) { // integral: no exponent
            std::snprintf(text, sizeof text, "%.0f", number_);
            out += text;
            break;
        }
        std::snprintf(text, sizeof text, "%.17g", number_);
        // Shortest form that reads back the same.
        for (int precision = 1; precision <= 17; ++precision) {
            char shorter[32];
            std::snprintf(shorter, sizeof shorter, "%.*g", precision, number_);
            if (std::strtod(shorter, nullptr) == number_) {
                out += shorter;
                return;
            }
        }
        out += text;
        break;
    }
    case Kind::string:
        out += json_quote(string_);
        break;
    case Kind::array:
        out += '[';
        for (size_t i = 0; i < items_.size(); ++i) {
            if (i > 0)
                out += ',';
            items_[i].dump_to(out);
        }
        out += ']';
        break;
    case Kind::object:
        out += '{';
        for (size_t i = 0; i < members_.size(); ++i) {
            if (i > 0)
                out += ',';
            out += json_quote(members_[i].first);
            out += ':';
            members_[i].second.dump_to(out);
        }
        out += '}';
        break;
    }
}

std::string Json::dump() const {
    std::string out;
    dump_to(out);
    return out;
}

} // namespace presplit::client

// A JSON value for --json output: null, boolean, number, string, array, and
// object with its keys in insertion order (so documents read in the order
// they are written). Pure: unit-tested in test/unit/client_json_test.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace presplit::client {

class Json {
public:
    enum class Kind { null, boolean, integer, number, string, array, object };

    Json() = default; // null
    Json(std::nullptr_t) {}
    Json(bool value) : kind_(Kind::boolean), boolean_(value) {}
    Json(int value) : kind_(Kind::integer), integer_(value) {}
    Json(long value) : kind_(Kind::integer), integer_(value) {}
    Json(long long value) : kind_(Kind::integer), integer_(value) {}
    Json(unsigned long value) : kind_(Kind::integer), integer_(static_cast<int64_t>(value)) {}
    Json(unsigned long long value) : kind_(Kind::integer), integer_(static_cast<int64_t>(value)) {}
    Json(double value) : kind_(Kind::number), number_(value) {}
    Json(const char* value) : kind_(Kind::string), string_(value) {}
    Json(std::string value) : kind_(Kind::string), string_(std::move(value)) {}
    template <typename T>
    Json(const std::optional<T>& value) {
        if (value)
            *this = Json(*value);
    }

    static Json array() {
        Json json;
        json.kind_ = Kind::array;
        return json;
    }
    static Json object() {
        Json json;
        json.kind_ = Kind::object;
        return json;
    }

    Kind kind() const { return kind_; }
    // Appends to an array.
    Json& push(Json value);
    // Sets a key of an object (replacing an earlier value of that key).
    Json& set(const std::string& key, Json value);
    // The value of a key of an object, or nullptr.
    const Json* get(const std::string& key) const;
    size_t size() const { return kind_ == Kind::object ? members_.size() : items_.size(); }
    const Json& operator[](size_t i) const { return items_.at(i); }
    const std::string& string() const { return string_; }
    int64_t integer() const { return integer_; }

    // Compact, one line; NaN and infinities are written as null (JSON has none).
    std::string dump() const;

private:
    void dump_to(std::string& out) const;

    Kind kind_ = Kind::null;
    bool boolean_ = false;
    int64_t integer_ = 0;
    double number_ = 0;
    std::string string_;
    std::vector<Json> items_;
    std::vector<std::pair<std::string, Json>> members_;
};

// A JSON string literal (quotes included) with everything escaped that must be.
std::string json_quote(const std::string& text);

} // namespace presplit::client

#include "analyzer/key_axis.hpp"

#include "core/key_bytes.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_am.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/pg_locale.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"
}

#include <cmath>
#include <cstring>
#include <limits>

namespace presplit::analyzer {
namespace {

std::optional<double> number_position(Datum value, Oid type) {
    switch (type) {
    case INT2OID:
        return DatumGetInt16(value);
    case INT4OID:
        return DatumGetInt32(value);
    case INT8OID:
        return static_cast<double>(DatumGetInt64(value));
    case FLOAT4OID:
        return DatumGetFloat4(value);
    case FLOAT8OID:
        return DatumGetFloat8(value);
    case NUMERICOID:
        return pg::call(
            [&] { return DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow, value)); });
    case DATEOID: {
        DateADT date = DatumGetDateADT(value);
        if (DATE_NOT_FINITE(date))
            return std::nullopt;
        return date;
    }
    case TIMESTAMPOID:
    case TIMESTAMPTZOID: {
        int64 ts = DatumGetInt64(value);
        if (TIMESTAMP_NOT_FINITE(ts))
            return std::nullopt;
        return static_cast<double>(ts);
    }
    default:
        return std::nullopt;
    }
}

bool is_number_type(Oid type) {
    switch (type) {
    case INT2OID:
    case INT4OID:
    case INT8OID:
    case FLOAT4OID:
    case FLOAT8OID:
    case NUMERICOID:
    case DATEOID:
    case TIMESTAMPOID:
    case TIMESTAMPTZOID:
        return true;
    default:
        return false;
    }
}

std::optional<Datum> number_at(double position, Oid type) {
    switch (type) {
    case INT2OID:
        return Int16GetDatum(static_cast<int16>(std::llround(position)));
    case INT4OID:
        return Int32GetDatum(static_cast<int32>(std::llround(position)));
    case INT8OID:
        return Int64GetDatum(static_cast<int64>(std::llround(position)));
    case FLOAT4OID:
        return Float4GetDatum(static_cast<float4>(position));
    case FLOAT8OID:
        return Float8GetDatum(position);
    case NUMERICOID:
        return pg::call(
            [&] { return DirectFunctionCall1(float8_numeric, Float8GetDatum(position)); });
    case DATEOID:
        return DateADTGetDatum(static_cast<DateADT>(std::llround(position)));
    case TIMESTAMPOID:
    case TIMESTAMPTZOID:
        return Int64GetDatum(static_cast<int64>(std::llround(position)));
    default:
        return std::nullopt;
    }
}

bool is_text_type(Oid type) {
    return type == TEXTOID || type == VARCHAROID;
}

// PostgreSQL code (inside pg::call; this frame owns nothing): the sort key of
// text bytes under a collation, palloc'd unless it is the bytes themselves.
// The byte order of sort keys is the collation's order (the terminating zero
// of ICU's keys is left out: it sorts the same without it).
struct Bytes {
    const uint8_t* data;
    size_t size;
};

Bytes text_sort_key(const char* data, size_t size, Oid collation) {
    if (lc_collate_is_c(collation))
        return {reinterpret_cast<const uint8_t*>(data), size};
    pg_locale_t locale = pg_newlocale_from_collation(collation); // 0: the libc default
#ifdef USE_ICU
    if (locale != nullptr && locale->provider == COLLPROVIDER_ICU) {
        UChar* characters;
        int32_t length = icu_to_uchar(&characters, data, size);
        int32_t capacity = 32 + 4 * length;
        auto* key = static_cast<uint8_t*>(palloc(static_cast<Size>(capacity)));
        int32_t needed = ucol_getSortKey(locale->info.icu.ucol, characters, length, key, capacity);
        if (needed > capacity) {
            key = static_cast<uint8_t*>(repalloc(key, static_cast<Size>(needed)));
            needed = ucol_getSortKey(locale->info.icu.ucol, characters, length, key, needed);
        }
        pfree(characters);
        return {key, needed > 0 ? static_cast<size_t>(needed - 1) : 0};
    }
#endif
    char* source = pnstrdup(data, size); // strxfrm wants a terminated string
    size_t capacity = 16 + 4 * size;
    char* key = static_cast<char*>(palloc(capacity));
    auto transform = [&](size_t room) {
#ifdef HAVE_LOCALE_T
        if (locale != nullptr)
            return strxfrm_l(key, source, room, locale->info.lt);
#endif
        return strxfrm(key, source, room);
    };
    size_t needed = transform(capacity);
    if (needed >= capacity) {
        key = static_cast<char*>(repalloc(key, needed + 1));
        needed = transform(needed + 1);
    }
    pfree(source);
    return {reinterpret_cast<const uint8_t*>(key), needed};
}

void free_sort_key(const Bytes& key, const char* data) {
    if (key.data != reinterpret_cast<const uint8_t*>(data))
        pfree(const_cast<uint8_t*>(key.data));
}

// PostgreSQL code (inside pg::call): a text key placed on a text axis.
PlacedKey place_text(const KeyAxis& axis, Datum value) {
    text* key = DatumGetTextPP(value);
    const char* data = VARDATA_ANY(key);
    const auto size = static_cast<size_t>(VARSIZE_ANY_EXHDR(key));
    PlacedKey placed{};
    Bytes sort_key = text_sort_key(data, size, axis.collation);
    placed.position = core::byte_position(sort_key.data, sort_key.size, axis.prefix);
    free_sort_key(sort_key, data);
    // The image: the key cut to what a KeyImage holds, at a character
    // boundary; placed where the cut key sorts.
    const auto kept = static_cast<size_t>(
        pg_mbcliplen(data, static_cast<int>(size), static_cast<int>(core::KeyImage::kBytes)));
    placed.has_end = true;
    placed.end.image.size = static_cast<uint8_t>(kept);
    std::memcpy(placed.end.image.bytes, data, kept);
    placed.end.position = placed.position;
    if (kept < size) {
        Bytes cut = text_sort_key(data, kept, axis.collation);
        placed.end.position = core::byte_position(cut.data, cut.size, axis.prefix);
        free_sort_key(cut, data);
    }
    if (reinterpret_cast<Pointer>(key) != DatumGetPointer(value))
        pfree(key);
    return placed;
}

// The sort key of a bound (uuid: its bytes), as a string, for the prefix.
std::string bound_sort_key(const KeyAxis& axis, Datum value) {
    if (axis.kind == KeyAxis::Kind::uuid) {
        const pg_uuid_t* uuid = DatumGetUUIDP(value);
        return std::string(reinterpret_cast<const char*>(uuid->data), UUID_LEN);
    }
    Bytes key{};
    const char* data = nullptr;
    // Copied out of PostgreSQL's memory outside pg::call: std::string owns.
    const char* copy = pg::call([&] {
        text* value_text = DatumGetTextPP(value);
        data = VARDATA_ANY(value_text);
        key =
            text_sort_key(data, static_cast<size_t>(VARSIZE_ANY_EXHDR(value_text)), axis.collation);
        return reinterpret_cast<const char*>(key.data);
    });
    return std::string(copy, key.size);
}

// Whether an operator class is a btree class marked default (for its input
// type, or one binary-coercible to it: text_ops for varchar).
bool is_default_btree_class(Oid opclass) {
    return pg::call([&] {
        HeapTuple tuple = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclass));
        if (!HeapTupleIsValid(tuple))
            return false;
        auto* form = reinterpret_cast<Form_pg_opclass>(GETSTRUCT(tuple));
        const bool result = form->opcmethod == BTREE_AM_OID && form->opcdefault;
        ReleaseSysCache(tuple);
        return result;
    });
}

} // namespace

KeyAxis key_axis_for(Oid type, Oid opclass, Oid collation) {
    KeyAxis axis;
    axis.type = type;
    if (!OidIsValid(opclass))
        return axis;
    axis.opfamily = pg::call([&] { return get_opclass_family(opclass); });
    const bool default_class = is_default_btree_class(opclass);
    if (is_number_type(type) && default_class) {
        axis.kind = KeyAxis::Kind::number;
    } else if (type == UUIDOID && default_class) {
        axis.kind = KeyAxis::Kind::uuid;
    } else if (is_text_type(type) && default_class && OidIsValid(collation)) {
        axis.kind = KeyAxis::Kind::text;
        axis.collation = collation;
        axis.collation_matters = true;
    } else if (is_text_type(type) && (opclass == TEXT_BTREE_PATTERN_OPS_OID ||
                                      opclass == VARCHAR_BTREE_PATTERN_OPS_OID)) {
        axis.kind = KeyAxis::Kind::text; // byte order, whatever the collation
        axis.collation = C_COLLATION_OID;
    }
    return axis;
}

void narrow_axis(KeyAxis& axis, const Datum* lower, const Datum* upper) {
    axis.prefix.clear();
    if ((axis.kind != KeyAxis::Kind::uuid && axis.kind != KeyAxis::Kind::text) ||
        lower == nullptr || upper == nullptr)
        return;
    axis.prefix = core::common_prefix(bound_sort_key(axis, *lower), bound_sort_key(axis, *upper));
}

std::optional<PlacedKey> place_key(const KeyAxis& axis, Datum value, Oid value_type) {
    switch (axis.kind) {
    case KeyAxis::Kind::number: {
        std::optional<double> position = number_position(value, value_type);
        if (!position)
            return std::nullopt;
        return PlacedKey{*position, false, {}};
    }
    case KeyAxis::Kind::uuid: {
        if (value_type != UUIDOID)
            return std::nullopt;
        const pg_uuid_t* uuid = DatumGetUUIDP(value);
        return PlacedKey{core::byte_position(uuid->data, UUID_LEN, axis.prefix), false, {}};
    }
    case KeyAxis::Kind::text:
        if (!is_text_type(value_type))
            return std::nullopt;
        return pg::call([&] { return place_text(axis, value); });
    default:
        return std::nullopt;
    }
}

bool positions_are_keys(const KeyAxis& axis) {
    return axis.kind == KeyAxis::Kind::number || axis.kind == KeyAxis::Kind::uuid;
}

std::string position_text(const KeyAxis& axis, double position) {
    std::optional<Datum> value;
    pg_uuid_t uuid{};
    if (axis.kind == KeyAxis::Kind::number) {
        value = number_at(position, axis.type);
    } else if (axis.kind == KeyAxis::Kind::uuid) {
        // The prefix, the position's bytes, zeros.
        size_t at = std::min(axis.prefix.size(), static_cast<size_t>(UUID_LEN));
        std::memcpy(uuid.data, axis.prefix.data(), at);
        uint8_t bytes[8];
        core::position_bytes(position, bytes);
        for (size_t i = 0; i < 8 && at < UUID_LEN; i++)
            uuid.data[at++] = bytes[i];
        value = UUIDPGetDatum(&uuid);
    }
    if (!value)
        return std::to_string(position);
    const char* text = pg::call([&] {
        Oid output;
        bool varlena;
        getTypeOutputInfo(axis.type, &output, &varlena);
        return OidOutputFunctionCall(output, *value);
    });
    return text;
}

std::string image_text(const core::KeyImage& image) {
    const size_t size = std::min(static_cast<size_t>(image.size), core::KeyImage::kBytes);
    return std::string(image.bytes, size);
}

} // namespace presplit::analyzer

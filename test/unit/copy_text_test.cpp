#include "core/copy_text.hpp"

#include <gtest/gtest.h>

using namespace presplit::core;

TEST(CopyText, ColumnsSeparatedByTabsAndNullAsBackslashN) {
    std::string line;
    append_copy_field(line, "1", true);
    append_copy_field(line, nullptr, false);
    append_copy_field(line, "", false);
    EXPECT_EQ(line, "1\t\\N\t");
}

TEST(CopyText, EscapesWhatCopyFromWouldReadAsSyntax) {
    std::string line;
    append_copy_field(line, "a\\b\tc\nd\re", true);
    EXPECT_EQ(line, "a\\\\b\\tc\\nd\\re");
}

TEST(CopyText, TheTextNullIsNotNull) {
    std::string line;
    append_copy_field(line, "\\N", true);
    EXPECT_EQ(line, "\\\\N");
}

TEST(CopyText, MultibyteTextPassesUnchanged) {
    std::string line;
    append_copy_field(line,
                      "gr\xc3\xbc\xc3\x9f"
                      "e \xe6\x97\xa5",
                      true);
    EXPECT_EQ(line, "gr\xc3\xbc\xc3\x9f"
                    "e \xe6\x97\xa5");
}

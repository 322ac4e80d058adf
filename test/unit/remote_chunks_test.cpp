#include "core/remote_chunks.hpp"

#include <gtest/gtest.h>

using namespace presplit::core;

namespace {

RemoteChunks running(const std::string& from, std::optional<std::string> below,
                     bool folded = false) {
    RemoteChunks chunks;
    chunks.copied_below = from;
    chunks.chunk_running = true;
    chunks.chunk_below = below;
    chunks.folded = folded;
    return chunks;
}

void expect_same(const std::optional<RemoteChunks>& back, const RemoteChunks& chunks,
                 const std::string& text) {
    ASSERT_TRUE(back.has_value()) << text;
    EXPECT_EQ(back->copied_below, chunks.copied_below) << text;
    EXPECT_EQ(back->chunk_running, chunks.chunk_running) << text;
    EXPECT_EQ(back->chunk_below, chunks.chunk_below) << text;
    EXPECT_EQ(back->folded, chunks.folded) << text;
}

// What is written reads back the same, and so does `text`, the state as
// array_out prints it (what the catalog hands back).
void expect_round_trip(const RemoteChunks& chunks, const std::string& text) {
    const std::optional<std::string> written = format_remote_chunks(chunks);
    ASSERT_TRUE(written.has_value());
    expect_same(parse_remote_chunks(*written), chunks, *written);
    expect_same(parse_remote_chunks(text), chunks, text);
}

} // namespace

TEST(RemoteChunks, EachStateReadsBackAsItWasWritten) {
    RemoteChunks idle;
    idle.copied_below = "2026-11-16 00:00:00+00";
    expect_round_trip(idle, "{\"2026-11-16 00:00:00+00\"}");
    expect_round_trip(running("1000", std::string("2000")), "{1000,2000}");
    expect_round_trip(running("1000", std::nullopt), "{1000,NULL}");
    expect_round_trip(running("1000", std::string("2000"), true), "{1000,2000,folded}");
    expect_round_trip(running("1000", std::nullopt, true), "{1000,NULL,folded}");
    // Keys are text: a key that looks like the marker is still a key.
    expect_round_trip(running("folded", std::string("NULL")), "{folded,\"NULL\"}");
    EXPECT_EQ(format_remote_chunks(std::nullopt), std::nullopt);
}

TEST(RemoteChunks, MalformedStatesAreRefused) {
    for (const char* bad : {"{}", "{NULL}", "{1,2,3}", "{1,2,folded,4}", "not an array"})
        EXPECT_FALSE(parse_remote_chunks(bad).has_value()) << bad;
}

TEST(RemoteChunks, AFoldHandsTheChunkToTheTargetAndTheLastEndsTheChunks) {
    const std::optional<RemoteChunks> next = after_fold(running("1000", std::string("2000"), true));
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(next->copied_below, "2000");
    EXPECT_FALSE(next->chunk_running);
    EXPECT_FALSE(next->folded);
    EXPECT_FALSE(after_fold(running("1000", std::nullopt, true)).has_value());
}

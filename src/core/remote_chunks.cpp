#include "core/remote_chunks.hpp"

#include "core/text_array.hpp"

namespace presplit::core {

namespace {
constexpr const char* kFolded = "folded";
}

std::optional<std::string> format_remote_chunks(const std::optional<RemoteChunks>& chunks) {
    if (!chunks)
        return std::nullopt;
    TextArray elements{chunks->copied_below};
    if (chunks->chunk_running) {
        elements.push_back(chunks->chunk_below);
        if (chunks->folded)
            elements.push_back(std::string(kFolded));
    }
    return format_text_array(elements);
}

std::optional<RemoteChunks> parse_remote_chunks(const std::string& stored) {
    const std::optional<TextArray> elements = parse_text_array(stored);
    if (!elements || elements->empty() || elements->size() > 3 || !(*elements)[0] ||
        (elements->size() == 3 && (*elements)[2] != std::optional<std::string>(kFolded)))
        return std::nullopt;
    RemoteChunks chunks;
    chunks.copied_below = *(*elements)[0];
    chunks.chunk_running = elements->size() >= 2;
    if (chunks.chunk_running)
        chunks.chunk_below = (*elements)[1];
    chunks.folded = elements->size() == 3;
    return chunks;
}

std::optional<RemoteChunks> after_fold(const RemoteChunks& chunks) {
    if (!chunks.chunk_below)
        return std::nullopt;
    RemoteChunks after;
    after.copied_below = *chunks.chunk_below;
    return after;
}

} // namespace presplit::core

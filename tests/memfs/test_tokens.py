from letta_ls.memfs.tokens import count_blob, estimate_tokens, get_token_counter


def test_exact_o200k_counts_offline():
    counter = get_token_counter()
    assert counter.exact and counter.encoding == "o200k_base"
    assert counter.count("hello world") == 2
    assert counter.count("") == 0


def test_long_input_is_chunked_instead_of_failing():
    counter = get_token_counter()
    line = "The quick brown fox jumps over the lazy dog.\n"
    text = line * 30_000  # 1.35 million characters: over the tokenizer's single-call limit
    assert abs(counter.count(text) - counter.count(line) * 30_000) <= 10


def test_estimate_is_labelled_and_bytes_over_four():
    counter = get_token_counter(exact=False)
    assert not counter.exact and "estimate" in counter.label
    assert counter.count("abcdefgh") == 2 == estimate_tokens("abcdefgh")
    assert estimate_tokens("é") == 1


def test_count_blob_memoises_by_content_id():
    counter = get_token_counter()
    assert count_blob(counter, "blob-1", "one two three") == counter.count("one two three")
    assert count_blob(counter, "blob-1", "ignored: same blob id means same content") == 3

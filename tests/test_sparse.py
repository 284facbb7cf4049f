from groundmcp.sparse import document_vector, query_vector, term_index, tokenize


def test_identifiers_kept_whole_and_split():
    terms = tokenize("parseHTTPResponse(raw_bytes)")
    assert "parsehttpresponse" in terms and "raw_bytes" in terms
    assert {"pars", "http", "respons", "raw", "byte"} <= set(terms)


def test_stop_words_dropped_and_words_stemmed():
    assert tokenize("the connections of a server") == ["connect", "server"]


def test_plain_word_not_duplicated():
    assert tokenize("retry") == ["retri"]


def test_document_weights_saturate_with_repeats():
    once = document_vector("cache")
    many = document_vector("cache " * 20)
    assert once.indices == many.indices == [term_index("cach")]
    assert many.values[0] > once.values[0]
    assert many.values[0] < 2.2 * once.values[0]  # BM25 saturation (k1 = 1.2)


def test_query_vector_has_unit_weights_and_sorted_unique_indices():
    q = query_vector("retry retry backoff")
    assert q.values == [1.0, 1.0]
    assert q.indices == sorted(set(q.indices))


def test_indices_fit_in_u32():
    v = document_vector("alpha beta gamma ünïcödé 日本語 x_y_z fooBar 12 3.5")
    assert all(0 <= i < 2**32 for i in v.indices)
    assert len(v.indices) == len(set(v.indices))


def test_stemming_from_many_threads_gives_the_single_thread_stems() -> None:
    """Ingest workers and searches stem at once; a shared Snowball stemmer mixes their words up."""
    import itertools
    import os
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path

    from groundmcp.sparse import IDENT, stem

    text = " ".join(p.read_text(encoding="utf-8", errors="replace") for p in Path(os.__file__).parent.glob("[a-c]*.py"))
    words = sorted({w.lower() for w in IDENT.findall(text) if w.isalpha()})
    assert len(words) > 2000
    expected = [stem(w) for w in words]

    def run(offset: int) -> list[str]:
        order = words[offset:] + words[:offset]
        return [stem(w) for w in itertools.chain(order, order)][: len(words)]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(run, range(0, 8 * 97, 97)))
    for offset, got in zip(range(0, 8 * 97, 97), results, strict=True):
        assert got == expected[offset:] + expected[:offset]

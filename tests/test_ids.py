"""Identifiers and titles: every form a researcher pastes resolves to one canonical identifier."""

import pytest

from papershelf import ids


@pytest.mark.parametrize("raw, want", [
    ("1706.03762", "1706.03762"),
    ("1706.03762v7", "1706.03762"),
    ("arXiv:1706.03762v2", "1706.03762"),
    ("arxiv:2401.00001", "2401.00001"),
    ("0704.0001v1", "0704.0001"),
    ("hep-th/9901001", "hep-th/9901001"),
    ("hep-th/9901001v3", "hep-th/9901001"),
    ("HEP-TH/9901001", "hep-th/9901001"),
    ("math.GT/0309136", "math.GT/0309136"),
    ("math.gt/0309136v2", "math.GT/0309136"),
])
def test_arxiv_ids_are_versionless(raw, want):
    assert ids.normalize_arxiv(raw) == want


@pytest.mark.parametrize("raw", ["1706.0376", "17060.3762", "hello", "hep-th/990100", ""])
def test_not_arxiv_ids(raw):
    assert ids.normalize_arxiv(raw) is None


@pytest.mark.parametrize("raw, want", [
    ("10.1145/3371158.3371232", ("doi", "10.1145/3371158.3371232")),
    ("https://doi.org/10.1073/PNAS.1414271111", ("doi", "10.1073/pnas.1414271111")),
    ("http://dx.doi.org/10.1073/pnas.1414271111", ("doi", "10.1073/pnas.1414271111")),
    ("doi:10.1007/s10924-010-0192-1", ("doi", "10.1007/s10924-010-0192-1")),
    ("10.48550/arXiv.1706.03762", ("arxiv", "1706.03762")),
    ("https://doi.org/10.48550/ARXIV.2312.07559", ("arxiv", "2312.07559")),
])
def test_doi_forms(raw, want):
    assert ids.normalize("doi", raw) == want


@pytest.mark.parametrize("url, want", [
    ("https://arxiv.org/abs/1706.03762v5", [("arxiv", "1706.03762")]),
    ("https://arxiv.org/pdf/1706.03762v5.pdf", [("arxiv", "1706.03762")]),
    ("https://arxiv.org/pdf/1706.03762", [("arxiv", "1706.03762")]),
    ("https://arxiv.org/html/2310.02279v1", [("arxiv", "2310.02279")]),
    ("https://arxiv.org/abs/hep-th/9901001", [("arxiv", "hep-th/9901001")]),
    ("https://huggingface.co/papers/2310.02279", [("arxiv", "2310.02279")]),
    ("https://openreview.net/forum?id=rJl-b3RcF7", [("openreview", "rJl-b3RcF7")]),
    ("https://aclanthology.org/2021.naacl-main.208/", [("acl", "2021.naacl-main.208")]),
    ("https://aclanthology.org/P19-1001.pdf", [("acl", "P19-1001")]),
    ("https://www.semanticscholar.org/paper/Attention-is-All-you-Need-Vaswani/204e3073870fae3d05bcbc2f6a8e263d9b72e776",
     [("s2", "204e3073870fae3d05bcbc2f6a8e263d9b72e776")]),
    ("https://www.biorxiv.org/content/10.1101/2020.03.01.972687v2.full", [("doi", "10.1101/2020.03.01.972687")]),
    ("https://dl.acm.org/doi/10.1145/3371158.3371232", [("doi", "10.1145/3371158.3371232")]),
    ("https://example.org/blog/post", []),
])
def test_urls_carry_identifiers(url, want):
    assert ids.parse_url(url) == want


def test_parse_identifier_reads_what_users_type():
    assert ids.parse_identifier("arXiv:1706.03762v3") == [("arxiv", "1706.03762")]
    assert ids.parse_identifier("1706.03762") == [("arxiv", "1706.03762")]
    assert ids.parse_identifier("doi:10.1145/X") == [("doi", "10.1145/x")]
    assert ids.parse_identifier("vaswani2017attention") == [("id", "vaswani2017attention"),
                                                           ("key", "vaswani2017attention")]
    assert ids.parse_identifier("key:smith 2020") == [("key", "smith 2020")]
    assert ids.parse_identifier("   ") == []


@pytest.mark.parametrize("a, b", [
    ("Attention Is All You Need", "attention is all you need."),
    ("{BERT}: Pre-training of Deep Bidirectional Transformers", "BERT: pre-training of deep bidirectional transformers"),
    ("Schr\\\"odinger bridges", "Schrödinger Bridges"),
    ("Schrödinger bridges", "Schrodinger bridges"),
    ("On the {\\'E}tude of \\emph{Things}", "On the Étude of Things"),
    ("Déjà vu: a study", "Deja Vu -- A Study"),
    ("  Spaces\tand\nnewlines ", "spaces and newlines"),
])
def test_title_normalisation_equates_forms(a, b):
    assert ids.normalize_title(a) == ids.normalize_title(b)


def test_title_normalisation_keeps_different_titles_apart():
    assert ids.normalize_title("Deep residual learning") != ids.normalize_title("Deep recurrent learning")


@pytest.mark.parametrize("a, b", [("Vaswani, Ashish", "Ashish Vaswani"), ("M{\\\"u}ller, K.", "Klaus Müller"),
                                  ("Müller, K.", "K. Muller")])
def test_first_author_keys(a, b):
    assert ids.author_key(a) == ids.author_key(b) != ""

"""The map of the library (map.py): every embedded paper a point, clusters with telling labels, kept across
restarts and updated as papers come and go, never waiting on a layout."""

import base64

import numpy as np
from papershelf.library import Library
from papershelf.models import Record
from papershelf.search.map import project


def test_every_embedded_paper_is_a_point_in_labelled_clusters(sample_lib):
    first = sample_lib.map.current()  # at once: PCA, while PaCMAP runs in the background
    assert first.method == "pca" and len(first.ids) == 289
    sample_lib.map.wait()
    m = sample_lib.map.current()
    assert m.method == "pacmap" and sorted(m.ids) == sorted(first.ids) and m.laid_out == 289
    assert m.xy.shape == (289, 2) and np.isfinite(m.xy).all() and np.linalg.norm(m.xy, axis=1).max() <= 1.2001
    assert 2 <= len(m.clusters) <= 40 and sum(c.size for c in m.clusters) == 289
    words = {w for c in m.clusters for w in c.label.split(", ")}
    assert all(c.label.count(", ") == 2 for c in m.clusters)
    assert {"moe", "experts", "expert", "retrieval", "llms", "diffusion"} & words, words
    assert not words & {"the", "and", "we", "paper", "propose"}, words
    # Papers of one cluster sit closer together than papers of different clusters.
    inside = np.mean([np.linalg.norm(m.xy[m.cluster == c.id] - m.xy[m.cluster == c.id].mean(0), axis=1).mean()
                      for c in m.clusters])
    assert inside < np.linalg.norm(m.xy - m.xy.mean(0), axis=1).mean()


def test_new_papers_are_placed_among_their_neighbours_and_gone_ones_leave(sample_lib):
    sample_lib.map.current()
    sample_lib.map.wait()
    before = sample_lib.map.current()
    moe = [i for i, c in enumerate(before.cluster) if "moe" in before.clusters[[x.id for x in before.clusters].index(c)].label]
    paper, _ = sample_lib.save(Record(title="Routing tokens to experts in sparse mixture-of-experts transformers",
                                      abstract="A learned gate sends each token to two of 64 experts, with a loss "
                                               "that balances the load across experts."))
    sample_lib.embed_all()
    after = sample_lib.map.current()
    assert paper.id in after.pos and after.laid_out == 289 and len(after.ids) == 290
    i = after.pos[paper.id]
    if moe:  # placed in the mixture-of-experts cluster
        assert after.cluster[i] == before.cluster[moe[0]]
    gone = before.ids[0]
    sample_lib.trash(gone)
    assert gone not in sample_lib.map.current().pos


def test_the_map_is_kept_across_restarts_and_a_damaged_copy_is_laid_out_again(sample_copy):
    lib = Library(sample_copy)
    lib.map.current()
    lib.map.wait()
    kept = lib.map.current()
    lib.close()
    lib = Library(sample_copy)
    again = lib.map.current()
    assert again.method == "pacmap" and again.ids == kept.ids and np.array_equal(again.xy, kept.xy)
    lib.close()
    (sample_copy / "map" / "map.npz").write_bytes(b"not an npz")
    lib = Library(sample_copy)
    assert lib.map.current().method == "pca" and len(lib.map.current().ids) == 289  # laid out again
    lib.map.wait()
    lib.close()


def test_projection_handles_tiny_libraries():
    assert project(np.zeros((0, 384), dtype=np.float32), "pacmap").shape == (0, 2)
    assert project(np.eye(2, 384, dtype=np.float32), "pacmap").shape == (2, 2)


def test_the_api_sends_the_map_in_one_compact_answer(shared_server):
    with shared_server.client() as c:
        m = c.get("/api/map").json()
    n = m["count"]
    assert n == len(m["ids"]) > 0 and m["not_embedded"] >= 0
    x = np.frombuffer(base64.b64decode(m["x"]), dtype="<f4")
    y = np.frombuffer(base64.b64decode(m["y"]), dtype="<f4")
    cluster = np.frombuffer(base64.b64decode(m["cluster"]), dtype="<i2")
    assert len(x) == len(y) == len(cluster) == n and np.isfinite(x).all()
    assert {c["id"] for c in m["clusters"]} == set(cluster.tolist())


def test_the_digest_overlay_is_empty_without_a_digest_and_refuses_a_bad_day(shared_server):
    with shared_server.client() as c:
        assert c.get("/api/map/digest").json() == {"day": None, "ids": [], "titles": [], "links": [], "x": "", "y": ""}
        assert c.get("/api/map/digest", params={"day": "yesterday"}).status_code == 400

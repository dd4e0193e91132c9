"""The embedding model: offline from installed packages, verified, cached per text, never mixed across models."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from papershelf.library import Library
from papershelf.models import Record
from papershelf.search import embed
from papershelf.search.embed import Embedder, ModelError, ModelSpec


def test_model_loads_with_no_network_at_all(tmp_path):
    """In a network namespace with no interfaces up, the model still loads and embeds."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare to cut the network")  # CI runs as root; see the note in README
    code = ("from papershelf.search.embed import Embedder; import sys\n"
            f"e = Embedder({str(tmp_path)!r}); v = e.embed(['offline works'])\n"
            "print(v.shape, round(float((v[0] ** 2).sum()), 3))")
    p = subprocess.run(["unshare", "-n", sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, HF_HUB_OFFLINE="0"))  # hub allowed, network absent: must not matter
    assert p.returncode == 0, p.stderr
    assert "(1, 384) 1.0" in p.stdout


def test_vectors_are_unit_length_and_meaningful(tmp_path):
    e = Embedder(tmp_path)
    v = e.embed(["sparse mixture of experts", "mixture-of-experts routing with sparse gates", "bread recipes"])
    assert v.shape == (3, 384)
    assert np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2
    assert not list(tmp_path.glob("fastembed_cache"))  # nothing left in /tmp-style default caches


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs Linux and two cores to give the process fewer")
def test_the_model_runs_on_the_cores_it_is_given(tmp_path):
    """onnxruntime, left to choose, started a thread per physical core pinned to its core, past the process's
    affinity: under `taskset -c 0` a query still ran on both cores, so the one-core panel benchmark measured a
    machine with two (embed.usable_cores). Every thread of a process given one core stays on it."""
    code = ("import os, json; core = min(os.sched_getaffinity(0)); os.sched_setaffinity(0, {core})\n"
            "from papershelf.search.embed import Embedder\n"
            f"e = Embedder({str(tmp_path)!r}); e.embed(['one core', 'is all it has'])\n"
            "cores = [next(l.split()[1] for l in open(f'/proc/self/task/{t}/status') if l.startswith('Cpus_allowed_list'))"
            " for t in os.listdir('/proc/self/task')]\n"
            "print(json.dumps({'core': str(core), 'threads': e.threads, 'cores': cores}))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    got = __import__("json").loads(p.stdout.splitlines()[-1])
    assert got["threads"] == 1 and len(got["cores"]) >= 2, got
    assert set(got["cores"]) == {got["core"]}, got


def test_the_models_threads_sleep_while_they_wait_instead_of_spinning(tmp_path):
    """On 2 cores shared with the browser, spinning onnxruntime threads doubled a page's embedding time at p95
    (embed._threads_that_sleep). This fails if a fastembed upgrade stops building its session from
    onnxruntime.SessionOptions()."""
    import onnxruntime as ort

    e = Embedder(tmp_path)
    e.embed(["load the model"])
    options = e._model.model.model.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    with pytest.raises(RuntimeError, match="does not have configuration"):  # onnxruntime's own class is put back
        ort.SessionOptions().get_session_config_entry("session.intra_op.allow_spinning")


def test_the_sample_is_imported_with_the_models_own_shipped_vectors_and_embeds_nothing(tmp_path):
    """The sample comes with its vectors (tools/make_sample_vectors.py): importing it loads no model. They are
    the model's own: any shipped vector differs from the one the model computes now in rounding only, and a
    sample, text or model that changed without `make sample-vectors` fails here."""
    from papershelf.library import sample_path

    lib = Library(tmp_path / "home")
    try:
        lib.import_path(sample_path())
        texts = [text for _, text, _ in lib.store.pending(lib.model_id, limit=1000)]
        assert len(texts) == 289 and lib.embed_all() == 289
        assert not lib.bulk_embedder.loaded and not lib.embedder.loaded
        assert lib.store.count_pending(lib.model_id) == 0
        shipped = lib.store.vectors(lib.model_id)[1]
    finally:
        lib.close()
    assert set(embed.shipped_vectors(embed.ModelSpec().model_id)) == \
        {__import__("hashlib").sha256(t.encode()).hexdigest() for t in texts}  # exactly the sample's texts
    some = list(np.random.default_rng(7).choice(len(texts), 6, replace=False))
    fresh = Embedder(tmp_path / "cache", shipped=False).embed([texts[i] for i in some])
    stored = Embedder(tmp_path / "cache").embed([texts[i] for i in some] + ["a text the sample does not hold"])
    assert np.allclose(stored[:6], fresh, atol=1e-5)
    assert stored.shape == (7, 384) and abs(float(stored[6] @ stored[6]) - 1) < 1e-4  # the rest is computed
    assert np.isclose(np.sort(shipped @ fresh.T, axis=0)[-1], 1, atol=1e-5).all()  # what the library stored
    assert embed.shipped_vectors("some-other-model@000000000000") == {}


def test_a_text_given_twice_is_embedded_once(tmp_path, monkeypatch):
    e = Embedder(tmp_path)
    computed: list[list[str]] = []
    plain = e._embed
    monkeypatch.setattr(e, "_embed", lambda texts: computed.append(texts) or plain(texts))
    v = e.embed(["This page intentionally left blank.", "Results", "This page intentionally left blank."])
    assert computed == [["This page intentionally left blank.", "Results"]]
    assert v.shape == (3, 384) and np.array_equal(v[0], v[2]) and not np.array_equal(v[0], v[1])


def test_one_library_after_another_in_a_process_loads_the_lookups_model_once(tmp_path):
    """`papershelf mcp` without a server opens the library for each call: its lookups' model is loaded once in the
    process, not at every call (0.4 s of CPU and more each). The background's sessions stay each its own."""
    first, second = Embedder(tmp_path, threads=1), Embedder(tmp_path, threads=1)
    first.embed_one("loaded once")
    assert not second.loaded
    second.embed_one("and used again")
    assert second._model is first._model
    other_threads, bulk = Embedder(tmp_path, threads=2), Embedder(tmp_path, threads=1, bulk=True)
    other_threads.embed_one("a session of its own")
    bulk.embed_one("a session of its own")
    assert other_threads._model is not first._model and bulk._model is not first._model
    first.unload()  # let go: the next library loads it again
    third = Embedder(tmp_path, threads=1)
    third.embed_one("loaded again")
    assert third._model is not second._model
    bulk.unload()
    other_threads.unload()
    third.unload()


def test_damaged_weights_are_refused_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setattr(embed, "DEFAULT_WEIGHTS_SHA256", "0" * 64)
    e = Embedder(tmp_path)
    with pytest.raises(ModelError, match="damaged or not the expected file.*pip install"):
        e.embed(["x"])


def test_missing_weights_are_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(embed, "default_weights", lambda: tmp_path / "nope" / "model.onnx")
    with pytest.raises(ModelError, match="missing"):
        ModelSpec().verify()


def test_model_dir_needs_its_files(tmp_path):
    (tmp_path / "m").mkdir()
    with pytest.raises(ModelError, match="No .onnx file"):
        ModelSpec(tmp_path / "m")


def test_unchanged_text_is_never_embedded_again(tmp_path, monkeypatch):
    lib = Library(tmp_path / "h")
    calls = []
    for embedder in (lib.embedder, lib.bulk_embedder):  # the background's session and the lookups'
        monkeypatch.setattr(embedder, "embed", lambda texts, real=embedder.embed: calls.append(len(texts)) or real(texts))
    lib.import_items([("1", Record(title="Paper about sparse routing", abstract="Experts and gates.",
                                   identifiers=["arxiv:2301.00011"]))])
    lib.import_items([("2", Record(title="Paper about diffusion", abstract="Noise and denoising."))])
    lib.embed_all()
    assert sum(calls) == 2
    # The same text again, tags added: no new vector.
    lib.import_items([("1", Record(title="Paper about sparse routing", abstract="Experts and gates.",
                                   identifiers=["arxiv:2301.00011"], tags=["moe"]))])
    lib.embed_all()
    assert sum(calls) == 2
    # A longer abstract is new text: exactly that paper is embedded again.
    lib.import_items([("1", Record(title="Paper about sparse routing", abstract="Experts and gates, at scale.",
                                   identifiers=["arxiv:2301.00011"]))])
    assert lib.stats().pending == 1
    lib.embed_all()
    assert sum(calls) == 3 and lib.stats().pending == 0
    lib.close()


def same_model_elsewhere(tmp_path: Path) -> Path:
    """The shipped model's files under another folder name: another model id (a user's --model-dir)."""
    other = tmp_path / "other-model"
    other.mkdir()
    spec = ModelSpec()
    os.symlink(spec.onnx, other / "model.onnx")
    for f in embed.TOKENIZER_FILES:
        os.symlink(spec.files_dir / f, other / f)
    return other


def test_switching_models_re_embeds_and_never_mixes(tmp_path):
    home = tmp_path / "h"
    lib = Library(home)
    lib.import_items([("1", Record(title="First paper on graphs", abstract="Graphs."))])
    lib.embed_all()
    default_id = lib.model_id
    lib.close()
    other = same_model_elsewhere(tmp_path)
    lib = Library(home, model_dir=other)
    assert lib.model_id != default_id and lib.model_id.startswith("other-model@")
    assert lib.stats().pending == 1  # the old model's vector does not count for the new one
    lib.embed_all()
    ids_, mat = lib.store.vectors(lib.model_id)
    assert len(ids_) == 1
    assert len(lib.store.vectors(default_id)[0]) == 1  # both models' vectors kept, each in its own index
    assert lib.related_text("graphs", k=1)[0].title == "First paper on graphs"
    lib.close()


def test_the_background_embeds_at_low_priority_and_lets_its_model_go_when_idle(tmp_path, monkeypatch):
    """The lookups' model session runs at normal priority; the background's own session, and the worker thread
    that feeds it, at nice 10 (Linux keeps a nice value per thread), and it is let go after a while idle."""
    import os
    import sys
    import time

    import papershelf.library as library

    monkeypatch.setattr(library, "UNLOAD_AFTER", 1.0)
    lib = Library(tmp_path / "h")

    def niced_threads() -> set[str]:
        """This process's threads at nice 10 (an earlier test's may still be there: only new ones count)."""
        out = set()
        for t in os.listdir("/proc/self/task"):
            try:
                if int(open(f"/proc/self/task/{t}/stat").read().rsplit(")", 1)[1].split()[16]) == 10:
                    out.add(t)
            except OSError:
                pass  # ended meanwhile
        return out

    lib.embedder.embed_one("a query first, on the lookups' session")
    before = niced_threads()
    lib.worker.start()
    lib.import_items([("1", Record(title="A paper embedded in the background", abstract="Words about things."))])
    deadline = time.time() + 60
    while lib.stats().pending and time.time() < deadline:
        time.sleep(0.05)
    assert lib.stats().pending == 0 and lib.bulk_embedder.loaded
    if sys.platform.startswith("linux"):
        assert len(niced_threads() - before) >= 2  # the worker and the background session's threads
        assert os.getpriority(os.PRIO_PROCESS, 0) == 0  # the process itself (the server's threads) is not lowered
    while lib.bulk_embedder.loaded and time.time() < deadline:
        time.sleep(0.2)
    assert not lib.bulk_embedder.loaded
    lib.import_items([("2", Record(title="Another paper, after the model was let go", abstract="More words."))])
    while lib.stats().pending and time.time() < deadline:
        time.sleep(0.05)
    assert lib.stats().embedded == 2  # loaded again for it
    lib.close()


def _runs_seen(monkeypatch):
    """Each run of the background session, as it starts and how it ends (returned or raised)."""
    import threading

    started, ended = threading.Event(), []
    run = embed._InterruptibleSession.run

    def watched(self, *args, **kwargs):
        started.set()
        try:
            out = run(self, *args, **kwargs)
        except Exception as e:
            ended.append(type(e).__name__)
            raise
        ended.append("returned")
        return out

    monkeypatch.setattr(embed._InterruptibleSession, "run", watched)
    return started, ended


def test_interrupt_ends_the_background_sessions_run_in_flight(tmp_path, monkeypatch):
    """One run of 150 long texts takes seconds; interrupted, it ends at once with no vector, and so does every
    later embedding. (Not more texts: a run's memory grows with them, and uninterrupted it would all be used.)"""
    import threading

    from corpus import generated_papers

    bulk = Embedder(tmp_path, bulk=True, shipped=False)
    bulk.embed(["loaded first"])
    monkeypatch.setattr(embed, "BATCH_SIZE", 4096)  # all the texts in one run
    started, ended = _runs_seen(monkeypatch)
    texts = [f"{d['title']}. {d['abstract']} {d['abstract']}" for d in generated_papers(150)]
    out: dict = {}

    def embed_all():
        try:
            out["vectors"] = bulk.embed(texts)
        except Exception as e:
            out["error"] = e

    t = threading.Thread(target=embed_all)
    t.start()
    assert started.wait(60)
    bulk.interrupt()
    t.join(120)
    assert isinstance(out.get("error"), embed.EmbeddingInterrupted), out
    assert ended and ended[0] != "returned", ended  # the run itself was ended, not finished
    with pytest.raises(embed.EmbeddingInterrupted):
        bulk.embed(["anything later"])


def test_closing_a_library_abandons_the_batch_in_flight_and_its_papers_wait_for_the_next_start(tmp_path, monkeypatch):
    """A server asked to stop while its worker embeds does not wait for the batch: nothing of it is written,
    and its papers are embedded after the next start."""
    import papershelf.library as library
    from corpus import generated_papers

    monkeypatch.setattr(library, "SETTLE", 0)
    lib = Library(tmp_path / "h")
    lib.import_items([(str(i), Record(title=d["title"], abstract=d["abstract"]))
                      for i, d in enumerate(generated_papers(120))])
    assert lib.stats().pending == 120
    lib.bulk_embedder.embed(["loaded first"])
    monkeypatch.setattr(embed, "BATCH_SIZE", 4096)
    started, ended = _runs_seen(monkeypatch)
    lib.worker.embed_batch = lambda: lib.embed_batch(size=120)  # all of them in one batch: one run of seconds
    lib.worker.start()
    assert started.wait(60)
    lib.close()
    assert ended and ended[0] != "returned", ended
    lib = Library(tmp_path / "h")
    assert lib.stats().pending == 120  # no vector of the abandoned batch was stored
    assert lib.embed_batch(size=4) == 4 and lib.stats().pending == 116  # and they are embedded as any other
    lib.close()

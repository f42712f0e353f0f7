"""What writes and checks files: atomic writes, sha256 digests, checkpoint checksums, a command's output folder and
a training workdir's layout.

These modules import nothing of vosjax but `vosjax.errors` and each other, so every layer may use them."""

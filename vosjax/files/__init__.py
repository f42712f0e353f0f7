"""What writes and checks files: atomic writes, sha256 digests, checkpoint checksums and a command's output folder.

These modules import nothing of vosjax but `vosjax.errors` and each other, so every layer may use them."""

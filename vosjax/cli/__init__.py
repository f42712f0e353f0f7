"""What serves the command line: the one error path of every entry point (`entry_point`), argument parsing for the
`python -m vosjax.*` commands, the progress line, XLA defaults and the multi-host flags.

These modules import nothing of vosjax but `vosjax.errors`, so the library layers (evaluation's progress line,
training's durations) may use them without importing an entry point."""

"""Layer 1, core: the one door for commands (host, journal), signals, errors, plans with
undo, preflight checks, progress and sizes. Imports nothing else of lvmkit."""

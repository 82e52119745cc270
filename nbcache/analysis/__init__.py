"""Step 1 of a cached cell, before anything runs: which names it reads, binds, deletes and may mutate
(``names``), which files it names by a literal path (``paths``), and which calls no key can capture
(``determinism``)."""

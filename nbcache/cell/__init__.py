"""Step 3: one run of a cached cell (``run``): execute it as IPython would (``execute``), record and replay what
it shows (``capture``), and keep the objects a real run would share with the namespace (``aliases``)."""

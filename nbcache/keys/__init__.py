"""Step 2: a cell's inputs reduced to one key. Values are hashed by content (``values``, arrays and frames in
``arrays``), code by its source (``modules``), files by their bytes (``files``); ``cellkey`` puts them together and
``reasons`` says in words what differs from a cell's previous key."""

"""IPython's side: the extension entry, the magics, and the opt-in autoload of the extension in a profile."""

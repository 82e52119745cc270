"""nbcache: cache expensive notebook cells by what they depend on."""

"""``nbcache run``: notebooks executed headless in a real kernel, every cell in auto mode."""

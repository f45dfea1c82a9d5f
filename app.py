"""Care Models Lab: the entry point. The frame (pages/frame.py) draws navigation and the sidebar
and runs the chosen page."""

from lib import memory
from pages import frame

memory.keep_freed_memory()  # once per process (lib/memory.py says why)
frame.run()

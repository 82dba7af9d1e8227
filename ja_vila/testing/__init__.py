"""Fixtures shared by the test suite and the demo: synthetic images, a loopback image server, tiny models.

Import the submodules directly (``from ja_vila.testing.image_server import ImageServer``); this package
imports nothing heavy on its own.
"""

"""Loopback stand-ins for the web and for an LLM endpoint, which the demo, benchmarks and tests start.

- :mod:`~ja_vila.servers.image_server`: serves generated (and deliberately misbehaving) images
  for the mini-crawl's URLs.
- :mod:`~ja_vila.servers.openai_server`: a scripted OpenAI-compatible server (answers built from
  the request; scripted failures on demand).
- :mod:`~ja_vila.servers.evolve_server`: the same server taught ``ja-vila evolve``'s answer shapes
  (the tiny preset's ``base_url: scripted``, the demo, the tests).
- :mod:`~ja_vila.servers.loopback_server`: the threaded 127.0.0.1 server both run on.

App layer: library code (``dataset_builders``, ``training``, ``eval``, ``model_cards``) never
imports these; it is given a URL.
"""

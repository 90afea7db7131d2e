"""Helpers shared by test modules (test modules never import each other).

One module per family of tests: ``tiny`` (a hand-made BuildContext and a tiny ensemble),
``agent``, ``ampl_damo``, ``model``, ``romi``, ``vipo``. Import as
``from tests.helpers.tiny import make_ctx`` (the repository root is on pytest's path).
"""

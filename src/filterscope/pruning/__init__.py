"""Pruning by the filters' clusters (AFCC, arXiv 2501.12880): connection masks and their controls
(``rules``, pure), and holding masks on a model's layers through training (``hold``)."""

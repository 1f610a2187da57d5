"""The five pipeline stages as library functions ``run(cfg) -> dict``; pipeline/ wires them."""

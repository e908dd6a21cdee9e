"""The libraries this kit's notebooks import: the kernels' zygote (``c.Sandbox.preload``) and the grading
workers' fork server (grading/forkserver.py, for the referee's run of the given cells) import them once.

Standard library only: the fork server's list is read before nbgrader is imported.
"""
NOTEBOOK_LIBRARIES = ["numpy", "matplotlib.pyplot", "sklearn.datasets", "sklearn.model_selection", "sklearn.metrics"]

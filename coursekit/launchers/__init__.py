"""What a person opens: JupyterLab for students (lab.py) and instructors, and the demo (demo.py)."""

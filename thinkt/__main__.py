"""Run the thinkt CLI as ``python -m thinkt``."""

from thinkt.cli import main

# Guarded: a process that imports this module (a wrapper script, or multiprocessing
# preparing a child from it) must not run the CLI a second time.
if __name__ == "__main__":
    main()

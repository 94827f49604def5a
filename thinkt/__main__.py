"""Run the thinkt CLI as ``python -m thinkt``."""

from thinkt.cli import main

main()

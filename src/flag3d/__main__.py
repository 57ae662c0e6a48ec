"""``python -m flag3d`` runs the command line."""

from flag3d.cli import main

if __name__ == "__main__":
    main()

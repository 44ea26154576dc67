"""`python -m eggan ...` (and `torchrun -m eggan ...`) runs the command-line interface."""

from eggan.cli.main import main

if __name__ == "__main__":
    main()

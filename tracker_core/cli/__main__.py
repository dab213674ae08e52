"""``python -m tracker_core.cli``: the ``tracker`` command."""

from . import main

if __name__ == "__main__":
    main()

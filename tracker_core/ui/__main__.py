"""``python -m tracker_core.ui [--store URL] [--host H] [--port N] [--allow-edits]``."""

from ..cli._ui import ui_command

if __name__ == "__main__":
    ui_command.main(prog_name="python -m tracker_core.ui", obj=None)

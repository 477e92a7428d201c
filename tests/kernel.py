"""Running notebook cells in a real Jupyter kernel (nbclient, ipykernel: dev extras)."""

from __future__ import annotations

from nbclient import NotebookClient


class RecordingClient(NotebookClient):
    """Also keeps the ``update_display_data`` messages, which change outputs in place."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.updates = []

    def process_message(self, msg, cell, cell_index):
        if msg["msg_type"] == "update_display_data":
            self.updates.append(msg["content"])
        return super().process_message(msg, cell, cell_index)
